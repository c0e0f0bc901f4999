// The msgpack fields of sourdough-gen's codecs (Date, Map, Set, RegExp, Error, ... travel as msgpackr
// bytes inside a Cap'n Proto Data field), with sourdough's payload options.
import { Packr } from "msgpackr";
import { describe } from "./errors.ts";
import type { Reader } from "./reader.ts";
import type { Writer } from "./writer.ts";

const packr = new Packr({ structuredClone: true, copyBuffers: true });
// Like sourdough's payload encoding: a function inside a value is an error, not a silent undefined.
(packr as unknown as { writeFunction: (fn: unknown) => never }).writeFunction = (fn) => {
  throw new TypeError(`${describe(fn)} cannot cross RPC`);
};

export function pack(w: Writer, v: unknown, at: string | number): Uint8Array {
  try {
    return packr.pack(v);
  } catch (error) {
    return w.fail(at, `a value msgpackr can copy (${error instanceof Error ? error.message : String(error)})`, v);
  }
}

export function unpack(r: Reader, p: number, what: string): unknown {
  if (!r.list(p, 2, what)) return undefined;
  try {
    return packr.unpack(r.buf.subarray(r.ld, r.ld + r.ln));
  } catch (error) {
    return r.fail(`${what}: the msgpack bytes do not decode (${error instanceof Error ? error.message : String(error)})`);
  }
}
