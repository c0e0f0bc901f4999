// Payload encoding for arguments and results: msgpackr with structured-clone semantics (Date, Map, Set,
// bigint, typed arrays, nested and cyclic objects, undefined vs null). Values that cannot be copied
// (functions, symbols, WeakMap, Promise, ...) are refused with the path to the offending value.
import { Packr, addExtension } from "msgpackr";
import { ErrorCode, SourdoughError, describeValue } from "../errors.ts";

const REFUSED: ReadonlyArray<{ Class: abstract new (...args: never[]) => object; why: string }> = [
  { Class: Promise, why: "a Promise cannot cross RPC. Await it and pass the result" },
  { Class: WeakMap, why: "a WeakMap cannot cross RPC. Use a Map" },
  { Class: WeakSet, why: "a WeakSet cannot cross RPC. Use a Set" },
  { Class: WeakRef, why: "a WeakRef cannot cross RPC. Pass the referenced value" },
];

// Extension types 0x60-0x63 are private to sourdough; the writer always throws, so they never reach a reader.
REFUSED.forEach(({ Class, why }, i) => {
  addExtension({
    Class: Class as unknown as new () => object,
    type: 0x60 + i,
    write() {
      throw new TypeError(why);
    },
    read() {
      throw new TypeError(why);
    },
  });
});

const packr = new Packr({ structuredClone: true });
// msgpackr writes functions as undefined unless writeFunction says otherwise; its typing omits the argument.
(packr as unknown as { writeFunction: (fn: unknown) => never }).writeFunction = (fn) => {
  throw new TypeError(`${describeValue(fn)} cannot cross RPC. Pass data, not functions`);
};

/** Names what is being encoded for error messages, e.g. "Counter.add arguments"; lazy on hot paths. */
export type Where = string | (() => string);
const whereText = (where: Where): string => (typeof where === "string" ? where : where());

/** Encodes `value`. Throws ERR_UNSUPPORTED_TYPE with the path to a value that cannot be copied. */
export function encodePayload(value: unknown, where: Where): Uint8Array {
  try {
    return packr.pack(value);
  } catch (error) {
    throw unsupportedValue(value, whereText(where), error);
  }
}

/** Decodes bytes produced by encodePayload. Throws a protocol error on malformed bytes. */
export function decodePayload(bytes: Uint8Array, where: Where): unknown {
  try {
    return packr.unpack(bytes);
  } catch (error) {
    throw new SourdoughError(
      ErrorCode.PROTOCOL,
      `${whereText(where)}: payload is not valid msgpack (${error instanceof Error ? error.message : String(error)}). The sender is not speaking sourdough's payload encoding.`,
      { cause: error },
    );
  }
}

function unsupportedValue(value: unknown, where: string, error: unknown): SourdoughError {
  const found = findUnclonable(value, "", new Set());
  const reason = error instanceof Error ? error.message : String(error);
  const at = found ? `${found.path || "the value"} is ${describeValue(found.value)}: ` : "";
  const detail = found?.why ?? reason;
  return new SourdoughError(ErrorCode.UNSUPPORTED_TYPE, `${where}: ${at}${detail}.`, { cause: error });
}

interface Unclonable {
  path: string;
  value: unknown;
  why: string;
}

/** Slow path, only after a failed encode: find the first value that cannot be copied, with its path. */
function findUnclonable(value: unknown, path: string, seen: Set<object>): Unclonable | undefined {
  if (typeof value === "function") return { path, value, why: "functions cannot cross RPC. Pass data, not functions" };
  if (typeof value === "symbol") return { path, value, why: "symbols cannot cross RPC. Use a string" };
  if (value === null || typeof value !== "object" || seen.has(value)) return undefined;
  seen.add(value);
  for (const { Class, why } of REFUSED) if (value instanceof Class) return { path, value, why };
  const entries: Array<[string, unknown]> =
    value instanceof Map
      ? [...value].flatMap(([k, v], i): Array<[string, unknown]> => [[`${path}<key ${i}>`, k], [`${path}.get(${describeValue(k)})`, v]])
      : value instanceof Set
        ? [...value].map((v, i): [string, unknown] => [`${path}<entry ${i}>`, v])
        : Array.isArray(value)
          ? value.map((v, i): [string, unknown] => [`${path}[${i}]`, v])
          : Object.entries(value).map(([k, v]): [string, unknown] => [`${path}.${k}`, v]);
  for (const [p, v] of entries) {
    const found = findUnclonable(v, p, seen);
    if (found) return found;
  }
  return undefined;
}
