// A WebSocket test client (the `ws` package): messages in arrival order, awaited one at a time, and
// how the socket closed.
import WebSocket from "ws";

export interface Closed {
  code: number;
  reason: string;
}

export class TestClient {
  readonly ws: WebSocket;
  readonly received: string[] = [];
  readonly closed: Promise<Closed>;
  /** The headers of the 101 response. */
  headers: Record<string, string | string[] | undefined> = {};
  #read = 0;
  #wake: (() => void) | undefined;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.once("upgrade", (res) => (this.headers = res.headers));
    ws.on("error", () => {}); // reported through open() or `closed`; never an uncaught 'error' event
    ws.on("message", (data, isBinary) => {
      this.received.push(isBinary ? `bin:${Buffer.from(data as Buffer).toString("hex")}` : (data as Buffer).toString("utf8"));
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
        res.on("data", (chunk: Buffer) => (body += chunk.toString()));
        res.on("end", () => reject(new Error(`HTTP ${res.statusCode}: ${body}`)));
      });
    });
  }

  send(data: string | Uint8Array): void {
    this.ws.send(data);
  }

  /** The next message not read yet; rejects after `timeoutMs` or when the socket closed first. */
  async next(timeoutMs = 10_000): Promise<string> {
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

  /** Reads messages until one matches. */
  async until(predicate: (m: string) => boolean, timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = await this.next(Math.max(1, deadline - Date.now()));
      if (predicate(m)) return m;
    }
  }

  close(): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close();
  }
}
