// The objects of one isolate: validates each incoming call, activates the object on first use,
// delivers events through the input gate, runs the method, commits the object's writes (output gate)
// and only then replies. Transport-agnostic: it serves any Pipe, so the same code runs in a host
// isolate and in-process (`hostCount: 0`). Each object's input gate is in active-object.ts.
import path from "node:path";
import { ErrorCode, SourdoughError, describeValue } from "../errors.ts";
import { DurableObjectId, isIdOfName, isValidId } from "../ids.ts";
import type { CodecTable } from "../rpc/generated.ts";
import { errorToWire } from "../rpc/remote-error.ts";
import { fitStreamReadsTo } from "../rpc/streams.ts";
import { beginDecoding, beginEncoding, disposeAll, endDecoding, endEncoding, isReference, resolveMember, takeExported, type CapSession, type RpcHandle } from "../rpc/capabilities.ts";
import { ServerCaps } from "../rpc/peer-caps.ts";
import { decodeCallValue, encodePayload, takeImported } from "../wire/payload.ts";
import type { OutputGate } from "../rpc/rpc-client.ts";
import type { AlarmEntry, AlarmIndex } from "../storage/alarm-index.ts";
import { ObjectStorage } from "../storage/object-storage.ts";
import { IdTable } from "../util/id-table.ts";
import { DEFAULT_MAX_CONNECTIONS, FrameConnection, refuseConnection } from "../transport/frame-connection.ts";
import type { Pipe } from "../transport/pipe.ts";
import { CallKind, Which, type CallMessage, type Message } from "../wire/envelope.ts";
import { ObjectSockets } from "../websocket/object-sockets.ts";
import { DEFAULT_MAX_CALL_BYTES, callTooLarge } from "../wire/limits.ts";
import { ActiveObject, DEFAULT_MAX_QUEUED_EVENTS, type EventRecorder, type ObjectEvent } from "./active-object.ts";
import { AlarmScheduler, MAX_ALARM_RETRIES } from "./alarm-scheduler.ts";
import { planCall, type CallPlan } from "./call-plan.ts";
import type { ConcreteDurableObjectClass, DurableObject, DurableObjectState } from "./durable-object.ts";
import type { TableCensus, TableStats } from "../ops/table-stats.ts";

export interface ObjectTableOptions {
  /** Namespace (class) name → class. */
  classes: ReadonlyMap<string, ConcreteDurableObjectClass>;
  /** The `env` every object receives (variables plus namespace bindings). */
  env: object;
  /** Root of the per-object database files; undefined keeps every database in memory. */
  storageDir: string | undefined;
  maxFrameBytes?: number;
  /** Largest encoded result of one call; a larger one fails that call alone with ERR_TOO_LARGE. */
  maxCallBytes?: number;
  /** Most connections served at once; more are closed at once with a goodbye saying why. */
  maxConnections?: number;
  /** Generated codecs of the classes sourdough-gen saw (empty: everything travels as msgpackr). */
  codecs: CodecTable;
  /** Idle time after which an object is evicted from memory (database closed). 0 disables. */
  idleEvictionMs: number;
  /** Which slot this table is ("host 0 isolate 1"), for error messages. */
  label: string;
  /** Alarms: the shared index, the first retry delay, and which objects this table owns. */
  alarms: { index: AlarmIndex; retryBaseMs: number; owns(namespace: string, objectId: string): boolean };
  /** Where runtime diagnostics go (alarm failures). */
  log(message: string): void;
  /** Most events one object may have waiting for its input gate before calls are refused. */
  maxQueuedEvents?: number;
  /** A blockConcurrencyWhile callback running longer than this resets its object. */
  blockConcurrencyTimeoutMs?: number;
  /** Told which event starts (the isolate's watchdog reads it if the event never yields). */
  recorder?: EventRecorder;
  /** Counts calls, errors, latency, activations, evictions and resets (ops/table-stats.ts); none when off. */
  stats?: TableStats;
  /** Most functions and RpcTargets this side exports on one connection (default 10,000). */
  maxExports?: number;
}

/** Cloudflare resets an object whose blockConcurrencyWhile callback runs this long. */
export const DEFAULT_BLOCK_CONCURRENCY_TIMEOUT_MS = 30_000;

interface ObjectAddress {
  namespace: string;
  objectId: string;
  name: string | undefined;
}

/**
 * The calls of one connection that have not been answered, by question id (for Cancel), with the
 * pipelined calls that wait for their answer.
 */
type OpenCalls = IdTable<{ obj: ActiveObject; event: ObjectEvent; pipelined?: CallMessage[] }>; // not a Map: see id-table.ts

export class ObjectTable implements OutputGate {
  readonly #options: ObjectTableOptions;
  readonly #objects = new Map<string, ActiveObject>();
  readonly #connections = new Set<FrameConnection>();
  /** Each connection's references (callbacks it passed, RpcTargets its objects returned). */
  readonly #caps = new Map<FrameConnection, ServerCaps>();
  readonly #dirty = new Set<ActiveObject>();
  #turnEndScheduled = false;
  /** Senders waiting for this turn's writes to be committed (the output gate). */
  #afterCommit: Array<(error: Error | undefined) => void> = [];
  /** Answers waiting for their object's writes to be committed, and the connections they go to. */
  #heldAnswers: Array<() => void> = [];
  readonly #toFlush = new Set<FrameConnection>();
  readonly #sweeper: NodeJS.Timeout | undefined;
  readonly #alarms: AlarmScheduler;
  /** The WebSockets of this table's objects (outlives eviction; rebuilt by the gateway after a restart). */
  readonly #sockets: ObjectSockets;

  constructor(options: ObjectTableOptions) {
    this.#options = options;
    if (options.maxCallBytes !== undefined) fitStreamReadsTo(options.maxCallBytes);
    this.#sockets = new ObjectSockets({
      holdsOutput: (key) => this.#objects.get(key)?.storage.hasUncommittedWrites === true,
      afterCommit: (release) => this.afterCommit(release),
      currentEvent: (key) => this.#objects.get(key)?.current,
    });
    this.#alarms = new AlarmScheduler({
      index: options.alarms.index,
      retryBaseMs: options.alarms.retryBaseMs,
      fire: (entry) => this.#fireAlarm(entry),
      gaveUp: (e, attempts) => options.log(`sourdough: ${e.namespace} ${e.objectId}: alarm() failed ${attempts} times; giving up on this alarm.`),
    });
    this.loadAlarms();
    const idle = options.idleEvictionMs;
    if (idle > 0) {
      this.#sweeper = setInterval(() => this.#evictIdle(), Math.max(10, Math.min(idle / 2, 5_000)));
      this.#sweeper.unref();
    }
  }

  /** (Re)reads the alarm index for the classes known now; call again after adding a class. */
  loadAlarms(): void {
    const { classes, alarms } = this.#options;
    this.#alarms.load((e) => classes.has(e.namespace) && alarms.owns(e.namespace, e.objectId));
  }

  /** Serves calls arriving on `pipe` until it closes. */
  serve(pipe: Pipe): void {
    const max = this.#options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    if (this.#connections.size >= max) {
      return refuseConnection(pipe, `${this.#options.label} already serves ${max} connections (the most it accepts), so this one was closed. Callers need one connection per process; look for a client that opens connections without closing them`);
    }
    const open: OpenCalls = new IdTable();
    const conn: FrameConnection = new FrameConnection(
      pipe,
      {
        message: (m) => this.#onMessage(conn, open, m),
        close: () => {
          this.#connections.delete(conn);
          this.#caps.get(conn)?.close("the connection to the caller that passed this reference closed (the caller disconnected, or its process died)");
          this.#caps.delete(conn);
          for (const [, entry] of open.takeAll()) this.#cancelEntry(entry, "the caller's connection closed"); // nobody waits for these
        },
      },
      { maxFrameBytes: this.#options.maxFrameBytes },
    );
    this.#connections.add(conn);
    const gate = (send: (error: Error | undefined) => void) => (this.#dirty.size > 0 ? this.afterCommit(send) : send(undefined));
    this.#caps.set(conn, new ServerCaps(conn, "the caller", gate, this.#options.maxExports));
  }

  /** Exports (references handed to callers) held over all connections: 0 once they were released. */
  get exportCount(): number {
    let n = 0;
    for (const c of this.#caps.values()) n += c.session.exportCount;
    return n;
  }

  /** Answers held for pipelined calls (Return.heldAnswer) over all connections: 0 once they were let go. */
  get heldAnswerCount(): number {
    let n = 0;
    for (const c of this.#caps.values()) n += c.held.size;
    return n;
  }

  /** Closes every connection and every database (committing pending writes). */
  close(): void {
    clearInterval(this.#sweeper);
    this.#alarms.close();
    for (const conn of this.#connections) conn.end();
    this.#connections.clear();
    for (const obj of this.#objects.values()) {
      this.#options.stats?.closed(obj.namespace, obj.storage.bytesWritten);
      obj.storage.close();
    }
    this.#objects.clear();
  }

  /** Objects resident per class, events queued, connections open, and KV bytes written by open objects. */
  census(): TableCensus & { liveBytes: Map<string, number>; eventsRunning: number } {
    const residentByClass = new Map<string, number>();
    const liveBytes = new Map<string, number>();
    let eventsQueued = 0;
    let eventsOpen = 0;
    for (const obj of this.#objects.values()) {
      eventsOpen += obj.inFlight;
      residentByClass.set(obj.namespace, (residentByClass.get(obj.namespace) ?? 0) + 1);
      liveBytes.set(obj.namespace, (liveBytes.get(obj.namespace) ?? 0) + obj.storage.bytesWritten);
      eventsQueued += obj.queued;
    }
    return { residentByClass, eventsQueued, eventsRunning: eventsOpen - eventsQueued, socketsOpen: this.#connections.size, liveBytes };
  }

  #onMessage(conn: FrameConnection, open: OpenCalls, message: Message): void {
    if (message.which === Which.Call) this.#onCall(conn, open, message);
    else if (message.which === Which.Cancel) this.#cancel(open, message.questionId, "the caller canceled the call");
    else if (message.which === Which.Return || message.which === Which.Exception) this.#caps.get(conn)?.answer(message); // a callback's answer
    else if (message.which === Which.Release) this.#caps.get(conn)?.session.releaseExport(message.exportId, message.count);
    else if (message.which === Which.Finish) this.#caps.get(conn)?.finish(message.questionId);
    // Control from a caller carries nothing for us.
  }

  // A canceled call still waiting for its object's gate is dropped; a running one sees its
  // ctx.signal aborted (it cannot be stopped from outside). The caller has already given up on it.
  #cancel(open: OpenCalls, q: number, why: string): void {
    const entry = open.get(q);
    if (entry !== undefined) this.#cancelEntry(entry, why);
  }

  #cancelEntry({ obj, event }: { obj: ActiveObject; event: ObjectEvent }, why: string): void {
    if (obj.dropQueued(event)) {
      event.fail(new SourdoughError(ErrorCode.ABORTED, `${obj.namespace}.${event.method}: ${why} before it was delivered; it did not run.`));
      return;
    }
    event.controller?.abort(new DOMException(`${obj.namespace}.${event.method}: ${why}.`, "AbortError"));
  }

  #onCall(conn: FrameConnection, open: OpenCalls, call: CallMessage): void {
    const q = call.questionId;
    const method = call.kind === CallKind.Fetch ? "fetch" : call.method;
    const where = `${call.namespace}.${method}`;
    // A WebSocket "sync" is bookkeeping of the gateway, not a call: it is not counted.
    const sync = call.kind === CallKind.WebSocket && call.method === "sync";
    const stats = sync ? undefined : this.#options.stats?.method(call.namespace, method);
    const fail = (error: unknown) => {
      stats?.refused(error);
      this.#replyError(conn, q, error);
    };
    if (call.target !== 0 || call.promisedAnswer !== 0) return this.#onReferenceCall(conn, open, call);
    if (sync) {
      // The gateway re-sends an object's sockets on a new connection; no object needs to run.
      try {
        this.#sockets.sync(conn, { namespace: call.namespace, objectId: call.objectId, name: call.name }, call.payload);
      } catch (error) {
        return fail(error);
      }
      conn.writer.writeReturn(q, NO_RESULT);
      return conn.flushSoon();
    }
    const Class = this.#options.classes.get(call.namespace);
    if (Class === undefined) {
      const known = [...this.#options.classes.keys()].join(", ") || "(none)";
      return fail(new SourdoughError(ErrorCode.BAD_CLASS, `${where}: no Durable Object class named ${describeValue(call.namespace)} is loaded in ${this.#options.label} (loaded: ${known}). Register the class with the coordinator.`));
    }
    let plan: CallPlan | undefined;
    const caps = this.#caps.get(conn);
    // Functions and RpcTargets in the arguments arrive as handles of this connection's caller.
    beginDecoding(caps?.session);
    try {
      plan =
        call.kind === CallKind.WebSocket
          ? this.#webSocketPlan(call)
          : planCall(call, Class, this.#options.codecs, this.#options.label, where, this.#options.maxCallBytes ?? DEFAULT_MAX_CALL_BYTES, (client) =>
              this.#sockets.link(client, conn, { namespace: call.namespace, objectId: call.objectId, name: call.name }, where),
            );
    } catch (error) {
      disposeAll(endDecoding()); // the call is refused: nothing will hold them
      return fail(error);
    }
    const imported = endDecoding();
    if (plan === undefined) {
      // A WebSocket event the gateway re-sent after this isolate ran it: answered, not run again.
      conn.writer.writeReturn(q, NO_RESULT);
      return conn.flushSoon();
    }
    const { run, encode } = plan;
    let obj: ActiveObject;
    try {
      obj = this.#objects.get(`${call.namespace}:${call.objectId}`) ?? this.#activate(Class, call, where);
    } catch (error) {
      return fail(error);
    }
    const startedAt = stats === undefined ? 0 : stats.start();
    const finish = (ok: boolean, value: unknown) => {
      const entry = open.take(q);
      this.#sockets.eventEnded(obj.key, event); // sockets it accepted and never returned in a 101 are dropped
      stats?.done(startedAt, ok ? undefined : value);
      // Cloudflare's rule: references received as arguments are released when the call completes
      // (those the object dup()ed stay).
      if (imported.length > 0) disposeAll(imported);
      this.#finishWithReferences(conn, open, caps, q, obj, encode, ok, value, where, entry?.pipelined);
    };
    const event: ObjectEvent = {
      method,
      run: () => {
        let result: unknown;
        try {
          result = run(obj.instance!);
        } catch (error) {
          return finish(false, error);
        }
        if (isThenable(result)) {
          result.then(
            (value) => finish(true, value),
            (error: unknown) => finish(false, error),
          );
        } else {
          finish(true, result);
        }
      },
      fail: (error) => {
        const entry = open.take(q);
        stats?.done(startedAt, error);
        if (imported.length > 0) disposeAll(imported);
        this.#replyError(conn, q, error);
        if (entry?.pipelined !== undefined) this.#failPipelined(conn, entry.pipelined, error);
      },
    };
    open.set(q, { obj, event });
    obj.deliver(event);
  }

  // Encodes the result with the connection's exports (an RpcTarget or function returned becomes a
  // reference the caller can call), holds a returned reference for pipelined calls, then answers
  // through the output gate and runs the pipelined calls that waited for this answer.
  #finishWithReferences(conn: FrameConnection, open: OpenCalls, caps: ServerCaps | undefined, q: number, obj: ActiveObject, encode: (value: unknown) => Uint8Array, ok: boolean, value: unknown, where: string, pipelined: CallMessage[] | undefined): void {
    let held = false;
    if (ok && caps !== undefined && isReference(value)) {
      caps.held.set(q, { value, owner: obj });
      held = true;
    }
    // The answer is held until the caller's Release covers the Return carrying it (CapSession.wrote).
    const answer = this.#finish(conn, q, obj, encode, ok, value, where, held, caps?.session);
    if ("error" in answer) {
      // Not sent after all (encoding failed, or too large): nothing may be pipelined on it.
      if (held) caps!.held.delete(q);
      if (pipelined !== undefined) this.#failPipelined(conn, pipelined, answer.error);
      return;
    }
    if (pipelined === undefined) return;
    for (const p of pipelined) this.#onReferenceCall(conn, open, p);
  }

  // The call these were pipelined on failed: so do they, and the calls pipelined on them.
  #failPipelined(conn: FrameConnection, pipelined: CallMessage[], error: unknown): void {
    const caps = this.#caps.get(conn);
    for (const p of pipelined) {
      this.#replyError(conn, p.questionId, error);
      const next = caps?.queued.get(p.questionId);
      if (next !== undefined) {
        caps!.queued.delete(p.questionId);
        this.#failPipelined(conn, next, error);
      }
    }
  }

  // A call addressed to a reference this side exported (Call.target), or to the answer of an earlier
  // call (Call.promisedAnswer: promise pipelining). Runs as an event of the object that handed the
  // reference out (input gate, output gate); refused with ERR_REFERENCE_RELEASED for an export id or
  // answer this connection does not hold (released, or forged): the connection stays up.
  #onReferenceCall(conn: FrameConnection, open: OpenCalls, call: CallMessage): void {
    const q = call.questionId;
    const caps = this.#caps.get(conn);
    // Calls pipelined on this one that arrived while it was itself queued behind another.
    const dependents = caps?.queued.get(q);
    if (dependents !== undefined) caps!.queued.delete(q);
    const fail = (error: unknown) => {
      this.#replyError(conn, q, error);
      if (dependents !== undefined) this.#failPipelined(conn, dependents, error);
    };
    if (caps === undefined) return fail(new SourdoughError(ErrorCode.REFERENCE_RELEASED, `call on reference ${call.target}: the connection closed.`));
    const label = call.method === "" ? "function" : `.${call.method}`;
    let where = `reference ${call.target}${label}`;
    let fn: (...args: unknown[]) => unknown;
    let self: unknown;
    let owner: unknown;
    try {
      if (call.promisedAnswer !== 0) {
        const running = open.get(call.promisedAnswer);
        if (running !== undefined) {
          (running.pipelined ??= []).push(call); // runs once that call answered
          caps.queued.set(q, dependents ?? []);
          return;
        }
        const queuedBehind = caps.queued.get(call.promisedAnswer);
        if (queuedBehind !== undefined) {
          queuedBehind.push(call); // that call is itself waiting for an answer
          caps.queued.set(q, dependents ?? []);
          return;
        }
        const answer = caps.held.get(call.promisedAnswer);
        if (answer === undefined) {
          throw new SourdoughError(ErrorCode.REFERENCE_RELEASED, `pipelined call ${JSON.stringify(call.method)} on question ${call.promisedAnswer}: this connection holds no such answer. A call's result can be called before it resolves only when it is an RpcTarget or a function (this one was not, or it failed, or was finished).`);
        }
        where = `${describeValue(answer.value)}.${call.method}`;
        ({ fn, self } = resolveMember(answer.value, call.method, where));
        owner = answer.owner;
      } else {
        ({ fn, self, owner } = caps.session.resolveCall(call.target, call.method, where));
      }
    } catch (error) {
      return fail(error);
    }
    const obj = owner as ActiveObject | undefined;
    if (obj === undefined || this.#objects.get(obj.key) !== obj) {
      return fail(new SourdoughError(ErrorCode.REFERENCE_RELEASED, `${where}: the object that handed out this reference was reset or evicted since; ask it for a new one.`));
    }
    let args: unknown;
    let imported: RpcHandle[];
    try {
      args = decodeCallValue(call.payload, `${where} arguments`, caps.session);
      imported = takeImported();
      if (!Array.isArray(args)) throw new SourdoughError(ErrorCode.PROTOCOL, `${where}: arguments must be an array, got ${describeValue(args)}.`);
    } catch (error) {
      return fail(error);
    }
    const list = args as unknown[];
    const maxCallBytes = this.#options.maxCallBytes ?? DEFAULT_MAX_CALL_BYTES;
    const encode = (v: unknown) => encodePayload(v, `${where} result`, maxCallBytes);
    const finish = (ok: boolean, value: unknown) => {
      const entry = open.take(q);
      if (imported.length > 0) disposeAll(imported);
      this.#finishWithReferences(conn, open, caps, q, obj, encode, ok, value, where, entry?.pipelined);
    };
    const event: ObjectEvent = {
      method: call.method === "" ? "callback" : call.method,
      run: () => {
        let result: unknown;
        try {
          result = fn.apply(self, list);
        } catch (error) {
          return finish(false, error);
        }
        if (isThenable(result)) result.then((v) => finish(true, v), (e: unknown) => finish(false, e));
        else finish(true, result);
      },
      fail: (error) => {
        const entry = open.take(q);
        if (imported.length > 0) disposeAll(imported);
        fail(error);
        if (entry?.pipelined !== undefined) this.#failPipelined(conn, entry.pipelined, error);
      },
    };
    // Listed like any call: a Cancel reaches it, and calls pipelined on its answer wait for it.
    open.set(q, dependents === undefined || dependents.length === 0 ? { obj, event } : { obj, event, pipelined: dependents });
    obj.deliver(event);
  }

  // A WebSocket event from serve()'s gateway: an event of the object like a call (input gate,
  // activation, idle time), answered with an empty Return once it ran and its writes are committed.
  // Undefined for an event this isolate already ran (see ObjectSockets.admit).
  #webSocketPlan(call: CallMessage): CallPlan | undefined {
    const method = call.method;
    if (method !== "webSocketMessage" && method !== "webSocketClose" && method !== "webSocketError") {
      throw new SourdoughError(ErrorCode.PROTOCOL, `${call.namespace}.${method}: not a WebSocket event (webSocketMessage, webSocketClose, webSocketError, sync).`);
    }
    const address = { namespace: call.namespace, objectId: call.objectId, name: call.name };
    const event = this.#sockets.admit(address, method, call.payload);
    if (event === undefined) return undefined;
    return { run: (instance) => this.#sockets.dispatch(address, method, event, instance), encode: () => NO_RESULT };
  }

  // The output gate: an answer leaves only after the object's writes are committed. Writes are
  // committed together at the end of the turn (group commit: the events of one object that ran this
  // turn, and other objects', share one commit each), and the answers wait for it; an event that
  // wrote nothing is answered at once.
  #finish(conn: FrameConnection, q: number, obj: ActiveObject, encode: (value: unknown) => Uint8Array, ok: boolean, value: unknown, where: string, held: boolean, session: CapSession | undefined): Answer {
    obj.inFlight--;
    obj.lastActive = Date.now();
    const answer = ok ? this.#encodeResult(encode, value, where, held, session, obj) : { error: value };
    if (!obj.storage.hasUncommittedWrites) {
      this.#answer(conn, q, answer, where);
      conn.flushSoon();
      return answer;
    }
    this.#heldAnswers.push(() => {
      this.#answer(conn, q, answer, where, obj.commitFailure);
      this.#toFlush.add(conn);
    });
    this.#scheduleTurnEnd();
    return answer;
  }

  // Encoded now: the object may change the value after it returned it. Functions and RpcTargets in
  // it are exported on the caller's connection, as references of `obj`.
  #encodeResult(encode: (value: unknown) => Uint8Array, value: unknown, where: string, held: boolean, session: CapSession | undefined, obj: ActiveObject): Answer {
    let bytes: Uint8Array;
    beginEncoding(session, obj);
    try {
      bytes = encode(value);
      // Checked before writing: a result too large for the wire fails its call, not the connection
      // (and the references it exported are given back).
      const limit = this.#options.maxCallBytes ?? DEFAULT_MAX_CALL_BYTES;
      if (bytes.length > limit) throw callTooLarge(where, "result", bytes.length, limit);
    } catch (error) {
      endEncoding(true);
      return { error };
    }
    endEncoding(false);
    return { bytes, held, exported: takeExported(), value };
  }

  // Writes the answer, or the error that replaced it (`failure`: the commit of its writes failed).
  // The references a result exported are counted as sent once written (CapSession.wrote, which also
  // starts the held answer's clock), and given back when the result is not sent after all.
  #answer(conn: FrameConnection, q: number, answer: Answer, where: string, failure?: Error): void {
    if (conn.closed) return;
    if ("error" in answer || failure !== undefined) {
      const caps = this.#caps.get(conn);
      caps?.held.delete(q);
      if ("bytes" in answer) caps?.session.unsent(answer.exported);
      return this.#replyError(conn, q, "error" in answer ? answer.error : failure);
    }
    try {
      conn.writer.writeReturn(q, answer.bytes, answer.held);
    } catch (error) {
      const caps = this.#caps.get(conn);
      caps?.held.delete(q);
      caps?.session.unsent(answer.exported);
      this.#replyError(conn, q, error instanceof SourdoughError ? new SourdoughError(error.code, `${where}: ${error.message}.`) : error);
      return;
    }
    if (answer.exported !== undefined || answer.held) {
      const caps = this.#caps.get(conn);
      const held = caps?.session.wrote(answer.exported, answer.held ? q : 0, answer.value as object) === true;
      // A held result not exported (nothing the caller could release) is not held.
      if (answer.held && !held) caps?.held.delete(q);
    }
  }

  #replyError(conn: FrameConnection, q: number, error: unknown): void {
    if (conn.closed) return;
    const w = errorToWire(error);
    conn.writer.writeException(q, w.retryable, w.name, w.message, w.code, w.stack);
    conn.flushSoon();
  }

  // Ids are checked here, once per activation: an active object's key was valid when it was made.
  #activate(Class: ConcreteDurableObjectClass, call: ObjectAddress, where: string): ActiveObject {
    if (!isValidId(call.namespace, call.objectId)) {
      throw new SourdoughError(ErrorCode.BAD_ID, `${where}: ${describeValue(call.objectId)} is not an id of namespace ${call.namespace}. Make ids with the namespace's idFromName/newUniqueId/idFromString.`);
    }
    // The name becomes ctx.id.name and is recorded beside the database (sourdough-cloudflare export reads it).
    if (call.name !== undefined && !isIdOfName(call.namespace, call.objectId, call.name)) {
      throw new SourdoughError(ErrorCode.BAD_ID, `${where}: the call names object ${call.objectId} ${describeValue(call.name)}, but idFromName(${describeValue(call.name)}) is another id. Address a named object with getByName(name) or get(idFromName(name)).`);
    }
    const key = `${call.namespace}:${call.objectId}`;
    const dir = this.#options.storageDir;
    let obj: ActiveObject;
    const storage = new ObjectStorage({
      file: dir === undefined ? ":memory:" : path.join(dir, call.namespace, `${call.objectId}.sqlite`),
      name: call.name,
      onDirty: () => this.#markDirty(obj),
      onGateReleased: () => obj.gateReleased(),
      onAlarmChange: (time) => this.#alarms.changed(call.namespace, call.objectId, call.name, time),
      hasAlarmHandler: typeof (Class.prototype as { alarm?: unknown }).alarm === "function",
    });
    const id = new DurableObjectId(call.objectId, call.name, call.namespace);
    const address = { namespace: call.namespace, objectId: call.objectId, name: call.name };
    const sockets = this.#sockets;
    const state: DurableObjectState = {
      id,
      storage,
      acceptWebSocket: (ws, tags) => sockets.acceptWebSocket(address, ws, tags),
      getWebSockets: (tag) => sockets.getWebSockets(address, tag),
      getTags: (ws) => sockets.getTags(address, ws),
      setWebSocketAutoResponse: (pair) => sockets.setWebSocketAutoResponse(address, pair),
      getWebSocketAutoResponse: () => sockets.getWebSocketAutoResponse(address),
      getWebSocketAutoResponseTimestamp: (ws) => sockets.getWebSocketAutoResponseTimestamp(address, ws),
      setHibernatableWebSocketEventTimeout: (ms) => sockets.setHibernatableWebSocketEventTimeout(address, ms),
      getHibernatableWebSocketEventTimeout: () => sockets.getHibernatableWebSocketEventTimeout(address),
      blockConcurrencyWhile: (fn) => {
        const done = this.#blockConcurrencyWhile(obj, fn);
        // Cloudflare's docs call it without await in constructors: a rejection then resets the object
        // and reaches the callers whose events waited, never the isolate as an unhandled rejection.
        done.catch(() => {});
        return done;
      },
      waitUntil: (promise) => {
        obj.waiting.add(promise);
        promise.then(
          () => obj.waiting.delete(promise),
          (error: unknown) => {
            obj.waiting.delete(promise);
            this.#options.log(`sourdough: ${key}: a waitUntil() promise rejected; the object is reset: ${describeError(error)}`);
            this.#reset(obj, error);
          },
        );
      },
      get signal(): AbortSignal {
        const event = obj.current;
        if (event === undefined) {
          throw new SourdoughError(ErrorCode.BAD_OPTIONS, `${call.namespace}: ctx.signal is only known while a method starts: read it before the method's first await (const signal = this.ctx.signal).`);
        }
        return (event.controller ??= new AbortController()).signal;
      },
    };
    const { maxQueuedEvents = DEFAULT_MAX_QUEUED_EVENTS, recorder } = this.#options;
    obj = new ActiveObject({ namespace: call.namespace, objectId: call.objectId, key, storage, maxQueuedEvents, ...(recorder === undefined ? {} : { recorder }) });
    this.#objects.set(key, obj);
    this.#options.stats?.activated(call.namespace);
    try {
      obj.starting("constructor");
      obj.instance = new Class(state, this.#options.env);
    } catch (error) {
      this.#objects.delete(key);
      storage.close();
      throw error;
    }
    return obj;
  }

  #scheduleTurnEnd(): void {
    if (this.#turnEndScheduled) return;
    this.#turnEndScheduled = true;
    setImmediate(this.#turnEnd);
  }

  // End of a turn (check phase: every microtask of the turn has run): commits what the turn wrote,
  // then releases what the output gate held.
  readonly #turnEnd = (): void => {
    this.#turnEndScheduled = false;
    const failure = this.#commitPending();
    if (this.#heldAnswers.length > 0) {
      const held = this.#heldAnswers;
      this.#heldAnswers = [];
      for (const send of held) send();
      for (const conn of this.#toFlush) conn.flush(); // one write per connection for the whole batch
      this.#toFlush.clear();
    }
    if (this.#afterCommit.length === 0) return;
    const waiting = this.#afterCommit;
    this.#afterCommit = [];
    for (const release of waiting) release(failure);
  };

  /**
   * The output gate of every object of this table: `release` runs at the end of this turn, after the
   * writes made so far are committed (with the error if a commit failed). Outgoing RPC calls and
   * fetches of objects go through here; a reply is gated by its own object's commit (#finish).
   */
  afterCommit(release: (error: Error | undefined) => void): void {
    this.#afterCommit.push(release);
    this.#scheduleTurnEnd();
  }

  /**
   * Commits every object's pending writes. An object whose commit fails is reset (its uncommitted
   * writes and waiting events are dropped) and the first such error is returned: the caller must not
   * send what it was about to send (output gate).
   */
  #commitPending(): Error | undefined {
    if (this.#dirty.size === 0) return undefined;
    const dirty = [...this.#dirty];
    this.#dirty.clear();
    let failure: Error | undefined;
    for (const obj of dirty) {
      try {
        obj.storage.commit();
      } catch (error) {
        const wrapped = commitError(obj.key, error);
        obj.commitFailure = wrapped;
        failure ??= wrapped;
        this.#options.log(`sourdough: ${wrapped.message}`);
        this.#reset(obj, wrapped);
      }
    }
    return failure;
  }

  // Hibernation: drop objects with nothing running, queued, pending (waitUntil), blocked or in an
  // explicit transaction, idle for idleEvictionMs. Their databases close; the next call re-activates.
  #evictIdle(): void {
    const cutoff = Date.now() - this.#options.idleEvictionMs;
    for (const [key, obj] of this.#objects) {
      if (obj.inFlight > 0 || obj.blockers > 0 || obj.waiting.size > 0 || obj.lastActive > cutoff || obj.storage.inExplicitTransaction) continue;
      if (this.#sockets.pinsObject(key)) continue; // a WebSocket accepted with accept() needs its listeners
      if (this.#handsOutReferences(obj)) continue; // a caller still holds an RpcTarget of this object

      this.#objects.delete(key);
      this.#options.stats?.evicted(obj.namespace, obj.storage.bytesWritten);
      obj.storage.close();
      this.#sockets.evicted(key);
    }
  }

  // Cloudflare's rules: the callback holds the object's events; if it throws, or runs past the
  // timeout (which also ends a deadlock such as A → B → A under the gate), the object is reset.
  async #blockConcurrencyWhile<T>(obj: ActiveObject, fn: () => Promise<T> | T): Promise<T> {
    obj.blockers++;
    const ms = this.#options.blockConcurrencyTimeoutMs ?? DEFAULT_BLOCK_CONCURRENCY_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new SourdoughError(ErrorCode.OBJECT_RESET, `${obj.namespace} ${obj.objectId}: a blockConcurrencyWhile() callback ran longer than ${ms} ms, so the object was reset, as Cloudflare does (events waiting for it fail with this error). Look for a call that waits on this object from inside the callback, or keep the callback short.`, { retryable: true })), ms);
    });
    try {
      const running = Promise.resolve(fn());
      running.catch(() => {}); // if the timeout wins, a later rejection is moot
      const result = await Promise.race([running, timedOut]);
      obj.storage.commit();
      return result;
    } catch (error) {
      this.#reset(obj, error);
      throw error;
    } finally {
      clearTimeout(timer);
      obj.blockers--;
      if (obj.blockers === 0) obj.gateReleased();
    }
  }

  // Cloudflare resets an object whose blockConcurrencyWhile callback throws: the instance is dropped
  // with its uncommitted writes, events waiting on it fail with that error, and the next event
  // constructs a fresh instance.
  #reset(obj: ActiveObject, error: unknown): void {
    if (this.#objects.get(obj.key) === obj) this.#objects.delete(obj.key);
    this.#dirty.delete(obj);
    // Answers still waiting for these writes must not claim them: they fail with the reset's cause.
    if (obj.storage.hasUncommittedWrites) obj.commitFailure ??= error instanceof Error ? error : new Error(String(error));
    obj.storage.close({ rollback: true });
    this.#options.stats?.closed(obj.namespace, obj.storage.bytesWritten);
    this.#options.stats?.reset(obj.namespace, obj.objectId, error);
    obj.discard(error);
  }

  // An alarm is an event like a call: activated if needed, delivered through the input gate, and
  // committed before it counts as done. The object's own database decides whether it is still due.
  #fireAlarm(entry: AlarmEntry): Promise<boolean> {
    const Class = this.#options.classes.get(entry.namespace);
    if (Class === undefined) return Promise.resolve(true);
    const where = `${entry.namespace}.alarm`;
    return new Promise<boolean>((resolve) => {
      let obj: ActiveObject;
      try {
        obj = this.#objects.get(`${entry.namespace}:${entry.objectId}`) ?? this.#activate(Class, entry, where);
      } catch (error) {
        this.#options.log(`sourdough: ${where} (${entry.objectId}): could not activate the object: ${String(error)}`);
        return resolve(false);
      }
      const done = (ok: boolean) => {
        obj.inFlight--;
        obj.lastActive = Date.now();
        try {
          obj.storage.commit();
        } catch (error) {
          const failure = commitError(obj.key, error);
          this.#options.log(`sourdough: ${where}: ${failure.message}`);
          this.#reset(obj, failure);
          ok = false;
        }
        resolve(ok);
      };
      obj.deliver({
        method: "alarm",
        fail: () => resolve(false),
        run: () => {
          const stored = obj.storage.storedAlarm();
          if (stored === null || stored > Date.now()) {
            if (stored !== null) this.#alarms.changed(entry.namespace, entry.objectId, entry.name, stored);
            return done(true); // deleted or moved later by the object: nothing is due
          }
          obj.storage.markAlarmRunning(stored);
          const handler = (obj.instance as { alarm?: unknown }).alarm;
          const info = { retryCount: entry.retryCount, isRetry: entry.retryCount > 0 };
          Promise.resolve()
            .then(() => (typeof handler === "function" ? handler.call(obj.instance, info) : undefined))
            .then(
              () => {
                obj.storage.completeAlarm(stored);
                done(true);
              },
              (error: unknown) => {
                obj.storage.markAlarmRunning(undefined);
                const next = entry.retryCount < MAX_ALARM_RETRIES ? ` Retry ${entry.retryCount + 1} of ${MAX_ALARM_RETRIES} follows with backoff.` : "";
                this.#options.log(`sourdough: ${where} (${entry.objectId}) threw: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}.${next}`);
                done(false);
              },
            );
        },
      });
    });
  }

  #handsOutReferences(obj: ActiveObject): boolean {
    for (const c of this.#caps.values()) if (c.session.ownsAny(obj)) return true;
    return false;
  }

  #markDirty(obj: ActiveObject): void {
    this.#dirty.add(obj);
    this.#scheduleTurnEnd();
  }
}

const NO_RESULT = new Uint8Array(0);

/** A call's encoded result (`exported`: the export ids it carries) or the error that replaces it. */
type Answer = { bytes: Uint8Array; held: boolean; exported: number[] | undefined; value: unknown } | { error: unknown };

function commitError(key: string, cause: unknown): SourdoughError {
  const why = cause instanceof Error ? cause.message : String(cause);
  return new SourdoughError(ErrorCode.STORAGE, `${key}: committing the object's writes failed (${why}); the object was reset and messages sent after those writes were dropped. Retry the call.`, { cause, retryable: true });
}

function describeError(error: unknown): string {
  return error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : String(error);
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === "object" && typeof (value as { then?: unknown }).then === "function";
}
