// The message writer of sourdough-gen's codecs: slab allocation in capnp-ts's order, pointer
// encoding, and the value checks behind ERR_UNSUPPORTED_TYPE messages. Generated codecs.ts files call
// it field by field (`w.int(...)`, `w.text(...)`); it is public for them, not for hand-written code.
import { CodecError, MAX_DEPTH, describe } from "./errors.ts";

/** Messages are written into slabs of this size; an output is a view of its slab, never reused. */
const SLAB = 64 * 1024;

/** Thrown by Writer.grow to start a message over at the beginning of a fresh slab. */
const RESTART = Symbol("restart");

// Writes messages one after another into a zeroed slab: framing header, root pointer, then each object
// where capnp-ts would allocate it (a struct's pointer targets follow it, depth first, in ordinal order).
// Offsets are absolute in the slab. A message that outgrows a slab it shares restarts in a fresh one;
// one that starts a slab grows it in place. Outputs are views of their slab: no copy, no zero-fill.
export class Writer {
  buf = Buffer.alloc(SLAB);
  dv: DataView = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  /** Where the message being written starts, and where it ends so far. */
  start = 0;
  end = 0;
  busy = false;
  /** Where the value being written sits, for messages: labels, ".field" and element indexes. */
  path: Array<string | number> = [];

  alloc(bytes: number): number {
    const at = this.end;
    if (at + bytes > this.buf.length) this.grow(at + bytes);
    this.end = at + bytes;
    return at;
  }
  grow(need: number): void {
    const next = Buffer.alloc(Math.max(SLAB, 2 * (need - this.start)));
    if (this.start === 0) this.buf.copy(next, 0, 0, this.end);
    const restart = this.start !== 0;
    this.buf = next;
    this.dv = new DataView(next.buffer, next.byteOffset, next.byteLength);
    if (restart) {
      this.start = this.end = 0;
      throw RESTART;
    }
  }
  root(dataWords: number, ptrs: number): number {
    if (this.buf.length - this.end < 1024) {
      this.buf = Buffer.alloc(SLAB);
      this.dv = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
      this.end = 0;
    }
    this.start = this.end;
    this.alloc(16);
    return this.struct(this.start + 8, dataWords, ptrs);
  }
  struct(p: number, dataWords: number, ptrs: number): number {
    const s = this.alloc((dataWords + ptrs) * 8);
    this.dv.setUint32(p, (((s - p - 8) / 8) * 4) >>> 0, true);
    this.dv.setUint16(p + 4, dataWords, true);
    this.dv.setUint16(p + 6, ptrs, true);
    return s;
  }
  listPtr(p: number, at: number, size: number, count: number): void {
    this.dv.setUint32(p, (((at - p - 8) / 8) * 4 + 1) >>> 0, true);
    this.dv.setUint32(p + 4, (count * 8 + size) >>> 0, true);
  }
  /** A list of `count` elements of `bytes` bytes (element size code `size`); returns where its content starts. */
  list(p: number, size: number, count: number, bytes: number): number {
    const at = this.alloc(Math.ceil((count * bytes) / 8) * 8);
    this.listPtr(p, at, size, count);
    return at;
  }
  bits(p: number, count: number): number {
    const at = this.alloc(Math.ceil(count / 64) * 8);
    this.listPtr(p, at, 1, count);
    return at;
  }
  /** A list of structs: tag word, then the elements; returns where the first element starts. */
  composite(p: number, count: number, dataWords: number, ptrs: number): number {
    const words = count * (dataWords + ptrs);
    const tag = this.alloc(8 + words * 8);
    this.listPtr(p, tag, 7, words);
    this.dv.setUint32(tag, (count * 4) >>> 0, true);
    this.dv.setUint16(tag + 4, dataWords, true);
    this.dv.setUint16(tag + 6, ptrs, true);
    return tag + 8;
  }
  text(p: number, value: string): void {
    const worst = value.length * 3 + 8;
    if (this.end + worst > this.buf.length) this.grow(this.end + worst);
    const at = this.end;
    const n = this.buf.write(value, at, "utf8");
    this.end = at + Math.ceil((n + 1) / 8) * 8;
    this.listPtr(p, at, 2, n + 1);
  }
  data(p: number, value: Uint8Array): void {
    const at = this.alloc(Math.ceil(value.length / 8) * 8);
    this.buf.set(value, at);
    this.listPtr(p, at, 2, value.length);
  }
  bit(at: number, mask: number): void {
    this.dv.setUint8(at, this.dv.getUint8(at) | mask);
  }
  i64(at: number, v: number): void {
    const hi = Math.floor(v / 4294967296);
    this.dv.setUint32(at, v - hi * 4294967296, true);
    this.dv.setInt32(at + 4, hi, true);
  }
  done(): Uint8Array {
    this.dv.setUint32(this.start, 0, true);
    this.dv.setUint32(this.start + 4, (this.end - this.start - 8) / 8, true);
    const out = this.buf.subarray(this.start, this.end);
    this.start = this.end;
    return out;
  }
  /** After done(), or after a failure: then the partial message is wiped and its space reused. */
  release(): void {
    if (this.end !== this.start) this.buf.fill(0, this.start, this.end);
    this.end = this.start;
    this.path.length = 0;
    this.busy = false;
  }

  fail(at: string | number, expected: string, v: unknown): never {
    let where = "";
    for (const p of this.path) where += typeof p === "number" ? `[${p}]` : p;
    where += typeof at === "number" ? `[${at}]` : at;
    throw new CodecError("ERR_UNSUPPORTED_TYPE", `${where}: expected ${expected}, got ${describe(v)}.`);
  }
  deep(v: unknown): void {
    if (this.path.length > MAX_DEPTH * 2) this.fail("", `a value nested at most ${MAX_DEPTH} levels deep (is it cyclic?)`, v);
  }
  num(v: unknown, at: string | number): number {
    if (typeof v !== "number") this.fail(at, "a number", v);
    return v;
  }
  int(v: unknown, at: string | number, min: number, max: number, what: string): number {
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) this.fail(at, what, v);
    return v;
  }
  safe(v: unknown, at: string | number, unsigned: boolean): number {
    if (typeof v !== "number" || !Number.isSafeInteger(v) || (unsigned && v < 0)) this.fail(at, unsigned ? "a safe non-negative integer (UInt64)" : "a safe integer (Int64)", v);
    return v;
  }
  big(v: unknown, at: string | number, unsigned: boolean): bigint {
    if (typeof v !== "bigint" || (unsigned ? BigInt.asUintN(64, v) : BigInt.asIntN(64, v)) !== v) this.fail(at, unsigned ? "a bigint in UInt64 range" : "a bigint in Int64 range", v);
    return v;
  }
  bool(v: unknown, at: string | number): boolean {
    if (typeof v !== "boolean") this.fail(at, "a boolean", v);
    return v;
  }
  str(v: unknown, at: string | number): string {
    if (typeof v !== "string") this.fail(at, "a string", v);
    return v;
  }
  bytes(v: unknown, at: string | number): Uint8Array {
    if (v instanceof Uint8Array) return v;
    if (v instanceof ArrayBuffer) return new Uint8Array(v);
    return this.fail(at, "a Uint8Array or ArrayBuffer", v);
  }
  arr(v: unknown, at: string | number): readonly unknown[] {
    if (!Array.isArray(v)) this.fail(at, "an array", v);
    return v;
  }
  obj(v: unknown, at: string | number): Record<string, unknown> {
    if (typeof v !== "object" || v === null || Array.isArray(v)) this.fail(at, "an object", v);
    return v as Record<string, unknown>;
  }
}

const shared = new Writer();

/** Runs `write` for one message and returns its bytes (again from the start when the writer says RESTART). */
export function encode<T>(value: T, write: (w: Writer, value: T) => void): Uint8Array {
  // A getter that encodes while another encode is under way gets a writer of its own.
  const w = shared.busy ? new Writer() : shared;
  w.busy = true;
  try {
    for (;;) {
      try {
        write(w, value);
        return w.done();
      } catch (error) {
        if (error !== RESTART) throw error;
        w.path.length = 0;
      }
    }
  } finally {
    w.release();
  }
}
