// A test client on the `ws` package: frames queue up until read, so a test reads replies in order
// without racing the socket's events; close and unexpected HTTP responses are promises too.
import WebSocket from "ws";

export interface Closed {
  code: number;
  reason: string;
}

export class TestClient {
  readonly socket: WebSocket;
  readonly opened: Promise<void>;
  readonly closed: Promise<Closed>;
  readonly #frames: Array<string | Buffer> = [];
  readonly #waiters: Array<(frame: string | Buffer) => void> = [];

  constructor(url: string) {
    this.socket = new WebSocket(url);
    this.socket.on("message", (data: Buffer, isBinary: boolean) => {
      const frame = isBinary ? data : data.toString("utf8");
      const waiter = this.#waiters.shift();
      if (waiter !== undefined) waiter(frame);
      else this.#frames.push(frame);
    });
    this.opened = new Promise((resolve, reject) => {
      this.socket.once("open", () => resolve());
      this.socket.once("error", reject);
      this.socket.once("unexpected-response", (_req, res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (body += chunk));
        res.on("end", () => reject(new Error(`HTTP ${res.statusCode}: ${body}`)));
      });
    });
    this.opened.catch(() => undefined);
    this.closed = new Promise((resolve) => this.socket.once("close", (code, reason) => resolve({ code, reason: reason.toString("utf8") })));
  }

  static async open(url: string): Promise<TestClient> {
    const client = new TestClient(url);
    await client.opened;
    return client;
  }

  /** The next frame (string for text, Buffer for binary); rejects after `ms`. */
  next(ms = 5000): Promise<string | Buffer> {
    const queued = this.#frames.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.#waiters.indexOf(waiter);
        if (i >= 0) this.#waiters.splice(i, 1);
        reject(new Error(`no frame within ${ms} ms`));
      }, ms);
      const waiter = (frame: string | Buffer) => {
        clearTimeout(timer);
        resolve(frame);
      };
      this.#waiters.push(waiter);
    });
  }

  async nextText(ms?: number): Promise<string> {
    const frame = await this.next(ms);
    if (typeof frame !== "string") throw new Error(`expected a text frame, got ${frame.length} binary bytes`);
    return frame;
  }

  async nextJson<T = Record<string, unknown>>(ms?: number): Promise<T> {
    return JSON.parse(await this.nextText(ms)) as T;
  }

  /** Sends a JSON command and returns the parsed reply. */
  async ask<T = Record<string, unknown>>(command: unknown): Promise<T> {
    this.socket.send(JSON.stringify(command));
    return this.nextJson<T>();
  }

  /** Frames received and not read yet. */
  get pending(): number {
    return this.#frames.length;
  }

  send(data: string | Buffer): void {
    this.socket.send(data);
  }

  /** Closes (or terminates, if the handshake does not finish within 2 s) and waits for the close. */
  async close(code?: number, reason?: string): Promise<Closed> {
    if (this.socket.readyState === WebSocket.CONNECTING || this.socket.readyState === WebSocket.OPEN) this.socket.close(code, reason);
    const timer = setTimeout(() => this.socket.terminate(), 2000);
    try {
      return await this.closed;
    } finally {
      clearTimeout(timer);
    }
  }
}
