// The calling side of one connection to one slot (host, isolate): assigns question ids, matches answers,
// (re)connects lazily, and fails every call in flight with a retryable error when the peer goes away.
import { ErrorCode, SourdoughError } from "../errors.ts";
import { FrameConnection } from "../transport/frame-connection.ts";
import type { Pipe } from "../transport/pipe.ts";
import { CallKind, ControlWhich, Which, type Message, type TargetCache } from "../wire/envelope.ts";
import { decodePayload } from "../wire/payload.ts";
import { errorFromWire } from "./remote-error.ts";

export interface CallTarget extends TargetCache {
  namespace: string;
  objectId: string;
  name: string | undefined;
}

/** Opens a pipe to the slot; rejects with `retry: true` on errors worth retrying (socket not there yet). */
export type Dial = () => Promise<Pipe>;

export interface RpcClientOptions {
  /** Human-readable name of the peer, for error messages, e.g. "host 1 isolate 0". */
  peer: string;
  /** How long to keep trying to connect before failing calls. */
  connectTimeoutMs: number;
  maxFrameBytes?: number;
  /** Holds outgoing calls until the writes made before them are committed (an object's output gate). */
  outputGate?: OutputGate;
}

/** Cloudflare's output gate, as seen by a sender: what it sends waits for pending writes to commit. */
export interface OutputGate {
  /**
   * Calls `release` once every write made so far is committed, or with the error when a commit
   * failed: then what was held must not be sent.
   */
  afterCommit(release: (error: Error | undefined) => void): void;
}

/** Turns a Return payload into the result: msgpackr, or a generated codec's decodeResult. */
export type ResultDecoder = (payload: Uint8Array, where: string) => unknown;

/** The msgpackr path, for classes without generated codecs. */
export const decodeMsgpackResult: ResultDecoder = (payload, where) => decodePayload(payload, `${where} result`);

interface Question {
  resolve(value: unknown): void;
  reject(error: Error): void;
  where: string;
  decode: ResultDecoder;
}

interface Unsent {
  id: number;
  kind: CallKind;
  target: CallTarget;
  method: string;
  methodId: number;
  payload: Uint8Array;
}

export class RpcClient {
  readonly #dial: Dial;
  readonly #options: RpcClientOptions;
  readonly #questions = new Map<number, Question>();
  #nextId = 1;
  #conn: FrameConnection | undefined;
  #connecting: Promise<void> | undefined;
  #unsent: Unsent[] = [];
  #held: Unsent[] = []; // waiting for the output gate
  #closed = false;
  #goodbye: string | undefined; // why the peer said it is closing the connection, if it did

  constructor(dial: Dial, options: RpcClientOptions) {
    this.#dial = dial;
    this.#options = options;
  }

  /** True once close() was called: the owner must hand out a fresh client (or an error). */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Sends one call; resolves with the decoded result or rejects with the callee's error. `methodId`
   * is the generated method id (0: by name, msgpackr payload); `decode` reads the result payload.
   */
  call(kind: CallKind, target: CallTarget, method: string, methodId: number, payload: Uint8Array, where: string, decode: ResultDecoder = decodeMsgpackResult): Promise<unknown> {
    if (this.#closed) {
      return Promise.reject(new SourdoughError(ErrorCode.CLOSED, `${where}: the client was closed. Create a new coordinator or stub.`));
    }
    const id = this.#nextId;
    this.#nextId = id === 0xffffffff ? 1 : id + 1;
    const promise = new Promise<unknown>((resolve, reject) => this.#questions.set(id, { resolve, reject, where, decode }));
    const gate = this.#options.outputGate;
    if (gate !== undefined) {
      if (this.#held.push({ id, kind, target, method, methodId, payload }) === 1) gate.afterCommit(this.#release);
      return promise;
    }
    const conn = this.#conn;
    if (conn !== undefined && !conn.closed) {
      conn.writer.writeCall(id, kind, methodId, target.namespace, target.objectId, method, payload, target.name, target);
      conn.flushSoon();
    } else {
      this.#unsent.push({ id, kind, target, method, methodId, payload });
      this.#connect();
    }
    return promise;
  }

  // The output gate opened: send what it held (in one write), or fail it if a commit failed.
  readonly #release = (error: Error | undefined): void => {
    const held = this.#held;
    this.#held = [];
    if (held.length === 0 || this.#closed) return;
    if (error !== undefined) {
      for (const u of held) {
        const q = this.#take(u.id);
        q?.reject(new SourdoughError(ErrorCode.STORAGE, `${q.where}: not sent: ${error.message}`, { cause: error, retryable: true }));
      }
      return;
    }
    const conn = this.#conn;
    if (conn === undefined || conn.closed) {
      this.#unsent.push(...held);
      this.#connect();
      return;
    }
    for (const u of held) {
      if (!this.#questions.has(u.id)) continue;
      conn.writer.writeCall(u.id, u.kind, u.methodId, u.target.namespace, u.target.objectId, u.method, u.payload, u.target.name, u.target);
    }
    conn.flush();
  };

  /** Fails all calls in flight and closes the connection. */
  close(reason = "the client was closed"): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#failAll(ErrorCode.CLOSED, reason, false);
    this.#conn?.end();
    this.#conn = undefined;
  }

  #connect(): void {
    if (this.#connecting !== undefined) return;
    this.#connecting = this.#establish().finally(() => (this.#connecting = undefined));
  }

  async #establish(): Promise<void> {
    const deadline = Date.now() + this.#options.connectTimeoutMs;
    let lastError: unknown;
    for (let attempt = 0; !this.#closed; attempt++) {
      try {
        const pipe = await this.#dial();
        if (this.#closed) {
          pipe.destroy();
          return;
        }
        this.#attach(pipe);
        return;
      } catch (error) {
        lastError = error;
        if (Date.now() >= deadline) break;
        await new Promise((r) => setTimeout(r, Math.min(5 * 2 ** attempt, 100)));
      }
    }
    if (this.#closed) return;
    const why = lastError instanceof Error ? lastError.message : String(lastError);
    this.#failAll(
      ErrorCode.HOST_UNAVAILABLE,
      `could not reach ${this.#options.peer} within ${this.#options.connectTimeoutMs} ms (${why}). The host may be restarting; retry the call`,
      true,
    );
  }

  #attach(pipe: Pipe): void {
    const conn = new FrameConnection(
      pipe,
      { message: (m) => this.#onMessage(m), close: (error) => this.#onClose(conn, error) },
      this.#options.maxFrameBytes,
    );
    this.#conn = conn;
    const unsent = this.#unsent;
    this.#unsent = [];
    for (const u of unsent) {
      if (!this.#questions.has(u.id)) continue;
      conn.writer.writeCall(u.id, u.kind, u.methodId, u.target.namespace, u.target.objectId, u.method, u.payload, u.target.name, u.target);
    }
    conn.flushSoon();
  }

  #onMessage(message: Message): void {
    switch (message.which) {
      case Which.Return: {
        const q = this.#take(message.questionId);
        if (q === undefined) return;
        try {
          q.resolve(q.decode(message.payload, q.where));
        } catch (error) {
          q.reject(error as Error);
        }
        return;
      }
      case Which.Exception: {
        const q = this.#take(message.questionId);
        q?.reject(errorFromWire(message));
        return;
      }
      case Which.Control:
        if (message.control === ControlWhich.Goodbye) this.#goodbye = message.reason;
        return;
      case Which.Call:
      case Which.Cancel:
        return; // a callee never sends these to a caller today; ignore rather than guess
    }
  }

  #take(id: number): Question | undefined {
    const q = this.#questions.get(id);
    if (q !== undefined) this.#questions.delete(id);
    return q;
  }

  #onClose(conn: FrameConnection, error: Error | undefined): void {
    if (this.#conn === conn) this.#conn = undefined;
    const detail = this.#goodbye ?? error?.message;
    this.#goodbye = undefined;
    const why = detail ? `: ${detail}` : "";
    this.#failAll(
      ErrorCode.HOST_UNAVAILABLE,
      `connection to ${this.#options.peer} closed with the call in flight${why}. The call may or may not have run; retry if it is idempotent`,
      true,
    );
  }

  #failAll(code: ErrorCode, reason: string, retryable: boolean): void {
    if (this.#questions.size === 0) return;
    const questions = [...this.#questions.values()];
    this.#questions.clear();
    this.#unsent = [];
    this.#held = [];
    for (const q of questions) q.reject(new SourdoughError(code, `${q.where}: ${reason}.`, { retryable }));
  }
}
