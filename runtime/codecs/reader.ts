// The message reader of sourdough-gen's codecs: framing checks, and bounds-checked struct, list and
// text access behind ERR_PROTOCOL messages. Generated codecs.ts files read through `reader`.
import { CodecError, MAX_DEPTH } from "./errors.ts";

// Reads one message with every pointer bounds-checked. Fields past the end of an (older, shorter)
// struct read as defaults; fields a (newer, longer) struct adds are ignored. Single segment only.
// Offsets are absolute in the input's ArrayBuffer, whose DataView is kept while inputs share it.
export class Reader {
  ab: ArrayBufferLike | undefined = undefined;
  dv: DataView = new DataView(new ArrayBuffer(0));
  buf: Buffer = Buffer.alloc(0);
  /** The segment: [start, end) in the ArrayBuffer. */
  start = 0;
  end = 0;
  budget = 0;
  label = "";
  /** The struct found by the last struct() call: data offset and bytes, pointer offset and count. */
  sd = 0;
  sdb = 0;
  sp = 0;
  spc = 0;
  /** The list found by the last list() call: content offset and element count. */
  ld = 0;
  ln = 0;

  reset(bytes: Uint8Array, label: string): this {
    this.label = label;
    if (bytes.buffer !== this.ab) {
      this.ab = bytes.buffer;
      this.dv = new DataView(bytes.buffer);
      this.buf = Buffer.from(bytes.buffer);
    }
    const base = bytes.byteOffset;
    const length = bytes.byteLength;
    if (length < 16) this.fail(`a message of ${length} bytes is too short`);
    const segments = this.dv.getUint32(base, true) + 1;
    if (segments !== 1) this.fail(`expected one segment, the segment table lists ${segments}`);
    const words = this.dv.getUint32(base + 4, true);
    if (8 + words * 8 !== length) this.fail(`the segment table says ${8 + words * 8} bytes, got ${length}`);
    this.start = base + 8;
    this.end = base + length;
    this.budget = words * 8;
    return this;
  }
  fail(what: string): never {
    throw new CodecError(
      "ERR_PROTOCOL",
      `sourdough codec, ${this.label}: ${what}. The bytes do not follow this side's schema: when both sides are sourdough, one runs stale codecs; re-run \`sourdough-gen\` and restart both with the same output.`,
    );
  }
  spend(words: number, what: string): void {
    this.budget -= words + 1;
    if (this.budget < 0) this.fail(`${what}: the message points to more data than it holds (traversal limit)`);
  }
  root(what: string): void {
    if (!this.struct(this.start, what)) this.sd = this.sdb = this.sp = this.spc = 0;
  }
  struct(p: number, what: string): boolean {
    const lo = this.dv.getInt32(p, true);
    const hi = this.dv.getUint32(p + 4, true);
    if (lo === 0 && hi === 0) return false;
    if ((lo & 3) !== 0) this.fail(`${what}: expected a struct pointer, found pointer kind ${lo & 3}`);
    const dataWords = hi & 0xffff;
    const ptrs = hi >>> 16;
    const d = p + 8 + (lo >> 2) * 8;
    if (d < this.start || d + (dataWords + ptrs) * 8 > this.end) this.fail(`${what}: the struct lies outside the message`);
    this.spend(dataWords + ptrs, what);
    this.sd = d;
    this.sdb = dataWords * 8;
    this.sp = d + dataWords * 8;
    this.spc = ptrs;
    return true;
  }
  list(p: number, size: number, what: string): boolean {
    const lo = this.dv.getInt32(p, true);
    const hi = this.dv.getUint32(p + 4, true);
    if (lo === 0 && hi === 0) return false;
    if ((lo & 3) !== 1) this.fail(`${what}: expected a list pointer, found pointer kind ${lo & 3}`);
    if ((hi & 7) !== size) this.fail(`${what}: expected a list of element size ${size}, found ${hi & 7}`);
    const n = hi >>> 3;
    const at = p + 8 + (lo >> 2) * 8;
    const bytes = size === 7 ? n * 8 + 8 : size === 1 ? Math.ceil(n / 8) : n * (size === 2 ? 1 : size === 3 ? 2 : size === 4 ? 4 : 8);
    if (at < this.start || at + bytes > this.end) this.fail(`${what}: the list lies outside the message`);
    this.spend(Math.ceil(bytes / 8), what);
    this.ld = at;
    this.ln = n;
    return true;
  }
  /** After list(p, 7): reads the tag; ld becomes the first element, ln the count, sdb/spc the element size. */
  composite(what: string): void {
    const lo = this.dv.getInt32(this.ld, true);
    const hi = this.dv.getUint32(this.ld + 4, true);
    const n = lo >> 2;
    if ((lo & 3) !== 0 || n < 0) this.fail(`${what}: the list's tag word is not a struct tag`);
    const dataWords = hi & 0xffff;
    const ptrs = hi >>> 16;
    if (n * (dataWords + ptrs) > this.ln) this.fail(`${what}: the list's elements overflow it`);
    if (dataWords + ptrs === 0) this.spend(n, what);
    this.ld += 8;
    this.ln = n;
    this.sdb = dataWords * 8;
    this.spc = ptrs;
  }
  deep(depth: number, what: string): void {
    if (depth > MAX_DEPTH) this.fail(`${what}: nested deeper than ${MAX_DEPTH} levels`);
  }
  text(p: number, what: string): string | undefined {
    if (!this.list(p, 2, what)) return undefined;
    const end = this.ld + this.ln - 1;
    if (this.ln === 0 || this.dv.getUint8(end) !== 0) this.fail(`${what}: the text is not NUL-terminated`);
    return this.buf.toString("utf8", this.ld, end);
  }
  bytes(p: number, what: string): Uint8Array | undefined {
    return this.list(p, 2, what) ? new Uint8Array(this.buf.subarray(this.ld, this.ld + this.ln)) : undefined;
  }
  arrayBuffer(p: number, what: string): ArrayBuffer | undefined {
    return this.bytes(p, what)?.buffer as ArrayBuffer | undefined;
  }
  nodeBuffer(p: number, what: string): Buffer | undefined {
    return this.list(p, 2, what) ? Buffer.from(this.buf.subarray(this.ld, this.ld + this.ln)) : undefined;
  }
  i64(at: number, unsigned: boolean, what: string): number {
    const hi = unsigned ? this.dv.getUint32(at + 4, true) : this.dv.getInt32(at + 4, true);
    if (hi >= 0x200000 || hi < -0x200000) this.fail(`${what}: ${unsigned ? "UInt64" : "Int64"} value does not fit a JS number exactly; declare it as bigint`);
    return hi * 4294967296 + this.dv.getUint32(at, true);
  }
  bitAt(at: number, mask: number): boolean {
    return (this.dv.getUint8(at) & mask) !== 0;
  }
}

export const reader = new Reader();
