// The oracle's data language: operations on one object's storage, the tagged-JSON values they carry
// in and out, and the per-operation results. Plain JSON throughout, so the same case can be POSTed
// into workerd and sent over sourdough's RPC. The interpreter (interpreter.ts) gives it meaning.

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** How an `sql` op reads its cursor before reporting `columnNames`, `rowsRead` and `rowsWritten`. */
export type SqlRead =
  | "toArray" // cursor.toArray()
  | "one" // cursor.one()
  | "raw" // [...cursor.raw()]
  | "rawToArray" // cursor.raw().toArray()
  | "iterate" // for (const row of cursor)
  | "next" // three cursor.next() results
  | "none"; // do not read the cursor at all

/** Objects whose members a `typeof` op inspects. */
export type ApiTarget = "ctx" | "storage" | "kv" | "sql" | "cursor" | "rawIterator" | "txn";

interface OpCommon {
  /** When this op fails on both sides, both messages must contain this text. */
  messageIncludes?: string;
}

export type Op = OpCommon &
  (
    | { op: "kv.get"; key: Json }
    | { op: "kv.put"; key: Json; value: Json }
    | { op: "kv.delete"; key: Json }
    | { op: "kv.list"; options?: Json }
    | { op: "get"; key: Json; options?: Json } // a key, or an array of keys
    | { op: "put"; key: Json; value: Json; noAwait?: boolean; options?: Json }
    | { op: "putEntries"; entries: { [key: string]: Json }; options?: Json }
    | { op: "delete"; key: Json; noAwait?: boolean; options?: Json }
    | { op: "list"; options?: Json }
    | { op: "deleteAll"; options?: Json }
    | { op: "sync" }
    | { op: "getAlarm"; options?: Json }
    | { op: "setAlarm"; time: Json; options?: Json }
    | { op: "deleteAlarm"; options?: Json }
    | { op: "sql"; query: string; bindings?: Json[]; read?: SqlRead; counters?: boolean } // counters: report rowsRead/rowsWritten
    | { op: "databaseSize" } // reports { type, positive } rather than a size that differs by design
    | { op: "typeof"; target: ApiTarget; names: string[] }
    | { op: "transactionSync"; ops: Op[]; returns?: Json; asyncCallback?: boolean }
    | { op: "transaction"; ops: Op[]; returns?: Json }
    | { op: "rollback" } // txn.rollback(), inside `transaction`
    | { op: "throw"; message: string } // throws out of the enclosing transaction callback
    // Read-modify-write of a counter: `load` reads it (missing: 0) into the register of the op list it
    // is in; `store` writes register + add (default 1) and returns what it wrote. sql uses table
    // `counters (k TEXT PRIMARY KEY, v INTEGER)`, which the case creates.
    | { op: "load"; key: string; via: CounterApi; options?: Json }
    | { op: "store"; key: string; via: CounterApi; add?: number; options?: Json }
    | { op: "sleep"; ms: number } // await setTimeout: non-storage I/O, where other events may run
    | { op: "all"; ops: Op[] } // runs the ops at once in this event (Promise.all), each with its own register
    | { op: "blockConcurrencyWhile"; ops: Op[] } // ctx.blockConcurrencyWhile(async () => ops)
    // Top level only: each list of `calls` is a separate call (event) on the same object, all made at
    // once, `repeat` times over. Its result is the multiset of the calls' results (see concurrent.ts).
    | { op: "concurrent"; calls: Op[][]; repeat?: number }
  );

/** Which API a `load` / `store` goes through: "async" is get()/put() (of the txn inside `transaction`). */
export type CounterApi = "async" | "kv" | "sql";

export interface ErrorInfo {
  name: string;
  message: string;
  /** The error's constructor name, when it differs from `name` (e.g. DOMException). */
  ctor?: string;
  code?: string;
}

/** What one op did: returned a (tagged) value, or threw. */
export interface OpResult {
  ok?: Json;
  error?: ErrorInfo;
  /** The op returned a promise (the value or error is what it settled with). */
  promise?: boolean;
  /** The op returned a promise that was not awaited (inside transactionSync, or `noAwait`). */
  pending?: boolean;
  /** Results of the ops inside a transaction callback, reported even when it threw. */
  inner?: OpResult[];
}

/** Tagged-value builders for op arguments (decoded inside the object, see interpreter.ts). */
export const tag = {
  undefined: { $: "undefined" } as Json,
  number: (text: "NaN" | "Infinity" | "-Infinity" | "-0"): Json => ({ $: "number", v: text }),
  bigint: (text: string): Json => ({ $: "bigint", v: text }),
  date: (ms: number | null): Json => ({ $: "Date", v: ms }),
  map: (entries: Array<[Json, Json]>): Json => ({ $: "Map", v: entries }),
  set: (items: Json[]): Json => ({ $: "Set", v: items }),
  object: (fields: { [key: string]: Json }): Json => ({ $: "Object", v: fields }),
  arrayBuffer: (bytes: number[]): Json => ({ $: "ArrayBuffer", v: bytes }),
  /** A typed array or DataView; `offset`/`bufferBytes` make a view into a larger buffer. */
  view: (type: string, items: Json[], offset = 0, bufferBytes?: number): Json => ({ $: "View", type, v: items, offset, bufferBytes: bufferBytes ?? null }),
  sparse: (length: number, items: Array<[number, Json]>): Json => ({ $: "Sparse", length, v: items }),
  regexp: (source: string, flags: string): Json => ({ $: "RegExp", source, flags }),
  error: (name: string, message: string): Json => ({ $: "Error", name, message }),
  cyclic: { $: "Cyclic" } as Json,
  instance: { $: "Instance" } as Json,
  function: { $: "Function" } as Json,
  symbol: { $: "Symbol" } as Json,
  repeat: (text: string, times: number): Json => ({ $: "Repeat", v: text, n: times }),
  /** A string given as UTF-16 code units, for lone surrogates (which UTF-8 transports replace). */
  units: (text: string): Json => ({ $: "Units", v: Array.from({ length: text.length }, (_, i) => text.charCodeAt(i)) }),
} as const;

/** Validates results that arrived from workerd (HTTP) or sourdough (RPC). Throws on a bad shape. */
export function parseResults(value: unknown, where: string): OpResult[] {
  if (!Array.isArray(value)) throw new Error(`${where}: expected an array of op results, got ${JSON.stringify(value)?.slice(0, 200)}.`);
  return value.map((item, i) => parseResult(item, `${where}[${i}]`));
}

function parseResult(value: unknown, where: string): OpResult {
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new Error(`${where}: expected an op result object.`);
  const record = value as Record<string, unknown>;
  const out: OpResult = {};
  if ("ok" in record) out.ok = record.ok as Json;
  if (record.error !== undefined) out.error = parseError(record.error, `${where}.error`);
  if (record.promise === true) out.promise = true;
  if (record.pending === true) out.pending = true;
  if (record.inner !== undefined) out.inner = parseResults(record.inner, `${where}.inner`);
  if (!("ok" in record) && out.error === undefined && out.pending !== true) throw new Error(`${where}: neither ok, error nor pending.`);
  return out;
}

function parseError(value: unknown, where: string): ErrorInfo {
  const record = value as Record<string, unknown> | null;
  if (record === null || typeof record !== "object" || typeof record.name !== "string" || typeof record.message !== "string") {
    throw new Error(`${where}: expected { name, message }.`);
  }
  const out: ErrorInfo = { name: record.name, message: record.message };
  if (typeof record.ctor === "string") out.ctor = record.ctor;
  if (typeof record.code === "string") out.code = record.code;
  return out;
}
