// The calling side of one connection to one slot (host, isolate): assigns question ids, matches answers,
// (re)connects lazily, fails every call in flight with a retryable error when the peer goes away, and
// enforces deadlines and AbortSignals: a call given up on is forgotten and a Cancel is sent for it.
import { ErrorCode, SourdoughError } from "../errors.ts";
import { FrameConnection } from "../transport/frame-connection.ts";
import type { Pipe } from "../transport/pipe.ts";
import { IdTable } from "../util/id-table.ts";
import { CallKind, ControlWhich, Which, type CallMessage, type Message, type TargetCache } from "../wire/envelope.ts";
import { DEFAULT_MAX_CALL_BYTES, callTooLarge } from "../wire/limits.ts";
import { decodeCallPayload, decodeCallValue, encodeCallPayload, takeImported } from "../wire/payload.ts";
import { CapSession, disposeAll, registerWireSession, type CapWire, type RpcHandle } from "./capabilities.ts";
import { errorFromWire, errorToWire } from "./remote-error.ts";
import { fitStreamReadsTo } from "./streams.ts";

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
  /** Largest encoded arguments of one call; larger ones are refused with ERR_TOO_LARGE before sending. */
  maxCallBytes?: number;
  /** Holds outgoing calls until the writes made before them are committed (an object's output gate). */
  outputGate?: OutputGate;
  /** Deadline of every call in ms, unless the call carries its own `timeoutMs`. Default: none. */
  callTimeoutMs?: number | undefined;
  /**
   * Why the peer went away, if it recorded it at or after `since` (ms since the epoch): looked up
   * when the connection closes with calls in flight, so they fail with the real reason.
   */
  whyDown?: (since: number) => PeerDown | undefined;
  /** Most functions and RpcTargets this side exports on one connection at once (default 10,000). */
  maxExports?: number;
  /** serve()'s WebSocket gateway, when this process has one (read at each use: it registers late). */
  webSockets?: () => WebSocketPeer | undefined;
}

/**
 * The side of serve()'s WebSocket gateway that the RPC layer talks to (runtime/websocket/gateway.ts
 * implements it): the isolate's operations on client sockets arrive as one-way WebSocket Calls, and
 * a new connection must first tell the isolate which sockets its objects hold.
 */
export interface WebSocketPeer {
  /** A one-way WebSocket Call (questionId 0) the isolate sent: send, close, attach, auto. */
  operation(message: CallMessage, client: RpcClient): void;
  /** A connection was attached: calls made now are written before those that waited for it. */
  attached(client: RpcClient): void;
  /** The connection closed (the isolate may be gone with the objects' state). */
  closed(client: RpcClient): void;
  /** The object answered stub.fetch with a 101 and a WebSocket: makes the Response the worker gets. */
  adopt(socket: unknown, headers: Array<[string, string]>, target: CallTarget, client: RpcClient): Response;
}

/** A peer's own account of why it stopped (a limit it exceeded), and the event that exceeded it. */
export interface PeerDown {
  code: string;
  message: string;
  event?: { namespace: string; objectId: string; method: string } | undefined;
}

/** How long a closed connection's calls wait for the peer's account of why it stopped. */
const WHY_DOWN_WAIT_MS = 100;

/** Options one call carries (see `withCallOptions`). */
export interface CallOptions {
  /** Aborting it rejects the call with ERR_ABORTED and cancels it at the callee. */
  signal?: AbortSignal | undefined;
  /** The call's deadline in ms, replacing the client's `callTimeoutMs`; Infinity for none. */
  timeoutMs?: number | undefined;
}

/** Cloudflare's output gate, as seen by a sender: what it sends waits for pending writes to commit. */
export interface OutputGate {
  /**
   * Calls `release` once every write made so far is committed, or with the error when a commit
   * failed: then what was held must not be sent.
   */
  afterCommit(release: (error: Error | undefined) => void): void;
}

/**
 * Turns a Return payload into the result: msgpackr, or a generated codec's decodeResult. `caps` is the
 * connection's capability session: references in the result become handles of it.
 */
export type ResultDecoder = (payload: Uint8Array, where: string, caps?: CapSession) => unknown;

/**
 * The msgpackr path, for classes without generated codecs. A result holding references (functions,
 * RpcTargets) belongs to the caller, as on Cloudflare: an object result gets a [Symbol.dispose] that
 * releases every reference in it (`using result = await stub.m()`).
 */
export const decodeMsgpackResult: ResultDecoder = (payload, where, caps) => {
  const value = decodeCallValue(payload, `${where} result`, caps);
  const imported = takeImported();
  if (imported.length > 0) ownResult(value, imported);
  return value;
};

/** Gives an object result holding references a non-enumerable [Symbol.dispose] releasing them. */
export function ownResult(value: unknown, imported: RpcHandle[]): void {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value) && !Object.hasOwn(value, Symbol.dispose)) {
    Object.defineProperty(value, Symbol.dispose, { value: () => disposeAll(imported), enumerable: false, configurable: true });
  }
}

const NO_TARGET: CallTarget = { namespace: "", objectId: "", name: undefined };

interface Question {
  resolve(value: unknown): void;
  reject(error: Error): void;
  where: string;
  decode: ResultDecoder;
  /** Written to the current connection: giving up on it must send a Cancel. */
  sent: boolean;
  /** Clears the deadline timer and the abort listener, if any. */
  done: (() => void) | undefined;
  target: CallTarget;
  method: string;
}

/**
 * A Release (`exportId` non-zero) or a Finish (of question `finish`) issued while calls wait in
 * #held or #unsent: written after them, in the order issued, so that it cannot overtake a call
 * pipelined on the answer it lets go. Only for `conn`: a new connection has a new session.
 */
class Deferred {
  constructor(
    readonly conn: FrameConnection,
    readonly exportId: number,
    readonly count: number,
    readonly finish: number,
  ) {}
  write(): void {
    if (this.exportId !== 0) this.conn.writer.writeRelease(this.exportId, this.count);
    else this.conn.writer.writeFinish(this.finish);
  }
}

interface Unsent {
  id: number;
  kind: CallKind;
  target: CallTarget;
  method: string;
  methodId: number;
  payload: Uint8Array;
  exportTarget: number;
  promisedAnswer: number;
}

export class RpcClient {
  /** The question id of the last call() (pipelined calls address its answer). */
  lastQuestionId = 0;
  /** Largest encoded arguments one call may carry (`maxCallBytes`); stubs pass it to encodePayload. */
  readonly maxCallBytes: number;
  readonly #dial: Dial;
  readonly #options: RpcClientOptions;
  readonly #questions = new IdTable<Question>(); // not a Map: see id-table.ts
  #nextId = 1;
  #conn: FrameConnection | undefined;
  #connecting: Promise<void> | undefined;
  #unsent: Array<Unsent | Deferred> = [];
  #held: Array<Unsent | Deferred> = []; // waiting for the output gate
  /** Calls given up on after they were sent (msgpackr results): their late Return is released. */
  readonly #givenUp = new Set<number>();
  #connectedAt = 0;
  #closed = false;
  #goodbye: string | undefined; // why the peer said it is closing the connection, if it did
  /** Functions and RpcTargets passed by reference on the current connection (a new one per connection). */
  #caps: CapSession;
  /** The capability session's way out: calls on the peer's exports go through call(). */
  readonly capWire: CapWire;

  constructor(dial: Dial, options: RpcClientOptions) {
    this.#dial = dial;
    this.#options = options;
    this.maxCallBytes = options.maxCallBytes ?? DEFAULT_MAX_CALL_BYTES;
    if (options.maxCallBytes !== undefined) fitStreamReadsTo(options.maxCallBytes);
    const client = this;
    this.capWire = {
      peer: options.peer,
      call: (target, promisedAnswer, method, payload, where) => this.call(CallKind.Method, NO_TARGET, method, 0, payload, where, decodeMsgpackResult, undefined, target, promisedAnswer),
      release: (exportId, count) => {
        const conn = this.#conn;
        if (conn === undefined || conn.closed) return; // the peer dropped its exports with the connection
        if (this.#defer(conn, exportId, count, 0)) return;
        conn.writer.writeRelease(exportId, count);
        conn.flushSoon();
      },
      canPipeline: (questionId) => client.#questions.get(questionId) !== undefined,
      get lastQuestionId() {
        return client.lastQuestionId;
      },
    };
    this.#caps = new CapSession(this.capWire, options.maxExports);
    registerWireSession(this.capWire, () => this.#caps);
  }

  /** The capability session of the current connection (exports and imports of references). */
  get caps(): CapSession {
    return this.#caps;
  }

  /** Connects now if not connected (the WebSocket gateway re-attaches to a restarted isolate). */
  connect(): void {
    if (!this.#closed && (this.#conn === undefined || this.#conn.closed)) this.#connect();
  }

  /** The Response for a 101 answer to stub.fetch; throws where no WebSocket gateway can hold the socket. */
  adoptWebSocket(socket: unknown, headers: Array<[string, string]>, target: CallTarget, where: string): Response {
    const peer = this.#options.webSockets?.();
    if (peer === undefined) {
      throw new SourdoughError(ErrorCode.BAD_OPTIONS, `${where}: the object answered with a WebSocket (status 101), but this process has no serve() to hold the client's socket. Call stub.fetch() for WebSocket upgrades from serve()'s worker.fetch.`);
    }
    return peer.adopt(socket, headers, target, this);
  }

  /** True once close() was called: the owner must hand out a fresh client (or an error). */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Sends one call; resolves with the decoded result or rejects with the callee's error. `methodId`
   * is the generated method id (0: by name, msgpackr payload); `decode` reads the result payload.
   * A call past its deadline rejects with ERR_DEADLINE_EXCEEDED, an aborted one with ERR_ABORTED.
   */
  call(
    kind: CallKind,
    target: CallTarget,
    method: string,
    methodId: number,
    payload: Uint8Array,
    where: string,
    decode: ResultDecoder = decodeMsgpackResult,
    options?: CallOptions,
    exportTarget = 0,
    promisedAnswer = 0,
  ): Promise<unknown> {
    if (this.#closed) {
      return Promise.reject(new SourdoughError(ErrorCode.CLOSED, `${where}: the client was closed. Create a new coordinator or stub.`));
    }
    if (options?.signal?.aborted === true) return Promise.reject(abortedError(where, options.signal, false));
    // Refused here, before anything is sent: the connection is shared and must not carry it.
    const limit = this.maxCallBytes;
    if (payload.length > limit) return Promise.reject(callTooLarge(where, kind === CallKind.Fetch ? "request" : "arguments", payload.length, limit));
    const id = this.#nextId;
    this.#nextId = id === 0xffffffff ? 1 : id + 1;
    this.lastQuestionId = id;
    let question!: Question;
    const promise = new Promise<unknown>((resolve, reject) => {
      question = { resolve, reject, where, decode, sent: false, done: undefined, target, method };
    });
    this.#questions.set(id, question);
    if (options !== undefined || this.#options.callTimeoutMs !== undefined) this.#watch(id, question, options);
    const gate = this.#options.outputGate;
    if (gate !== undefined) {
      if (this.#held.push({ id, kind, target, method, methodId, payload, exportTarget, promisedAnswer }) === 1) gate.afterCommit(this.#release);
      return promise;
    }
    const conn = this.#conn;
    if (conn !== undefined && !conn.closed) {
      try {
        conn.writer.writeCall(id, kind, methodId, target.namespace, target.objectId, method, payload, target.name, target, exportTarget, promisedAnswer);
      } catch (error) {
        this.#take(id);
        return Promise.reject(writerRefusal(where, error));
      }
      question.sent = true;
      conn.flushSoon();
    } else {
      this.#unsent.push({ id, kind, target, method, methodId, payload, exportTarget, promisedAnswer });
      this.#connect();
    }
    return promise;
  }

  // Arms the call's deadline and abort listener; either one gives up on the call (#cancel).
  #watch(id: number, question: Question, options: CallOptions | undefined): void {
    const fromCall = options?.timeoutMs;
    const timeoutMs = fromCall ?? this.#options.callTimeoutMs;
    const signal = options?.signal;
    const timer =
      timeoutMs === undefined || timeoutMs === Infinity
        ? undefined
        : setTimeout(() => {
            const setting = fromCall === undefined ? "callTimeoutMs" : "timeoutMs";
            this.#cancel(id, new SourdoughError(ErrorCode.DEADLINE_EXCEEDED, `${question.where}: no answer within ${timeoutMs} ms (${setting}). ${question.sent ? "The call was cancelled and may or may not have run" : "It was not sent"}; raise ${setting} or make the method answer sooner.`));
          }, timeoutMs);
    const onAbort = signal === undefined ? undefined : () => this.#cancel(id, abortedError(question.where, signal, question.sent));
    if (onAbort !== undefined) signal!.addEventListener("abort", onAbort, { once: true });
    if (timer === undefined && onAbort === undefined) return;
    question.done = () => {
      if (timer !== undefined) clearTimeout(timer);
      if (onAbort !== undefined) signal!.removeEventListener("abort", onAbort);
    };
  }

  // Gives up on a call: forget the question (a late answer is ignored), tell the callee, reject.
  #cancel(id: number, error: Error): void {
    const q = this.#take(id);
    if (q === undefined) return;
    const conn = this.#conn;
    if (q.sent && conn !== undefined && !conn.closed) {
      conn.writer.writeCancel(id);
      conn.flushSoon();
      // Its answer may still come, carrying references nobody will hold: #dropUnwanted releases them.
      if (q.decode === decodeMsgpackResult) this.#givenUp.add(id);
    }
    q.reject(error);
  }

  // Queues a Release or Finish behind the calls still waiting to be written (true), if any.
  #defer(conn: FrameConnection, exportId: number, count: number, finish: number): boolean {
    if (this.#held.length > 0) this.#held.push(new Deferred(conn, exportId, count, finish));
    else if (this.#unsent.length > 0) this.#unsent.push(new Deferred(conn, exportId, count, finish));
    else return false;
    return true;
  }

  // The output gate opened: send what it held (in one write), or fail it if a commit failed.
  readonly #release = (error: Error | undefined): void => {
    const held = this.#held;
    this.#held = [];
    if (held.length === 0 || this.#closed) return;
    const conn = this.#conn;
    if (error !== undefined) {
      // The calls must not be sent; the Releases and Finishes among them still are.
      let wrote = false;
      for (const u of held) {
        if (u instanceof Deferred) {
          if (u.conn === conn && !conn.closed) {
            u.write();
            wrote = true;
          }
          continue;
        }
        const q = this.#take(u.id);
        q?.reject(new SourdoughError(ErrorCode.STORAGE, `${q.where}: not sent: ${error.message}`, { cause: error, retryable: true }));
      }
      if (wrote) conn!.flushSoon();
      return;
    }
    if (conn === undefined || conn.closed) {
      for (const u of held) if (!(u instanceof Deferred)) this.#unsent.push(u); // a Deferred's session is gone
      this.#connect();
      return;
    }
    for (const u of held) this.#send(conn, u);
    conn.flush();
  };

  /** Fails all calls in flight and closes the connection. */
  close(reason = "the client was closed"): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#caps.close(`the client was closed (${reason})`);
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
        // A refused Unix-socket connect is cheap: poll often, so calls resume soon after a restart.
        await new Promise((r) => setTimeout(r, Math.min(5 * 2 ** attempt, 20)));
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
      // The peer is an isolate of this cluster: one busy with a long event may pause mid-frame.
      { maxFrameBytes: this.#options.maxFrameBytes, partialFrameTimeoutMs: 0 },
    );
    this.#conn = conn;
    this.#connectedAt = Date.now();
    this.#options.webSockets?.()?.attached(this);
    const unsent = this.#unsent;
    this.#unsent = [];
    for (const u of unsent) this.#send(conn, u);
    conn.flushSoon();
  }

  // Writes a call (unless it was given up on while it waited for the connection or the output gate).
  // A frame the writer refuses (over maxFrameBytes) fails that call alone; nothing was written.
  #send(conn: FrameConnection, u: Unsent | Deferred): void {
    if (u instanceof Deferred) {
      if (u.conn === conn) u.write();
      return;
    }
    const q = this.#questions.get(u.id);
    if (q === undefined) return;
    try {
      conn.writer.writeCall(u.id, u.kind, u.methodId, u.target.namespace, u.target.objectId, u.method, u.payload, u.target.name, u.target, u.exportTarget, u.promisedAnswer);
    } catch (error) {
      this.#take(u.id);
      return q.reject(writerRefusal(q.where, error));
    }
    q.sent = true;
  }

  #onMessage(message: Message): void {
    switch (message.which) {
      case Which.Return: {
        const q = this.#take(message.questionId);
        // The callee holds a returned reference for calls pipelined on this question. From now on
        // this side pipelines on the reference instead, so the answer may go: by this side's Release
        // of the import this Return created (that Release covers it, see CapSession.wrote);
        // otherwise (the import was held from elsewhere too, so its Release may come much later, or
        // the result was not decoded) by Finish.
        if (q === undefined) {
          const givenUp = this.#givenUp.size > 0 && this.#givenUp.delete(message.questionId);
          if (message.heldAnswer || givenUp) this.#dropUnwanted(message.questionId, message.payload, message.heldAnswer);
          return;
        }
        let value: unknown;
        try {
          value = q.decode(message.payload, q.where, this.#caps);
        } catch (error) {
          if (message.heldAnswer) this.#finish(message.questionId);
          q.reject(error as Error);
          return;
        }
        if (message.heldAnswer && !this.#caps.isSoleImport(value)) this.#finish(message.questionId);
        q.resolve(value);
        return;
      }
      case Which.Exception: {
        const q = this.#take(message.questionId);
        if (q === undefined) {
          if (this.#givenUp.size > 0) this.#givenUp.delete(message.questionId);
          return;
        }
        q.reject(errorFromWire(message));
        return;
      }
      case Which.Control:
        if (message.control === ControlWhich.Goodbye) this.#goodbye = message.reason;
        return;
      case Which.Call:
        if (message.kind === CallKind.WebSocket && message.questionId === 0) this.#options.webSockets?.()?.operation(message, this);
        else if (message.target !== 0) this.#serveExport(message);
        else this.#refuse(message.questionId, `a call addressed to no export (target 0, method ${JSON.stringify(message.method)}): a callee may call back only the functions and RpcTargets it was passed`);
        return;
      case Which.Release:
        this.#caps.releaseExport(message.exportId, message.count);
        return;
      case Which.Cancel:
      case Which.Finish:
        return; // the caller side holds no answers and runs callbacks to completion
    }
  }

  // A result arrived for a call given up on (deadline, abort): nobody will use the references in it
  // (functions, RpcTargets, streams such as a stub.fetch() Response body), so they are imported and
  // released at once (a stream is cancelled), which also lets a held answer go.
  #dropUnwanted(questionId: number, payload: Uint8Array, held: boolean): void {
    let value: unknown;
    try {
      value = decodeCallValue(payload, "a result that arrived after its call was given up on", this.#caps);
    } catch {
      if (held) this.#finish(questionId);
      return;
    }
    const sole = held && this.#caps.isSoleImport(value);
    disposeAll(takeImported());
    if (held && !sole) this.#finish(questionId);
  }

  #finish(questionId: number): void {
    const conn = this.#conn;
    if (conn === undefined || conn.closed) return;
    if (this.#defer(conn, 0, 0, questionId)) return;
    conn.writer.writeFinish(questionId);
    conn.flushSoon();
  }

  // The callee calls a function or RpcTarget this side passed it: run it here and answer on the same
  // connection. References in the arguments are released when the call completes (unless dup()ed).
  #serveExport(call: CallMessage): void {
    const conn = this.#conn;
    const caps = this.#caps;
    const where = `${this.#options.peer} calling back ${call.method === "" ? `function ${call.target}` : `RpcTarget ${call.target}.${call.method}`}`;
    let imported: RpcHandle[] = [];
    const answer = (ok: boolean, value: unknown) => {
      disposeAll(imported);
      if (conn === undefined || conn.closed || call.questionId === 0) return;
      if (ok) {
        try {
          const bytes = encodeCallPayload(value, `${where} result`, this.maxCallBytes, caps);
          conn.writer.writeReturn(call.questionId, bytes);
          conn.flushSoon();
          return;
        } catch (error) {
          value = error;
        }
      }
      const w = errorToWire(value);
      conn.writer.writeException(call.questionId, w.retryable, w.name, w.message, w.code, w.stack);
      conn.flushSoon();
    };
    let result: unknown;
    try {
      const { fn, self } = caps.resolveCall(call.target, call.method, where);
      const decoded = decodeCallPayload(call.payload, `${where} arguments`, caps);
      imported = decoded.imported;
      if (!Array.isArray(decoded.value)) throw new SourdoughError(ErrorCode.PROTOCOL, `${where}: arguments must be an array.`);
      result = fn.apply(self, decoded.value);
    } catch (error) {
      return answer(false, error);
    }
    if (result !== null && typeof result === "object" && typeof (result as { then?: unknown }).then === "function") {
      (result as PromiseLike<unknown>).then((v) => answer(true, v), (e: unknown) => answer(false, e));
    } else {
      answer(true, result);
    }
  }

  #refuse(questionId: number, why: string): void {
    const conn = this.#conn;
    if (conn === undefined || conn.closed || questionId === 0) return;
    conn.writer.writeException(questionId, false, "SourdoughError", `${this.#options.peer}: ${why}.`, ErrorCode.REFERENCE_RELEASED, undefined);
    conn.flushSoon();
  }

  #take(id: number): Question | undefined {
    const q = this.#questions.take(id);
    q?.done?.();
    return q;
  }

  #onClose(conn: FrameConnection, error: Error | undefined): void {
    if (this.#conn === conn) this.#conn = undefined;
    this.#givenUp.clear(); // their answers will not come
    // The references of this connection die with it: exports dropped, imports fail their calls.
    const caps = this.#caps;
    this.#caps = new CapSession(this.capWire, this.#options.maxExports);
    caps.close(`the connection to ${this.#options.peer} that carried the reference closed${error === undefined ? "" : ` (${error.message.replace(/\.+$/, "")})`}; references do not survive a reconnect, ask the object for a new one`);
    if (!this.#closed) this.#options.webSockets?.()?.closed(this);
    const detail = (this.#goodbye ?? error?.message)?.replace(/\.+$/, "");
    this.#goodbye = undefined;
    const why = detail ? `: ${detail}` : "";
    const reason = `connection to ${this.#options.peer} closed with the call in flight${why}. The call may or may not have run; retry if it is idempotent`;
    const whyDown = this.#options.whyDown;
    if (whyDown === undefined || this.#questions.size === 0) return this.#failAll(ErrorCode.HOST_UNAVAILABLE, reason, true);
    // A peer stopped for a limit records why, possibly just after its sockets closed: wait briefly.
    // Only the calls in flight now wait; calls made meanwhile go to the next connection.
    const inFlight = this.#questions.takeAll();
    this.#unsent = [];
    this.#held = [];
    const since = this.#connectedAt;
    const deadline = Date.now() + WHY_DOWN_WAIT_MS;
    const look = (): void => {
      const down = whyDown(since);
      if (down !== undefined) return this.#failDown(inFlight, down);
      if (Date.now() < deadline) return void setTimeout(look, 20);
      for (const [, q] of inFlight) {
        q.done?.();
        q.reject(new SourdoughError(ErrorCode.HOST_UNAVAILABLE, `${q.where}: ${reason}.`, { retryable: true }));
      }
    };
    look();
  }

  // The call whose event exceeded the limit gets the peer's error; the others, which only shared
  // its isolate, a retryable error that says what happened there.
  #failDown(questions: Array<[number, Question]>, down: PeerDown): void {
    const e = down.event;
    for (const [, q] of questions) {
      q.done?.();
      // A runaway constructor is the fault of the calls that were waiting for it to finish.
      const culprit = e !== undefined && e.namespace === q.target.namespace && e.objectId === q.target.objectId && (e.method === q.method || e.method === "constructor");
      if (culprit || down.code === ErrorCode.MEMORY_LIMIT) {
        q.reject(new SourdoughError(down.code as ErrorCode, `${q.where}: ${down.message}`, { retryable: !culprit }));
      } else {
        q.reject(new SourdoughError(ErrorCode.HOST_UNAVAILABLE, `${q.where}: the call was waiting or running on ${this.#options.peer}, which stopped: ${down.message} Retry the call.`, { retryable: true }));
      }
    }
  }

  #failAll(code: ErrorCode, reason: string, retryable: boolean): void {
    if (this.#questions.size === 0) return;
    const questions = this.#questions.takeAll().map(([, q]) => q);
    this.#unsent = [];
    this.#held = [];
    for (const q of questions) {
      q.done?.();
      q.reject(new SourdoughError(code, `${q.where}: ${reason}.`, { retryable }));
    }
  }
}

/** The frame writer's ERR_TOO_LARGE (it knows no method names), said of the call that caused it. */
function writerRefusal(where: string, error: unknown): Error {
  if (error instanceof SourdoughError && error.code === ErrorCode.TOO_LARGE) return new SourdoughError(ErrorCode.TOO_LARGE, `${where}: ${error.message}.`, { cause: error });
  return error instanceof Error ? error : new Error(String(error));
}

/** ERR_ABORTED, named "AbortError" like the DOM's, with the signal's reason as its cause. */
function abortedError(where: string, signal: AbortSignal, sent: boolean): SourdoughError {
  const reason: unknown = signal.reason;
  const why = reason instanceof Error ? `${reason.name}: ${reason.message}` : String(reason);
  const what = sent ? "It was cancelled and may or may not have run" : "It was not sent";
  const error = new SourdoughError(ErrorCode.ABORTED, `${where}: the call was aborted by its AbortSignal (${why}). ${what}; retry it if it is idempotent.`, { cause: reason });
  error.name = "AbortError";
  return error;
}
