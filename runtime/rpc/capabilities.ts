// Functions and RpcTargets passed by reference (Cap'n Proto style capabilities), one table per
// connection and side. The side that sends a function or an RpcTarget instance in arguments or a
// result exports it: it gets an export id, unique on that connection, and the payload carries the id
// (msgpackr extension 0x67, see payload.ts). The receiving side imports it as a handle whose calls
// are ordinary `Call` messages with `target` = that export id, answered with Return/Exception.
//
// Lifetime, as Cloudflare's Workers RPC: a handle received in a call's arguments is released when that
// call completes unless the receiver dup()s it; a handle received in a result belongs to the caller
// (`using`, or handle[Symbol.dispose]()); disposing every handle of an import sends one Release, and
// an export whose references are all released is dropped (an RpcTarget's own [Symbol.dispose] runs
// then, as on Cloudflare). A connection's close drops all its exports and breaks all its imports.
import { inspect } from "node:util";
import { ErrorCode, SourdoughError, describeValue } from "../errors.ts";
import type { CallMessage } from "../wire/envelope.ts";

/**
 * Cloudflare's RpcTarget (`cloudflare:workers`): instances of a subclass are passed over RPC by
 * reference; the receiver gets a handle whose method calls run here, on the instance.
 */
export class RpcTarget {
  // A brand, as in @cloudflare/workers-types: only RpcTarget subclasses are RpcTargets to the type
  // checker (an empty class would match every object structurally).
  declare readonly [RPC_TARGET_BRAND]: never;
}
declare const RPC_TARGET_BRAND: unique symbol;

/** Most exports one connection side holds at once (functions and RpcTargets alive on the peer). */
export const DEFAULT_MAX_EXPORTS = 10_000;

/** A reference the receiving side holds: a callable handle with dup() and [Symbol.dispose](). */
export interface RpcHandle {
  dup(): RpcHandle;
  [Symbol.dispose](): void;
}

/** How a session sends what it cannot send itself: calls on imports, Releases and Finishes. */
export interface CapWire {
  /**
   * Sends a call to the peer's export `target` (or to its held answer `promisedAnswer`). `exported`:
   * the export ids `payload` carries (takeExported()), for a side that counts its sends (wrote()).
   */
  call(target: number, promisedAnswer: number, method: string, payload: Uint8Array, where: string, exported?: number[]): Promise<unknown>;
  release(exportId: number, count: number): void;
  /** Whether `promisedAnswer` calls can be sent for this still-unanswered question (pipelining). */
  canPipeline(questionId: number): boolean;
  /** The question id of the last call sent through call() (0: none, or this side does not pipeline). */
  readonly lastQuestionId: number;
  /** Who the peer is, for messages ("the caller's connection", "host 0 isolate 1"). */
  readonly peer: string;
}

interface ExportEntry {
  value: object;
  /** References encoded and not released (sent, or about to be). */
  refs: number;
  /** The object whose event exported it (object side): its calls run through that object's input gate. */
  owner: unknown;
  /** Payloads carrying it written to the connection so far, each occurrence counted (wrote()). */
  written: number;
  /** References the peer released so far (the sum of its Releases' counts). */
  released: number;
  /**
   * Held answers (Return.heldAnswer) that are this export: question id → the index, among the
   * written sends of this export, of the Return that carried it. Insertion order is write order.
   */
  answers: Map<number, number> | undefined;
}

/** One import of a connection side (the peer's export `id`), shared by its handles. */
export interface ImportEntry {
  id: number;
  /** Times the peer sent this export to us: the count our Release gives back. */
  remote: number;
  /** Live local handles (each dup() adds one). */
  handles: number;
  released: boolean;
}

// The encode/decode state payload.ts consults while msgpackr runs (synchronously), one frame per
// level of nesting, reused across calls: a call whose arguments and result hold no reference
// allocates nothing for references (the list of exports or imports is made when the first one is met).
class EncodeFrame {
  session: CapSession | undefined;
  owner: unknown;
  exported: number[] | undefined;
}
class DecodeFrame {
  session: CapSession | undefined;
  imported: RpcHandle[] | undefined;
}
const encodeFrames: EncodeFrame[] = [];
/** The export ids the last successful endEncoding() saw (undefined: none); see takeExported(). */
let lastExported: number[] | undefined;
const decodeFrames: DecodeFrame[] = [];
let encodeDepth = 0;
let decodeDepth = 0;
const NONE: RpcHandle[] = [];

/**
 * Starts encoding a call's arguments or result: until endEncoding(), functions and RpcTargets met are
 * exported through `session` (`owner`: the object whose event exports them). Without a session,
 * references are refused. Calls nest; each beginEncoding() needs its endEncoding().
 */
export function beginEncoding(session: CapSession | undefined, owner: unknown): void {
  const frame = (encodeFrames[encodeDepth++] ??= new EncodeFrame());
  frame.session = session;
  frame.owner = owner;
  frame.exported = undefined;
}

/**
 * Ends what beginEncoding() started; says how many references were exported. `failed`: nothing was
 * sent, so the references the encoding added are given back.
 */
export function endEncoding(failed: boolean): number {
  const frame = encodeFrames[--encodeDepth]!;
  const { session, exported } = frame;
  frame.session = undefined;
  frame.owner = undefined;
  frame.exported = undefined;
  lastExported = failed ? undefined : exported;
  if (exported === undefined) return 0;
  if (failed) session!.unsent(exported);
  return exported.length;
}

/**
 * The export ids the payload just encoded carries (one per occurrence), undefined for none: take it
 * right after the encoding, to tell the session when that payload is written (wrote()) or dropped
 * unsent (unsent()).
 */
export function takeExported(): number[] | undefined {
  const exported = lastExported;
  lastExported = undefined;
  return exported;
}

/** Starts decoding a call's arguments or result: references met until endDecoding() are imported through `session`. */
export function beginDecoding(session: CapSession | undefined): void {
  const frame = (decodeFrames[decodeDepth++] ??= new DecodeFrame());
  frame.session = session;
  frame.imported = undefined;
}

/** Ends what beginDecoding() started: the handles imported meanwhile (a shared empty array for none). */
export function endDecoding(): RpcHandle[] {
  const frame = decodeFrames[--decodeDepth]!;
  const imported = frame.imported ?? NONE;
  frame.session = undefined;
  frame.imported = undefined;
  return imported;
}

function encodingFrame(): EncodeFrame | undefined {
  const frame = encodeDepth > 0 ? encodeFrames[encodeDepth - 1] : undefined;
  return frame?.session === undefined ? undefined : frame;
}
function decodingFrame(): DecodeFrame | undefined {
  const frame = decodeDepth > 0 ? decodeFrames[decodeDepth - 1] : undefined;
  return frame?.session === undefined ? undefined : frame;
}

/** True while a call's arguments or result are encoded (references may cross). */
export function referencesAllowed(): boolean {
  return encodingFrame() !== undefined;
}

/** Called by payload.ts for a function or RpcTarget being encoded: its export id on this connection. */
export function exportForEncoding(value: object, where: () => string): number {
  const frame = encodingFrame();
  if (frame === undefined) {
    throw new TypeError(`${describeValue(value)} cannot cross here: functions and RpcTargets travel by reference only in the arguments or result of an RPC call (${where()})`);
  }
  const id = frame.session!.exportValue(value, frame.owner);
  (frame.exported ??= []).push(id);
  return id;
}

/** Called by payload.ts for an export id being decoded: a handle of this connection's import. */
export function importForDecoding(id: unknown): RpcHandle {
  const frame = decodingFrame();
  if (frame === undefined || typeof id !== "number" || !Number.isInteger(id) || id <= 0) {
    throw new SourdoughError(ErrorCode.PROTOCOL, `a reference (function or RpcTarget) with export id ${describeValue(id)} arrived outside an RPC call's arguments or result; the sender is not speaking sourdough's payload encoding`);
  }
  const handle = frame.session!.importRef(id);
  (frame.imported ??= []).push(handle);
  return handle;
}

/**
 * Called by payload.ts for a ReadableStream's export id being decoded: a handle the stream owns (it
 * is not released with the call's arguments or the result; the stream releases it when it ends).
 */
export function importStreamForDecoding(id: unknown): RpcHandle {
  const frame = decodingFrame();
  if (frame === undefined || typeof id !== "number" || !Number.isInteger(id) || id <= 0) {
    throw new SourdoughError(ErrorCode.PROTOCOL, `a ReadableStream with export id ${describeValue(id)} arrived outside an RPC call's arguments or result; the sender is not speaking sourdough's payload encoding`);
  }
  return frame.session!.importRef(id);
}

/** Adds `handle` to what the payload being decoded imported (released with a call's arguments). */
export function trackForDecoding(handle: RpcHandle): void {
  const frame = decodingFrame();
  if (frame !== undefined) (frame.imported ??= []).push(handle);
}

/**
 * Runs `encode` with `session` exporting the functions and RpcTargets it meets; says how many. When
 * encoding fails, the references it added are given back (nothing was sent).
 */
export function encodeWithSession<T>(session: CapSession | undefined, owner: unknown, encode: () => T): { value: T; exported: number } {
  beginEncoding(session, owner);
  let value: T;
  try {
    value = encode();
  } catch (error) {
    endEncoding(true);
    throw error;
  }
  return { value, exported: endEncoding(false) };
}

/** Runs `decode` with `session` importing the references it meets; returns them with the value. */
export function decodeWithSession<T>(session: CapSession | undefined, decode: () => T): { value: T; imported: RpcHandle[] } {
  beginDecoding(session);
  let value: T;
  try {
    value = decode();
  } catch (error) {
    disposeAll(endDecoding()); // nothing will hold them
    throw error;
  }
  return { value, imported: endDecoding() };
}

/** True for what crosses by reference: functions (not classes) and RpcTarget instances. */
export function isReference(value: unknown): value is object {
  return typeof value === "function" || value instanceof RpcTarget;
}

const HANDLE = Symbol("sourdough.rpcHandle");
const ENTRY = Symbol("sourdough.rpcHandle.entry");

/** The export and import tables of one side of one connection. */
export class CapSession {
  readonly #wire: CapWire;
  readonly #maxExports: number;
  readonly #exports = new Map<number, ExportEntry>();
  readonly #byValue = new Map<object, number>();
  readonly #imports = new Map<number, ImportEntry>();
  #nextExport = 1;
  #closed: string | undefined;

  readonly #answerDropped: ((questionId: number, value: object) => void) | undefined;

  /**
   * `answerDropped`: told when a held answer (wrote() with `answer`) may go: the peer released the
   * reference that Return carried, or the export was dropped. The side that holds it lets it go.
   */
  constructor(wire: CapWire, maxExports = DEFAULT_MAX_EXPORTS, answerDropped?: (questionId: number, value: object) => void) {
    this.#wire = wire;
    this.#maxExports = maxExports;
    this.#answerDropped = answerDropped;
  }

  /**
   * Payloads carrying the export ids `exported` (takeExported()) were written to the connection, in
   * the order of the calls. `answer` (non-zero): that payload is the Return of question `answer`
   * whose result, the export of `value`, is held for pipelined calls: it is let go once the peer's
   * Releases cover this send. The peer receives sends in the order they were written and releases,
   * for an import, every reference it received since its last Release of it, so a Release(count)
   * covers exactly the next `count` sends written: the answers among them are no longer needed (the
   * peer pipelines on a question only until it has its Return, and calls it sent before are ahead
   * of the Release on the connection). True when the answer is held (`value` is exported).
   */
  wrote(exported: number[] | undefined, answer = 0, value?: object): boolean {
    if (exported === undefined) return false;
    let held = false;
    for (const id of exported) {
      const entry = this.#exports.get(id);
      if (entry === undefined) continue;
      if (!held && answer !== 0 && entry.value === value) {
        (entry.answers ??= new Map()).set(answer, entry.written);
        held = true;
      }
      entry.written++;
    }
    return held;
  }

  /** Payloads carrying `exported` (takeExported()) were dropped unsent: their references go back. */
  unsent(exported: number[] | undefined): void {
    if (exported === undefined) return;
    for (const id of exported) {
      const entry = this.#exports.get(id);
      if (entry !== undefined && --entry.refs <= 0) this.#drop(id, entry);
    }
  }

  /** The peer sent Finish for the held answer of `questionId` (its export is `value`): O(1). */
  unholdAnswer(value: object, questionId: number): void {
    const id = this.#byValue.get(value);
    if (id !== undefined) this.#exports.get(id)!.answers?.delete(questionId);
  }

  /** Held answers tied to exports (wrote() with an answer, not yet released, finished or dropped). */
  get heldAnswerCount(): number {
    let n = 0;
    for (const e of this.#exports.values()) n += e.answers?.size ?? 0;
    return n;
  }

  /**
   * Whether `value` is a handle of an import this side received exactly once and still holds: its
   * Release will drop the peer's export (and the answer the peer holds with it).
   */
  isSoleImport(value: unknown): boolean {
    if (typeof value !== "function") return false;
    const entry = (value as unknown as Record<symbol, ImportEntry | undefined>)[ENTRY];
    return entry !== undefined && entry.remote === 1 && !entry.released && this.#imports.get(entry.id) === entry;
  }

  /** Exports held for the peer (tests check it is 0 once a connection closed, or calls completed). */
  get exportCount(): number {
    return this.#exports.size;
  }

  /** Imports with live handles. */
  get importCount(): number {
    return this.#imports.size;
  }

  get closed(): boolean {
    return this.#closed !== undefined;
  }

  /** Exports `value` (or adds a reference to its existing export): the id the peer calls it by. */
  exportValue(value: object, owner: unknown): number {
    if (this.#closed !== undefined) throw released(`${describeValue(value)} cannot be passed: ${this.#closed}`);
    const known = this.#byValue.get(value);
    if (known !== undefined) {
      this.#exports.get(known)!.refs++;
      return known;
    }
    if (this.#exports.size >= this.#maxExports) {
      throw new SourdoughError(ErrorCode.TOO_MANY_REFERENCES, `${describeValue(value)} cannot be passed by reference: ${this.#wire.peer} already holds ${this.#maxExports} functions and RpcTargets of this side (the most one connection may hold). The receiver must release them: dispose handles it keeps (handle[Symbol.dispose]() or \`using\`), and dup() only what it needs.`);
    }
    let id = this.#nextExport;
    while (this.#exports.has(id)) id = id === 0xffffffff ? 1 : id + 1;
    this.#nextExport = id === 0xffffffff ? 1 : id + 1;
    this.#exports.set(id, { value, refs: 1, owner, written: 0, released: 0, answers: undefined });
    this.#byValue.set(value, id);
    return id;
  }

  /** The peer sent Release: it dropped `count` references. Unknown ids are ignored (already dropped). */
  releaseExport(id: number, count: number): void {
    const entry = this.#exports.get(id);
    if (entry === undefined) return;
    count = Math.max(1, count);
    entry.refs -= count;
    if (entry.refs <= 0) return this.#drop(id, entry);
    // The Release covers the first `released` sends written: the answers they carried may go.
    const answers = entry.answers;
    if (answers === undefined || answers.size === 0) {
      entry.released += count;
      return;
    }
    const released = (entry.released += count);
    for (const [q, at] of answers) {
      if (at >= released) break;
      answers.delete(q);
      this.#answerDropped?.(q, entry.value);
    }
  }

  #drop(id: number, entry: ExportEntry): void {
    this.#exports.delete(id);
    this.#byValue.delete(entry.value);
    if (entry.answers !== undefined) for (const q of entry.answers.keys()) this.#answerDropped?.(q, entry.value);
    // Cloudflare calls an RpcTarget's [Symbol.dispose] once every stub of it is disposed.
    if (entry.value instanceof RpcTarget) {
      const dispose = (entry.value as { [Symbol.dispose]?: unknown })[Symbol.dispose];
      if (typeof dispose === "function") {
        try {
          dispose.call(entry.value);
        } catch {
          // a failing dispose hook has nobody to report to (as on Cloudflare)
        }
      }
    }
  }

  /**
   * What a Call to export `target` runs: the function, or the RpcTarget's method. Throws
   * ERR_REFERENCE_RELEASED for an id not exported (released, or forged) and ERR_METHOD_NOT_FOUND for
   * a name the target does not expose.
   */
  resolveCall(target: number, method: string, where: string): { fn: (...args: unknown[]) => unknown; self: unknown; owner: unknown } {
    const entry = this.#exports.get(target);
    if (entry === undefined) {
      throw released(`${where}: export ${target} does not exist on ${this.#wire.peer}'s connection: it was released (disposed, or passed as an argument to a call that completed without dup()), or never handed out`);
    }
    return { ...resolveMember(entry.value, method, where), owner: entry.owner };
  }

  /** Whether any export was handed out by `owner` (an object with live references is not evicted). */
  ownsAny(owner: unknown): boolean {
    for (const e of this.#exports.values()) if (e.owner === owner) return true;
    return false;
  }

  /** The value of export `id`, if it is exported (a held answer resolves to it). */
  exported(id: number): { value: object; owner: unknown } | undefined {
    const e = this.#exports.get(id);
    return e === undefined ? undefined : { value: e.value, owner: e.owner };
  }

  /** A handle of the peer's export `id` (one more reference of the peer's). */
  importRef(id: number): RpcHandle {
    let entry = this.#imports.get(id);
    if (entry === undefined) {
      entry = { id, remote: 0, handles: 0, released: false };
      this.#imports.set(id, entry);
    }
    entry.remote++;
    return this.#handle(entry);
  }

  #handle(entry: ImportEntry): RpcHandle {
    entry.handles++;
    return new Proxy(STUB_TARGET, new ImportHandler(this, entry)) as unknown as RpcHandle;
  }

  /** A call on import `entry` through one of its handles (ImportHandler); `disposed`: that handle's state. */
  callImport(entry: ImportEntry, disposed: boolean, method: string, args: unknown[]): Promise<unknown> {
    const where = method === "" ? `callback ${entry.id}` : `RpcTarget ${entry.id}.${method}`;
    if (this.#closed !== undefined && !disposed) return Promise.reject(released(`${where}: ${this.#closed}`));
    if (disposed || entry.released) return Promise.reject(released(`${where}: called after the reference was released (disposed, or received as an argument of a call that has completed; dup() it to keep it past the call)`));
    let payload: Uint8Array;
    try {
      payload = encodeArgs(this, args, where);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#wire.call(entry.id, 0, method, payload, where, takeExported());
  }

  /** One handle of import `entry` was disposed: the last one sends the Release. */
  disposeImport(entry: ImportEntry): void {
    entry.handles--;
    if (entry.handles === 0 && !entry.released) {
      entry.released = true;
      this.#imports.delete(entry.id);
      if (this.#closed === undefined) this.#wire.release(entry.id, entry.remote);
    }
  }

  /** Another handle of import `entry` (dup() on a handle; `disposed`: that handle's state). */
  dupImport(entry: ImportEntry, disposed: boolean, description: string): RpcHandle {
    if (disposed || entry.released) throw released(`${description}: dup() called after the reference was released`);
    return this.#handle(entry);
  }

  get wire(): CapWire {
    return this.#wire;
  }

  /**
   * The connection closed: every export is dropped (RpcTargets' [Symbol.dispose] runs) and every
   * import fails its calls with ERR_REFERENCE_RELEASED saying why.
   */
  close(reason: string): void {
    if (this.#closed !== undefined) return;
    this.#closed = reason;
    for (const [id, entry] of [...this.#exports]) this.#drop(id, entry);
    for (const entry of this.#imports.values()) entry.released = true;
    this.#imports.clear();
  }
}

/** True for a handle of an import (a reference received from the peer). */
export function isRpcHandle(value: unknown): boolean {
  return typeof value === "function" && (value as unknown as Record<symbol, unknown>)[HANDLE] === true;
}

// Every handle is a Proxy over this one callable target (the traps never read it): a handle costs
// its Proxy and its ImportHandler; bound methods are made when first read.
const STUB_TARGET = ((): void => {}) as unknown as Record<PropertyKey, unknown>;

class ImportHandler implements ProxyHandler<Record<PropertyKey, unknown>> {
  #disposed = false;
  #methods: Map<string, (...args: unknown[]) => Promise<unknown>> | undefined;
  #dispose: (() => void) | undefined;
  constructor(
    readonly session: CapSession,
    readonly entry: ImportEntry,
  ) {}

  #describeFn: (() => string) | undefined;
  get #describe(): () => string {
    return (this.#describeFn ??= () => `RpcStub(export ${this.entry.id} of ${this.session.wire.peer}${this.#disposed || this.entry.released ? ", released" : ""})`);
  }

  #call(method: string, args: unknown[]): Promise<unknown> {
    const wire = this.session.wire;
    const before = wire.lastQuestionId;
    const promise = this.session.callImport(this.entry, this.#disposed, method, args);
    return rpcPromise(promise, wire, questionAfter(wire, before), method === "" ? `callback ${this.entry.id}` : `RpcTarget ${this.entry.id}.${method}`);
  }

  apply(_t: unknown, _this: unknown, args: unknown[]): unknown {
    return this.#call("", args);
  }

  get(_t: unknown, prop: PropertyKey): unknown {
    if (prop === "dup") return () => this.session.dupImport(this.entry, this.#disposed, this.#describe());
    if (prop === Symbol.dispose) {
      return (this.#dispose ??= () => {
        if (this.#disposed) return; // releasing twice is harmless, as Cloudflare's
        this.#disposed = true;
        this.session.disposeImport(this.entry);
      });
    }
    if (prop === HANDLE) return true;
    if (prop === ENTRY) return this.entry;
    if (prop === "then" || typeof prop !== "string") {
      if (prop === inspect.custom || prop === Symbol.toPrimitive) return this.#describe;
      return undefined;
    }
    if (prop === "toString") return this.#describe;
    if (prop === "toJSON") return undefined; // msgpackr would send toJSON()'s text instead of the reference
    const methods = (this.#methods ??= new Map());
    let m = methods.get(prop);
    if (m === undefined) {
      m = (...args: unknown[]) => this.#call(prop, args);
      methods.set(prop, m);
    }
    return m;
  }

  has(): boolean {
    return false;
  }

  set(): boolean {
    return false;
  }

  // Every handle shares STUB_TARGET: what would change it (Object.freeze, defineProperty, delete,
  // setPrototypeOf) is refused, or one handle's freeze would break every other handle.
  defineProperty(_t: unknown, prop: PropertyKey): boolean {
    throw unchangeable(`${this.#describe()}: cannot define property ${String(prop)}`);
  }

  deleteProperty(_t: unknown, prop: PropertyKey): boolean {
    throw unchangeable(`${this.#describe()}: cannot delete property ${String(prop)}`);
  }

  preventExtensions(): boolean {
    throw unchangeable(`${this.#describe()}: cannot be frozen, sealed or made non-extensible`);
  }

  setPrototypeOf(): boolean {
    throw unchangeable(`${this.#describe()}: cannot change its prototype`);
  }
}

function unchangeable(what: string): TypeError {
  return new TypeError(`${what}; an RPC stub is a reference to an object on the other side of the connection and cannot be changed. Copy the values you need into an object of your own.`);
}

/** Disposes handles (the arguments of a completed call, or everything in a disposed result). */
export function disposeAll(handles: readonly RpcHandle[]): void {
  for (const h of handles) h[Symbol.dispose]();
}

// Names an RpcTarget never exposes: its construction, Object.prototype's, and the lifetime protocol.
const NOT_EXPOSED = new Set<string>(["constructor", "dup", "then", "__proto__", ...Object.getOwnPropertyNames(Object.prototype)]);

/** The function, or the RpcTarget's method, a call named `method` runs; throws ERR_METHOD_NOT_FOUND. */
export function resolveMember(value: object, method: string, where: string): { fn: (...args: unknown[]) => unknown; self: unknown } {
  if (typeof value === "function") {
    if (method !== "") throw new SourdoughError(ErrorCode.METHOD_NOT_FOUND, `${where}: the reference is a function; call it directly (callback(...)), it has no method ${describeValue(method)}.`);
    return { fn: value as (...args: unknown[]) => unknown, self: undefined };
  }
  if (method === "") throw new SourdoughError(ErrorCode.METHOD_NOT_FOUND, `${where}: the reference is an RpcTarget (${describeValue(value)}), not a function; call one of its methods.`);
  // Cloudflare exposes an RpcTarget's prototype methods, not its own instance properties.
  let member: unknown;
  if (!NOT_EXPOSED.has(method) && !method.startsWith("#")) {
    for (let p: object | null = Object.getPrototypeOf(value) as object | null; p !== null && p !== RpcTarget.prototype && p !== Object.prototype; p = Object.getPrototypeOf(p) as object | null) {
      const d = Object.getOwnPropertyDescriptor(p, method);
      if (d !== undefined) {
        member = d.value;
        break;
      }
    }
  }
  if (typeof member !== "function") {
    throw new SourdoughError(ErrorCode.METHOD_NOT_FOUND, `${where}: ${describeValue(value)} has no method ${describeValue(method)} callable over RPC (an RpcTarget exposes the methods of its class, not instance properties). Add the method to the class.`);
  }
  return { fn: member as (...args: unknown[]) => unknown, self: value };
}

function released(message: string): SourdoughError {
  return new SourdoughError(ErrorCode.REFERENCE_RELEASED, message.endsWith(".") ? message : `${message}.`);
}

// Arguments of a call on a reference: encoded like any call's (they may carry references too).
let encodeArgsImpl: ((session: CapSession, args: unknown[], where: string) => Uint8Array) | undefined;
/** payload.ts installs the encoder (it imports this module, not the reverse). */
export function setArgumentEncoder(encode: (session: CapSession, args: unknown[], where: string) => Uint8Array): void {
  encodeArgsImpl = encode;
}
function encodeArgs(session: CapSession, args: unknown[], where: string): Uint8Array {
  return encodeArgsImpl!(session, args, `${where} arguments`);
}

// ---- RpcPromise: a call's promise usable as the target of further calls (promise pipelining) ------

/** What a reference becomes on the receiving side: its methods (or itself, for a function) return RpcPromises. */
export type RpcStub<T> = (T extends (...args: infer A) => infer R ? (...args: A) => RpcPromise<Awaited<R>> : unknown) & {
  [K in keyof T as K extends "constructor" | "dup" ? never : T[K] extends (...args: never[]) => unknown ? K : never]: T[K] extends (...args: infer A) => infer R ? (...args: A) => RpcPromise<Awaited<R>> : never;
} & RpcHandle;

/** A result as the caller receives it: RpcTargets and functions become stubs. */
export type Stubified<T> = T extends RpcTarget | ((...args: never[]) => unknown) ? RpcStub<T> : T;

/**
 * A call's pending result. When the result is an RpcTarget, its methods can be called before it
 * resolves (promise pipelining: `await stub.getRoom("a").post("hi")` is one round trip).
 */
export type RpcPromise<T> = Promise<Stubified<T>> & ([T] extends [never] ? unknown : [T] extends [RpcTarget] ? Omit<RpcStub<T>, "dup" | typeof Symbol.dispose> : unknown);

/**
 * Wraps a call's promise so that `p.method(...)` works before it resolves: when the call is still
 * unanswered on the connection that carries it (`wire.canPipeline(questionId)`), the next call goes
 * out at once addressed to its answer (Call.promisedAnswer); otherwise it waits for the result and
 * calls the method on it (one more round trip, same outcome).
 */
export function rpcPromise(promise: Promise<unknown>, wire: CapWire | undefined, questionId: number | undefined, where: string): Promise<unknown> {
  return new Proxy(promise, new PipelineHandler(promise, wire, questionId, where));
}

// One small object per call (the Proxy's handler); the bound then/catch/finally and the method
// functions are made on first use only, so `await stub.m()` pays for the Proxy and this object.
class PipelineHandler implements ProxyHandler<Promise<unknown>> {
  #then: Promise<unknown>["then"] | undefined;
  #methods: Map<string, (...args: unknown[]) => Promise<unknown>> | undefined;
  /** Whether the caller looked at the result itself (then/catch/finally): then it owns it. */
  #observed = false;
  /** Calls pipelined on this result that have not settled. */
  #outstanding = 0;
  constructor(
    readonly promise: Promise<unknown>,
    readonly wire: CapWire | undefined,
    readonly questionId: number | undefined,
    readonly where: string,
  ) {}

  get(p: Promise<unknown>, prop: PropertyKey): unknown {
    if (prop === "then") {
      this.#observed = true;
      return (this.#then ??= p.then.bind(p));
    }
    if (prop === "catch" || prop === "finally") {
      this.#observed = true;
      return (p[prop] as (...a: unknown[]) => unknown).bind(p);
    }
    if (typeof prop !== "string" || prop === "constructor") return (p as unknown as Record<PropertyKey, unknown>)[prop];
    const methods = (this.#methods ??= new Map());
    let m = methods.get(prop);
    if (m === undefined) {
      m = (...args: unknown[]) => this.#pipelined(prop, args);
      methods.set(prop, m);
    }
    return m;
  }

  // A result only pipelined on, never awaited, is released once its pipelined calls settled (as
  // capnweb does): nobody else can reach it. Its failure reaches the caller through those calls.
  #pipelined(method: string, args: unknown[]): Promise<unknown> {
    if (this.#outstanding++ === 0) this.promise.then(NOOP, NOOP);
    const settled = (): void => {
      if (--this.#outstanding > 0 || this.#observed) return;
      this.promise.then((value) => {
        if (!this.#observed) releaseResult(value);
      }, NOOP);
    };
    const [raw, question, here] = this.#send(method, args);
    raw.then(settled, settled);
    return rpcPromise(raw, this.wire, question, here);
  }

  // Sends (or, when the answer is no longer pipelinable, chains) the call: its promise and question.
  #send(method: string, args: unknown[]): [Promise<unknown>, number | undefined, string] {
    const { promise, wire, questionId, where } = this;
    const here = `${where} → ${method}`;
    if (wire !== undefined && questionId !== undefined && wire.canPipeline(questionId)) {
      const session = pipelineSession(wire);
      const before = wire.lastQuestionId;
      let payload: Uint8Array;
      try {
        payload = encodeArgs(session!, args, here);
      } catch (error) {
        return [Promise.reject(error), undefined, here];
      }
      // If the call it depends on fails, that failure is the pipelined call's too.
      const sent = wire.call(0, questionId, method, payload, here).catch((error: unknown) =>
        promise.then(
          () => Promise.reject(error),
          (first: unknown) => Promise.reject(first),
        ),
      );
      return [sent, questionAfter(wire, before), here];
    }
    return [
      promise.then((value) => {
        const fn = (value as Record<string, unknown> | null | undefined)?.[method];
        if (!isRpcHandle(value) || typeof fn !== "function") {
          throw new SourdoughError(ErrorCode.METHOD_NOT_FOUND, `${here}: the result of ${where} is ${describeValue(value)}, not an RpcTarget, so it has no RPC method ${describeValue(method)}.`);
        }
        return (fn as (...a: unknown[]) => unknown)(...args);
      }),
      undefined,
      here,
    ];
  }
}

const NOOP = (): void => {};

/** Releases what a result holds: a handle, or an object result's references ([Symbol.dispose]). */
function releaseResult(value: unknown): void {
  const dispose = (value as { [Symbol.dispose]?: unknown } | null | undefined)?.[Symbol.dispose];
  if ((typeof value === "object" || typeof value === "function") && typeof dispose === "function") (dispose as () => void).call(value);
}

/** The question a call just made was given, or undefined when it was refused before it got one. */
export function questionAfter(wire: { readonly lastQuestionId: number }, before: number): number | undefined {
  const after = wire.lastQuestionId;
  return after !== before && after !== 0 ? after : undefined;
}

// The session whose exports a pipelined call's arguments join (the wire knows its connection's).
const sessions = new WeakMap<CapWire, () => CapSession>();
export function registerWireSession(wire: CapWire, session: () => CapSession): void {
  sessions.set(wire, session);
}
function pipelineSession(wire: CapWire): CapSession | undefined {
  return sessions.get(wire)?.();
}

/** Used by the receiving side of a call on an export or a held answer. */
export type ExportCall = Pick<CallMessage, "target" | "promisedAnswer" | "method" | "payload" | "questionId">;
