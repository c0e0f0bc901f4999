// The error and codec types of sourdough-gen's codecs, and the value descriptions their messages use.

/** Thrown by these codecs: ERR_UNSUPPORTED_TYPE for a value that does not fit the schema, ERR_PROTOCOL for malformed bytes. */
export class CodecError extends Error {
  readonly code: "ERR_UNSUPPORTED_TYPE" | "ERR_PROTOCOL";
  constructor(code: "ERR_UNSUPPORTED_TYPE" | "ERR_PROTOCOL", message: string) {
    super(message);
    this.name = "CodecError";
    this.code = code;
  }
}

/** The codec of one method. Bytes are a complete Cap'n Proto message (stream framing, one segment). */
export interface MethodCodec {
  /** The stable method id (1-based). */
  readonly id: number;
  encodeParams(args: readonly unknown[]): Uint8Array;
  decodeParams(bytes: Uint8Array): unknown[];
  encodeResult(value: unknown): Uint8Array;
  decodeResult(bytes: Uint8Array): unknown;
}

/** Pointers are followed at most this deep (Cap'n Proto's default nesting limit). */
export const MAX_DEPTH = 64;

/** A short description of a value for an error message: `"abc"`, `12n`, `a Map`, `an array`. */
export function describe(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? `${v.slice(0, 37)}...` : v);
  if (typeof v === "bigint") return `${v}n`;
  if (typeof v === "function") return "a function";
  if (typeof v === "symbol") return "a symbol";
  if (v === null || typeof v !== "object") return String(v);
  if (Array.isArray(v)) return "an array";
  const name = (v as { constructor?: { name?: unknown } }).constructor?.name;
  return typeof name === "string" && name !== "Object" ? `a ${name}` : "an object";
}
