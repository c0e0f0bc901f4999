// A WebSocket test client on the `ws` package, shared by the integration and engine suites: frames
// queue up in arrival order until read, so a test reads replies in order without racing the
// socket's events; how the socket closed and a refused upgrade (HTTP status and body) are promises.
import WebSocket from "ws";

export interface Closed {
  code: number;
  reason: string;
}

export class TestClient {
  readonly ws: WebSocket;
  /** Every frame in arrival order: a string for text, a Buffer for binary. */
  readonly received: Array<string | Buffer> = [];
  readonly closed: Promise<Closed>;
  /** The headers of the 101 response. */
  headers: Record<string, string | string[] | undefined> = {};
  #read = 0;
  #wake: (() => void) | undefined;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.once("upgrade", (res) => (this.headers = res.headers));
    ws.on("error", () => {}); // reported through open() or `closed`; never an uncaught 'error' event
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      this.received.push(isBinary ? data : data.toString("utf8"));
      this.#wake?.();
    });
    this.closed = new Promise((resolve) => ws.on("close", (code, reason) => {
      resolve({ code, reason: reason.toString("utf8") });
      this.#wake?.();
    }));
  }

  /** Opens a socket to `url`; rejects with the HTTP status and body if the upgrade is refused. */
  static open(url: string, protocols?: string[]): Promise<TestClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, protocols);
      const client = new TestClient(ws);
      ws.once("open", () => resolve(client));
      ws.once("error", reject);
      ws.once("unexpected-response", (_req, res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (body += chunk));
        res.on("end", () => reject(new Error(`HTTP ${res.statusCode}: ${body}`)));
      });
    });
  }

  send(data: string | Uint8Array): void {
    this.ws.send(data);
  }

  /** The next frame not read yet; rejects after `timeoutMs` or when the socket closed first. */
  async nextFrame(timeoutMs = 10_000): Promise<string | Buffer> {
    const deadline = Date.now() + timeoutMs;
    while (this.#read >= this.received.length) {
      if (this.ws.readyState === WebSocket.CLOSED) throw new Error(`socket closed while waiting for a message (read ${this.#read})`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no message within ${timeoutMs} ms (received so far: ${JSON.stringify(this.received.slice(-5))})`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
    }
    return this.received[this.#read++]!;
  }

  /** The next frame, which must be a text frame. */
  async next(timeoutMs?: number): Promise<string> {
    const frame = await this.nextFrame(timeoutMs);
    if (typeof frame !== "string") throw new Error(`expected a text frame, got ${frame.length} binary bytes`);
    return frame;
  }

  async nextJson<T = Record<string, unknown>>(timeoutMs?: number): Promise<T> {
    return JSON.parse(await this.next(timeoutMs)) as T;
  }

  /** Sends a JSON command and returns the parsed reply. */
  async ask<T = Record<string, unknown>>(command: unknown): Promise<T> {
    this.send(JSON.stringify(command));
    return this.nextJson<T>();
  }

  /** Reads text frames until one matches. */
  async until(predicate: (m: string) => boolean, timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = await this.next(Math.max(1, deadline - Date.now()));
      if (predicate(m)) return m;
    }
  }

  /** Frames received and not read yet. */
  get pending(): number {
    return this.received.length - this.#read;
  }

  /** Closes (or terminates, if the closing handshake does not finish within 2 s) and waits for the close. */
  async close(code?: number, reason?: string): Promise<Closed> {
    if (this.ws.readyState === WebSocket.CONNECTING || this.ws.readyState === WebSocket.OPEN) this.ws.close(code, reason);
    const timer = setTimeout(() => this.ws.terminate(), 2000);
    try {
      return await this.closed;
    } finally {
      clearTimeout(timer);
    }
  }
}
