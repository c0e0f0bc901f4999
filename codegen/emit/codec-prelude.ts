// The fixed part of a generated codecs.ts: the error type, the message writer and the bounds-checked
// reader the per-struct functions call. Emitted as text so generated code needs no sourdough import;
// it must type-check under the strictest tsconfig (noUnused*, noUncheckedIndexedAccess, ...).
import { READER } from "./codec-prelude-reader.ts";
import { WRITER } from "./codec-prelude-writer.ts";

/**
 * The prelude; `msgpack` adds msgpackr helpers (only when some field travels as msgpack); `minimal`
 * is the error and codec types alone (for a project without methods).
 */
export function codecPrelude(options: { msgpack: boolean; minimal: boolean }): string {
  if (options.minimal) return TYPES;
  return [options.msgpack ? MSGPACK_IMPORT : "", TYPES, CORE, WRITER, READER, options.msgpack ? MSGPACK : ""].filter((s) => s !== "").join("\n");
}

const MSGPACK_IMPORT = `import { Packr } from "msgpackr";
`;

const TYPES = `/** Thrown by these codecs: ERR_UNSUPPORTED_TYPE for a value that does not fit the schema, ERR_PROTOCOL for malformed bytes. */
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
`;

const CORE = `/** Pointers are followed at most this deep (Cap'n Proto's default nesting limit). */
const MAX_DEPTH = 64;

function describe(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? \`\${v.slice(0, 37)}...\` : v);
  if (typeof v === "bigint") return \`\${v}n\`;
  if (typeof v === "function") return "a function";
  if (typeof v === "symbol") return "a symbol";
  if (v === null || typeof v !== "object") return String(v);
  if (Array.isArray(v)) return "an array";
  const name = (v as { constructor?: { name?: unknown } }).constructor?.name;
  return typeof name === "string" && name !== "Object" ? \`a \${name}\` : "an object";
}
`;

const MSGPACK = `const packr = new Packr({ structuredClone: true, copyBuffers: true });
// Like sourdough's payload encoding: a function inside a value is an error, not a silent undefined.
(packr as unknown as { writeFunction: (fn: unknown) => never }).writeFunction = (fn) => {
  throw new TypeError(\`\${describe(fn)} cannot cross RPC\`);
};

function pack(w: Writer, v: unknown, at: string | number): Uint8Array {
  try {
    return packr.pack(v);
  } catch (error) {
    return w.fail(at, \`a value msgpackr can copy (\${error instanceof Error ? error.message : String(error)})\`, v);
  }
}

function unpack(r: Reader, p: number, what: string): unknown {
  if (!r.list(p, 2, what)) return undefined;
  try {
    return packr.unpack(r.buf.subarray(r.ld, r.ld + r.ln));
  } catch (error) {
    return r.fail(\`\${what}: the msgpack bytes do not decode (\${error instanceof Error ? error.message : String(error)})\`);
  }
}
`;
