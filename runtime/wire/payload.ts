// Payload encoding for arguments and results: msgpackr with structured-clone semantics (Date, Map, Set,
// RegExp, Error, bigint, typed arrays, nested and cyclic objects, undefined vs null). Values that cannot
// be copied faithfully (functions, symbols, class instances, WeakMap, Promise, ...) are refused with the
// path to the offending value, as workerd refuses them with a DataCloneError.
import { Packr, addExtension } from "msgpackr";
import { ErrorCode, SourdoughError, describeValue } from "../errors.ts";
import { describeBytes } from "./limits.ts";
import { exportStream, importStream } from "../rpc/streams.ts";
import { RpcTarget, beginDecoding, beginEncoding, disposeAll, endDecoding, endEncoding, exportForEncoding, importForDecoding, referencesAllowed, setArgumentEncoder, type CapSession, type RpcHandle } from "../rpc/capabilities.ts";

const REFUSED: ReadonlyArray<{ Class: abstract new (...args: never[]) => object; why: string }> = [
  { Class: Promise, why: "a Promise cannot cross RPC. Await it and pass the result" },
  { Class: WeakMap, why: "a WeakMap cannot cross RPC. Use a Map" },
  { Class: WeakSet, why: "a WeakSet cannot cross RPC. Use a Set" },
  { Class: WeakRef, why: "a WeakRef cannot cross RPC. Pass the referenced value" },
];

const TypedArray = Object.getPrototypeOf(Uint8Array) as abstract new () => object;
// What msgpackr copies faithfully besides plain objects, arrays and Maps (subclasses arrive as the base class).
const BUILT_INS: ReadonlyArray<abstract new (...args: never[]) => object> = [Date, Set, RegExp, ArrayBuffer, TypedArray, DataView, Error];
const BOXED: ReadonlyArray<abstract new (...args: never[]) => object> = [String, Number, Boolean, BigInt as unknown as new () => object, Symbol as unknown as new () => object];

/**
 * Why `value` (an object) cannot be copied, or undefined when it can. msgpackr asks only about objects
 * that are not plain objects, arrays or Maps, so plain data pays nothing for this check.
 */
function refusal(value: object): string | undefined {
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null || proto === Map.prototype || Array.isArray(value)) return undefined;
  for (const Class of BUILT_INS) if (value instanceof Class) return undefined;
  if (value instanceof RpcTarget || value instanceof ReadableStream) return undefined;
  for (const { Class, why } of REFUSED) if (value instanceof Class) return why;
  if (BOXED.some((Class) => value instanceof Class)) {
    return `a boxed ${describeValue(value).slice(2)} cannot cross RPC. Pass the primitive (value.valueOf())`;
  }
  const name = className(proto);
  if (name === "Object" && Object.getPrototypeOf(proto) === null) return undefined; // a plain object of another realm
  if (value instanceof Map) return `a ${name} instance (a Map subclass) cannot cross RPC: it would arrive without its entries. Pass new Map(value)`;
  const fix = typeof (value as { toJSON?: unknown }).toJSON === "function" ? "Pass value.toJSON() or a plain object" : "Pass a plain object (e.g. { ...value })";
  return `a ${name} instance cannot cross RPC (class instances lose their prototype and methods). ${fix} and rebuild the instance on the other side`;
}

function className(proto: unknown): string {
  const ctor = (proto as { constructor?: { name?: unknown } } | null)?.constructor;
  return typeof ctor?.name === "string" && ctor.name !== "" ? ctor.name : "(anonymous class)";
}

// msgpackr consults extensions through `instanceof`; this class answers "is it refused?" for the objects
// msgpackr could not place itself. Its writer throws, so its type never reaches a reader.
class Unclonable {
  static [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === "object" && value !== null && refusal(value) !== undefined;
  }
}

// Extension types 0x5f-0x64 are private to sourdough. The refusing writers always throw.
[...REFUSED, { Class: Unclonable as unknown as abstract new () => object, why: "" }].forEach(({ Class }, i) => {
  addExtension({
    Class: Class as unknown as new () => object,
    type: i === REFUSED.length ? 0x5f : 0x60 + i,
    write(value: object) {
      throw new TypeError(refusal(value) ?? "this value cannot cross RPC");
    },
    read() {
      throw new TypeError("a refused value reached a reader");
    },
  });
});

// Errors keep their class name (built-in constructors are restored; others arrive as Error with their
// name), message, stack, cause and a string or number `code`.
const ERRORS: Record<string, ErrorConstructor> = { Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError };
addExtension({
  Class: Error,
  type: 0x64,
  write(error: Error) {
    const code = (error as { code?: unknown }).code;
    return [error.name, error.message, error.stack, error.cause, typeof code === "string" || typeof code === "number" ? code : undefined];
  },
  read(data: unknown) {
    const [name, message, stack, cause, code] = Array.isArray(data) ? data : [];
    const Ctor = (typeof name === "string" ? ERRORS[name] : undefined) ?? Error;
    const error = new Ctor(String(message ?? ""), cause === undefined ? undefined : { cause });
    if (typeof name === "string" && error.name !== name) Object.defineProperty(error, "name", { value: name, writable: true, configurable: true });
    if (typeof stack === "string") error.stack = stack;
    if (code !== undefined) Object.assign(error, { code });
    return error;
  },
});

// Functions and RpcTargets in a call's arguments or result cross by reference (rpc/capabilities.ts):
// the payload carries the sender's export id; the receiver gets a handle. 0x67: an RpcTarget,
// 0x68: a function (msgpackr hands functions to writeFunction, which returns what to write instead).
class FunctionRef {
  constructor(readonly id: number) {}
}
addExtension({
  Class: RpcTarget,
  type: 0x67,
  write: (target: RpcTarget) => exportForEncoding(target, () => "RpcTarget"),
  read: (id: unknown) => importForDecoding(id),
});
addExtension({
  Class: FunctionRef,
  type: 0x68,
  write: (ref: FunctionRef) => ref.id,
  read: (id: unknown) => importForDecoding(id),
});

// A ReadableStream of bytes crosses as an exported StreamSource (rpc/streams.ts): 0x6a, its export id
// (0x69 is msgpackr's own, for structured clone's shared references).
addExtension({
  Class: ReadableStream,
  type: 0x6a,
  write: (stream: ReadableStream<unknown>) => {
    if (!referencesAllowed()) throw new TypeError("a ReadableStream cannot cross here: streams travel only in the arguments or result of an RPC call");
    return exportStream(stream);
  },
  read: (id: unknown) => importStream(id),
});

const packr = new Packr({ structuredClone: true });
// msgpackr writes functions as undefined unless writeFunction says otherwise; its typing omits the argument.
(packr as unknown as { writeFunction: (fn: unknown) => FunctionRef }).writeFunction = (fn) => {
  if (typeof fn === "function" && /^class[\s{]/.test(Function.prototype.toString.call(fn))) throw new TypeError(`${describeValue(fn)} is a class, which cannot cross RPC. Pass an instance of an RpcTarget subclass, or data`);
  return new FunctionRef(exportForEncoding(fn as object, () => "function"));
};

/**
 * Encodes a call's arguments or result with `session` exporting the functions and RpcTargets in it
 * (`owner`: the object whose event exports them). Without a session, references are refused. A value
 * holding no reference costs nothing more than encodePayload.
 */
export function encodeCallPayload(value: unknown, where: Where, maxBytes: number | undefined, session: CapSession | undefined, owner?: unknown): Uint8Array {
  beginEncoding(session, owner);
  let bytes: Uint8Array;
  try {
    bytes = encodePayload(value, where, maxBytes);
  } catch (error) {
    endEncoding(true);
    throw error;
  }
  endEncoding(false);
  return bytes;
}

/**
 * Decodes a call's arguments or result, importing the references in it through `session`: the value,
 * and the handles imported (a shared empty array when there are none). When decoding fails, the
 * handles it made are released.
 */
export function decodeCallPayload(bytes: Uint8Array, where: Where, session: CapSession | undefined): { value: unknown; imported: RpcHandle[] } {
  const value = decodeCallValue(bytes, where, session);
  return { value, imported: takeImported() };
}

/**
 * decodeCallPayload without the pair, for the hot path: the value; the handles imported are
 * `takeImported()`'s until the next decode.
 */
export function decodeCallValue(bytes: Uint8Array, where: Where, session: CapSession | undefined): unknown {
  beginDecoding(session);
  let value: unknown;
  try {
    value = decodePayload(bytes, where);
  } catch (error) {
    disposeAll(endDecoding()); // nothing will hold them
    throw error;
  }
  lastImported = endDecoding();
  return value;
}

/** The handles the last decodeCallValue() imported (a shared empty array when none). */
export function takeImported(): RpcHandle[] {
  const imported = lastImported;
  lastImported = NO_HANDLES;
  return imported;
}
const NO_HANDLES: RpcHandle[] = [];
let lastImported = NO_HANDLES;

setArgumentEncoder((session, args, where) => encodeCallPayload(args, where, undefined, session));

/** Names what is being encoded for error messages, e.g. "Counter.add arguments"; lazy on hot paths. */
export type Where = string | (() => string);
const whereText = (where: Where): string => (typeof where === "string" ? where : where());

/**
 * Encodes `value`. Throws ERR_UNSUPPORTED_TYPE (name "DataCloneError", as workerd) with the path to a
 * value that cannot be copied, or when the value is nested too deeply to encode; ERR_TOO_LARGE when
 * the encoding cannot be held, or when a value plainly encodes to more than `maxBytes` (the sender's
 * `maxCallBytes`), e.g. an array whose length alone is over it: refused before seconds of encoding
 * (a sparse a[1e8] = 1 takes seconds and 300 MB to encode). The sender checks the exact size after.
 */
export function encodePayload(value: unknown, where: Where, maxBytes?: number): Uint8Array {
  if (maxBytes !== undefined && typeof value === "object" && value !== null && !fewPrimitives(value, maxBytes)) {
    const found = overLimit(value, maxBytes);
    if (found !== undefined) throw tooLargeValue(whereText(where), found, maxBytes);
  }
  try {
    return packr.pack(value);
  } catch (error) {
    if (isOutOfRoom(error)) {
      throw new SourdoughError(ErrorCode.TOO_LARGE, `${whereText(where)}: the value is too large to encode (${(error as Error).message}). Send less per call, or store it and pass a key.`, { cause: error });
    }
    if (error instanceof SourdoughError && (error.code === ErrorCode.TOO_MANY_REFERENCES || error.code === ErrorCode.REFERENCE_RELEASED)) {
      throw new SourdoughError(error.code, `${whereText(where)}: ${error.message}`, { cause: error });
    }
    throw unsupportedValue(value, whereText(where), error);
  }
}

// msgpackr's own ceiling and failed allocations: the value is too large, not of the wrong type.
function isOutOfRoom(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return /larger than maximum buffer size|allocation failed|Invalid typed array length|Invalid array buffer length/i.test(error.message);
}

// The usual arguments: a short array of numbers and strings, checked without allocating anything.
function fewPrimitives(value: object, maxBytes: number): boolean {
  if (!Array.isArray(value) || value.length > 16 || value.length > maxBytes) return false;
  for (let i = 0; i < value.length; i++) {
    const v: unknown = value[i];
    if (typeof v === "object" && v !== null) return false;
  }
  return true;
}

/** How many values the size pre-check looks at, at most: it is there to catch the obvious cheaply. */
const SIZE_CHECK_BUDGET = 1_000;

interface Oversized {
  path: string;
  length: number;
  least: number;
}

// Every element of an array, Set or Map costs at least one byte, so their lengths summed over the first
// SIZE_CHECK_BUDGET containers are a lower bound of the encoding. Returns the container that crossed
// maxBytes, or undefined (also when the budget ran out first: the encoder's result is checked anyway).
// It runs on every call with object arguments, so it allocates no path: each container keeps the
// index of its parent and its key, and the path is spelled out only for the error.
function overLimit(root: object, maxBytes: number): Oversized | undefined {
  const seen = new Set<object>();
  const queue: object[] = [root];
  const parents: number[] = [-1];
  const keys: Array<string | number> = [""];
  let least = 0;
  for (let i = 0; i < queue.length && i < SIZE_CHECK_BUDGET; i++) {
    const value = queue[i]!;
    if (seen.has(value)) continue;
    seen.add(value);
    // Bytes (typed arrays) encode at memcpy speed and are measured exactly after: not counted here.
    const length = Array.isArray(value) ? value.length : value instanceof Map || value instanceof Set ? value.size : 0;
    least += length;
    if (least > maxBytes) return { path: pathOf(i, parents, keys), length, least };
    if (queue.length >= SIZE_CHECK_BUDGET) continue;
    if (Array.isArray(value)) {
      const n = Math.min(value.length, SIZE_CHECK_BUDGET - queue.length);
      for (let k = 0; k < n; k++) {
        const v: unknown = value[k];
        if (typeof v === "object" && v !== null) (queue.push(v), parents.push(i), keys.push(k));
      }
    } else if (Object.getPrototypeOf(value) === Object.prototype) {
      for (const key in value) {
        const v: unknown = (value as Record<string, unknown>)[key];
        if (typeof v === "object" && v !== null) (queue.push(v), parents.push(i), keys.push(key));
        if (queue.length >= SIZE_CHECK_BUDGET) break;
      }
    }
  }
  return undefined;
}

function pathOf(index: number, parents: number[], keys: Array<string | number>): string {
  let path = "";
  for (let i = index; i > 0; i = parents[i]!) {
    const key = keys[i]!;
    path = `${typeof key === "number" ? `[${key}]` : `.${key}`}${path}`;
  }
  return path;
}

function tooLargeValue(where: string, found: Oversized, maxBytes: number): SourdoughError {
  const sparse = found.length > maxBytes ? ` An array sends every index up to its length (a sparse a[1e8] = 1 sends 10^8 values): send an object or a Map of the indices that are set.` : "";
  return new SourdoughError(ErrorCode.TOO_LARGE, `${where}${found.path}: a value of ${found.length} elements makes the encoding at least ${describeBytes(found.least)}, over the limit of ${describeBytes(maxBytes)} per call (maxCallBytes).${sparse || " Send less per call, or raise maxCallBytes."}`);
}

/** Decodes bytes produced by encodePayload. Throws a protocol error on malformed bytes. */
export function decodePayload(bytes: Uint8Array, where: Where): unknown {
  try {
    return packr.unpack(bytes);
  } catch (error) {
    // A value the payload names but this process refuses (e.g. a forged id): its own code and reason.
    if (error instanceof SourdoughError) throw new SourdoughError(error.code, `${whereText(where)}: ${error.message}`, { cause: error });
    const what = isStackOverflow(error)
      ? "payload is nested too deeply to decode (stack overflow). Send flatter data"
      : `payload is not valid msgpack (${error instanceof Error ? error.message : String(error)}). The sender is not speaking sourdough's payload encoding`;
    throw new SourdoughError(ErrorCode.PROTOCOL, `${whereText(where)}: ${what}.`, { cause: error });
  }
}

/** An ERR_UNSUPPORTED_TYPE error named "DataCloneError", the name workerd gives the same refusal. */
export function dataCloneError(message: string, cause?: unknown): SourdoughError {
  const error = new SourdoughError(ErrorCode.UNSUPPORTED_TYPE, message, { cause });
  error.name = "DataCloneError";
  return error;
}

function isStackOverflow(error: unknown): boolean {
  return error instanceof RangeError && error.message.includes("call stack");
}

const MAX_WALK_DEPTH = 1_000;

function unsupportedValue(value: unknown, where: string, error: unknown): SourdoughError {
  if (isStackOverflow(error)) {
    return dataCloneError(`${where}: the value is nested too deeply to copy (stack overflow while encoding). Flatten it below a few thousand levels, or pass it as a string.`, error);
  }
  const found = findUnclonable(value, "", new Set(), 0);
  if (found === undefined) {
    const reason = error instanceof Error ? error.message : String(error);
    return dataCloneError(`${where}: ${reason.replace(/\.$/, "")}.`, error);
  }
  const path = found.path.length > 200 ? `${found.path.slice(0, 100)}…${found.path.slice(-100)}` : found.path;
  return dataCloneError(`${where}${path}: ${found.why}.`, error);
}

interface Found {
  path: string;
  why: string;
}

/** Slow path, only after a failed encode: find the first value that cannot be copied, with its path. */
function findUnclonable(value: unknown, path: string, seen: Set<object>, depth: number): Found | undefined {
  if (typeof value === "function") {
    if (referencesAllowed()) return undefined; // crosses by reference within a call
    return { path, why: `${describeValue(value)} cannot cross RPC. Pass data, not functions` };
  }
  if (typeof value === "symbol") return { path, why: `${describeValue(value)} cannot cross RPC. Use a string` };
  if (value === null || typeof value !== "object" || seen.has(value)) return undefined;
  if (depth > MAX_WALK_DEPTH) return { path, why: `the value is nested more than ${MAX_WALK_DEPTH} levels deep here. Flatten it` };
  seen.add(value);
  const why = refusal(value);
  if (why !== undefined) return { path, why };
  const entries: Array<[string, unknown]> =
    value instanceof Map
      ? [...value].flatMap(([k, v], i): Array<[string, unknown]> => [[`${path}<key ${i}>`, k], [`${path}.get(${describeValue(k)})`, v]])
      : value instanceof Set
        ? [...value].map((v, i): [string, unknown] => [`${path}<entry ${i}>`, v])
        : value instanceof Error
          ? [[`${path}.cause`, value.cause]]
          : Array.isArray(value)
            ? value.map((v, i): [string, unknown] => [`${path}[${i}]`, v])
            : Object.entries(value).map(([k, v]): [string, unknown] => [`${path}.${k}`, v]);
  for (const [p, v] of entries) {
    const found = findUnclonable(v, p, seen, depth + 1);
    if (found) return found;
  }
  return undefined;
}
