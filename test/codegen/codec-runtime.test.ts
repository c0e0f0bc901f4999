// `sourdough/codecs`, the runtime every generated codecs.ts imports, tested once as a module of the
// package (imported by its export name, as generated code does): a message written field by field
// reads back, msgpack fields round-trip structured-clone values, failures are CodecErrors with codes.
import { describe, expect, it } from "vitest";
import { CodecError, type Reader, type Writer, describe as describeValue, encode, pack, reader, unpack } from "sourdough/codecs";

// A struct of one Float64, one Text and one Data (msgpack), written and read the way generated code does.
function write(w: Writer, v: { n: unknown; s: unknown; m: unknown }): void {
  const s = w.root(1, 2);
  w.dv.setFloat64(s, w.num(v.n, "T.n"), true);
  w.text(s + 8, w.str(v.s, "T.s"));
  w.data(s + 16, pack(w, v.m, "T.m"));
}

function read(bytes: Uint8Array): { n: number; s: string | undefined; m: unknown } {
  const r: Reader = reader.reset(bytes, "T");
  r.root("T");
  const n = r.sdb >= 8 ? r.dv.getFloat64(r.sd, true) : 0;
  const ps = r.sp;
  const s = r.spc > 0 ? r.text(ps, "T.s") : undefined;
  const m = r.spc > 1 ? unpack(r, ps + 8, "T.m") : undefined;
  return { n, s, m };
}

describe("sourdough/codecs", () => {
  it("writes a framed single-segment message that its reader reads back, msgpack values included", () => {
    const m = { at: new Date(1_700_000_000_000), tags: new Map([["a", 1n]]), set: new Set([1, 2]) };
    const bytes = encode({ n: 1.5, s: "hé", m }, write);
    expect(new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true)).toBe(0); // one segment
    expect(bytes.byteLength % 8).toBe(0);
    expect(read(bytes)).toEqual({ n: 1.5, s: "hé", m });
  });

  it("keeps every output intact across slabs, a message larger than a slab included", () => {
    const big = "x".repeat(200_000);
    const outputs = Array.from({ length: 50 }, (_, i) => encode({ n: i, s: i % 10 === 0 ? big : `s${i}`, m: i }, write));
    outputs.forEach((b, i) => expect(read(b)).toEqual({ n: i, s: i % 10 === 0 ? big : `s${i}`, m: i }));
  });

  it("fails with CodecError codes: ERR_UNSUPPORTED_TYPE naming the path, ERR_PROTOCOL for bad bytes", () => {
    const bad = (f: () => unknown): CodecError => {
      try {
        f();
      } catch (error) {
        if (error instanceof CodecError) return error;
        throw error;
      }
      throw new Error("nothing thrown");
    };
    expect(bad(() => encode({ n: "1", s: "", m: 0 }, write))).toMatchObject({ code: "ERR_UNSUPPORTED_TYPE", message: 'T.n: expected a number, got "1".' });
    expect(bad(() => encode({ n: 1, s: "", m: { f: () => 1 } }, write)).message).toMatch(/^T\.m: expected a value msgpackr can copy \(a function cannot cross RPC\)/);
    expect(bad(() => read(new Uint8Array(8)))).toMatchObject({ code: "ERR_PROTOCOL" });
    expect(bad(() => read(new Uint8Array(8))).message).toMatch(/^sourdough codec, T: a message of 8 bytes is too short\. .*re-run `sourdough-gen`/);
    // After a failure the shared writer is clean: the next message is the same as from a fresh one.
    expect(Buffer.from(encode({ n: 2, s: "ok", m: null }, write)).toString("hex")).toBe(Buffer.from(encode({ n: 2, s: "ok", m: null }, write)).toString("hex"));
  });

  it("gives an encode started inside another (a getter) a writer of its own", () => {
    const inner = { n: 7, s: "inner", m: 0 };
    const outer = {
      get n(): number {
        expect(read(encode(inner, write))).toEqual(inner);
        return 3;
      },
      s: "outer",
      m: [1],
    };
    expect(read(encode(outer, write))).toEqual({ n: 3, s: "outer", m: [1] });
  });

  it("describes values for messages", () => {
    expect([describeValue("x".repeat(50)), describeValue(5n), describeValue(new Map()), describeValue([]), describeValue({})]).toEqual([`"${"x".repeat(37)}..."`, "5n", "a Map", "an array", "an object"]);
  });
});
