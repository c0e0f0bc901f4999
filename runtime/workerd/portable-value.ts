// The portable form of stored values for moving data between engines: JSON, with tagged objects for
// what JSON lacks (undefined, NaN/±Infinity/-0, bigint, Date, RegExp, Map, Set, Error, binary data).
// Both sides are plain JavaScript with no Node import: `sourdough-cloudflare export` encodes (Node),
// the generated entry module decodes inside workerd. Structured-clone values round-trip except
// shared references (copied apart) and cycles (refused, naming where).

/** A JSON value; non-JSON values are `{ $: tag, … }` objects, plain objects are `{ $: "object", v }`. */
export type PortableValue = null | boolean | number | string | PortableValue[] | { $: string; [key: string]: unknown };

const TYPED_ARRAYS = {
  Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
  Float32Array, Float64Array, BigInt64Array, BigUint64Array,
} as const;
type TypedArrayName = keyof typeof TYPED_ARRAYS;

/** Thrown for a value the portable form cannot carry; the message says where in the value. */
export class PortableValueError extends Error {
  override name = "PortableValueError";
}

export function bytesToBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

export function base64ToBytes(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** Encodes a structured-cloneable value; `where` names it in errors (e.g. `kv key "n"`). */
export function encodePortable(value: unknown, where: string, seen: Set<object> = new Set()): PortableValue {
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      if (Number.isNaN(value)) return { $: "NaN" };
      if (value === Infinity || value === -Infinity) return { $: "Infinity", negative: value < 0 };
      if (Object.is(value, -0)) return { $: "-0" };
      return value;
    case "bigint":
      return { $: "bigint", v: value.toString() };
    case "undefined":
      return { $: "undefined" };
    case "object":
      break;
    default:
      throw new PortableValueError(`${where}: a ${typeof value} cannot be stored or exported. Store plain data.`);
  }
  if (value === null) return null;
  if (seen.has(value)) throw new PortableValueError(`${where}: the value contains a cycle, which the export format cannot carry. Break the cycle before exporting, or move this key by hand.`);
  seen.add(value);
  try {
    return encodeObject(value, where, seen);
  } finally {
    seen.delete(value);
  }
}

function encodeObject(value: object, where: string, seen: Set<object>): PortableValue {
  if (Array.isArray(value)) {
    const out: PortableValue[] = [];
    for (let i = 0; i < value.length; i++) out.push(i in value ? encodePortable(value[i], `${where}[${i}]`, seen) : { $: "hole" });
    return out;
  }
  if (value instanceof Date) return { $: "Date", v: value.getTime() };
  if (value instanceof RegExp) return { $: "RegExp", source: value.source, flags: value.flags };
  if (value instanceof Map) {
    return { $: "Map", v: [...value].map(([k, v], i) => [encodePortable(k, `${where}<key ${i}>`, seen), encodePortable(v, `${where}.get(${i})`, seen)]) };
  }
  if (value instanceof Set) return { $: "Set", v: [...value].map((v, i) => encodePortable(v, `${where}<item ${i}>`, seen)) };
  if (value instanceof Error) return { $: "Error", name: value.name, message: value.message, stack: value.stack ?? null };
  if (value instanceof ArrayBuffer) return { $: "ArrayBuffer", b: bytesToBase64(new Uint8Array(value)) };
  if (value instanceof DataView) return { $: "DataView", b: bytesToBase64(new Uint8Array(value.buffer, value.byteOffset, value.byteLength)) };
  if (ArrayBuffer.isView(value)) {
    const type = value.constructor.name === "Buffer" ? "Uint8Array" : value.constructor.name;
    if (!(type in TYPED_ARRAYS)) throw new PortableValueError(`${where}: ${type} is not a typed array the export format knows.`);
    return { $: type, b: bytesToBase64(new Uint8Array(value.buffer, value.byteOffset, value.byteLength)) };
  }
  if (value instanceof Boolean || value instanceof Number || value instanceof String || value instanceof BigInt) {
    return { $: "boxed", v: encodePortable(value.valueOf(), where, seen) };
  }
  const out: Record<string, PortableValue> = {};
  for (const [k, v] of Object.entries(value)) out[k] = encodePortable(v, `${where}.${k}`, seen);
  return { $: "object", v: out };
}

/** Decodes what encodePortable made; throws naming `where` for anything else. */
export function decodePortable(value: unknown, where: string): unknown {
  if (value === null || typeof value === "string" || typeof value === "boolean" || typeof value === "number") return value;
  if (Array.isArray(value)) {
    const out: unknown[] = new Array(value.length);
    value.forEach((item, i) => {
      if (!isTagged(item) || item.$ !== "hole") out[i] = decodePortable(item, `${where}[${i}]`);
    });
    return out;
  }
  if (!isTagged(value)) throw new PortableValueError(`${where}: ${JSON.stringify(value)?.slice(0, 80)} is not a portable value. Import files written by sourdough-cloudflare export.`);
  return decodeTagged(value, where);
}

function decodeTagged(value: { $: string; [key: string]: unknown }, where: string): unknown {
  const field = <T>(key: string, type: string): T => {
    if (typeof value[key] !== type) throw new PortableValueError(`${where}: a "${value.$}" value needs a ${type} field "${key}".`);
    return value[key] as T;
  };
  const list = (): unknown[] => {
    if (!Array.isArray(value.v)) throw new PortableValueError(`${where}: a "${value.$}" value needs an array field "v".`);
    return value.v as unknown[];
  };
  switch (value.$) {
    case "undefined": return undefined;
    case "NaN": return NaN;
    case "Infinity": return value.negative === true ? -Infinity : Infinity;
    case "-0": return -0;
    case "bigint": return BigInt(field<string>("v", "string"));
    case "Date": return new Date(field<number>("v", "number"));
    case "RegExp": return new RegExp(field<string>("source", "string"), field<string>("flags", "string"));
    case "Map": return new Map(list().map((pair, i) => {
      if (!Array.isArray(pair) || pair.length !== 2) throw new PortableValueError(`${where}: Map entry ${i} is not a [key, value] pair.`);
      return [decodePortable(pair[0], `${where}<key ${i}>`), decodePortable(pair[1], `${where}.get(${i})`)];
    }));
    case "Set": return new Set(list().map((item, i) => decodePortable(item, `${where}<item ${i}>`)));
    case "Error": {
      const error = new Error(field<string>("message", "string"));
      error.name = field<string>("name", "string");
      if (typeof value.stack === "string") error.stack = value.stack;
      return error;
    }
    case "ArrayBuffer": return base64ToBytes(field<string>("b", "string")).buffer;
    case "DataView": return new DataView(base64ToBytes(field<string>("b", "string")).buffer);
    case "boxed": return Object(decodePortable(value.v, where));
    case "object": {
      if (typeof value.v !== "object" || value.v === null || Array.isArray(value.v)) throw new PortableValueError(`${where}: an "object" value needs an object field "v".`);
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value.v)) out[k] = decodePortable(v, `${where}.${k}`);
      return out;
    }
    default: {
      if (value.$ in TYPED_ARRAYS) {
        const bytes = base64ToBytes(field<string>("b", "string"));
        const Ctor = TYPED_ARRAYS[value.$ as TypedArrayName];
        return new Ctor(bytes.buffer as ArrayBuffer, 0, bytes.byteLength / Ctor.BYTES_PER_ELEMENT);
      }
      throw new PortableValueError(`${where}: unknown tag "${value.$}". Import files written by sourdough-cloudflare export of this version.`);
    }
  }
}

function isTagged(value: unknown): value is { $: string; [key: string]: unknown } {
  return typeof value === "object" && value !== null && !Array.isArray(value) && typeof (value as { $?: unknown }).$ === "string";
}
