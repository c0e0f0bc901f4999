// The generated codecs on hostile or unexpected input: older (shorter) and newer (longer) structs read
// per Cap'n Proto rules, malformed bytes fail with ERR_PROTOCOL (never another error, never a crash),
// values that do not fit the schema fail with ERR_UNSUPPORTED_TYPE naming the path to the value.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { codecs as basic } from "./fixtures/basic/expected/codecs.ts";
import type { CodecError } from "../../runtime/codecs/index.ts";
import { SourdoughError } from "../../runtime/errors.ts";
import { codecFailure } from "../../runtime/rpc/generated.ts";
import { codecs as kitchen } from "./fixtures/types/expected/codecs.ts";
import { decodeWithSchema, encodeWithSchema, loadSchema } from "../support/capnp-oracle.ts";
import { removeDir, tempDir } from "./support/fixtures.ts";
import { prng } from "./support/values.ts";

const K = kitchen["Kitchen"];
const C = basic["Counter"];
if (K === undefined || C === undefined) throw new Error("fixture codecs missing");
const { echoShape, maybe, numbers, texts, paint, clone } = K as Required<typeof K>;
const { increment, rename, get } = C as Required<typeof C>;
if (!echoShape || !maybe || !numbers || !texts || !paint || !clone || !increment || !rename || !get) throw new Error("fixture methods missing");

const point = (x: number, y: number) => ({ x, y });
const leaf = (id: number, parent?: unknown) => ({ id, label: `s${id}`, origin: point(0, 0), points: [], tags: [], matrix: [], flags: [], parent, children: [], note: null, meta: null });

// Each generated module has its own CodecError class: recognize it by name and code, as the runtime does.
function isCodecError(error: unknown): error is CodecError {
  return error instanceof Error && error.name === "CodecError" && typeof (error as { code?: unknown }).code === "string";
}

function codecError(f: () => unknown): CodecError {
  try {
    f();
  } catch (error) {
    if (isCodecError(error)) return error;
    throw new Error(`expected a CodecError, got ${String(error)}`, { cause: error });
  }
  throw new Error("expected a CodecError, nothing was thrown");
}


// Hand-written older and newer versions of two generated structs (struct names match; layouts follow the rules).
const EVOLVED = `@0xb1e4c7a1d3f50e29;
struct OldMaybe { a @0 :Float64; hasA @1 :Bool; }
struct NewMaybe {
  a @0 :Float64; hasA @1 :Bool; b @2 :Text; hasB @3 :Bool; bIsNull @4 :Bool; c @5 :Bool; hasC @6 :Bool; cIsNull @7 :Bool;
  d @8 :NewPoint; hasD @9 :Bool; extra @10 :Text; more @11 :UInt64; list @12 :List(NewPoint);
}
struct NewPoint { x @0 :Float64; y @1 :Float64; z @2 :Float64; label @3 :Text; }
struct OldNumbers { f64 @0 :Float64; f32 @1 :Float32; }
struct OldNumbersParams { n @0 :OldNumbers; }
struct Big { n @0 :Big64; }
struct Big64 { f64 @0 :Float64; f32 @1 :Float32; i8 @2 :Int8; i16 @3 :Int16; i32 @4 :Int32; u8 @5 :UInt8; u16 @6 :UInt16; u32 @7 :UInt32; i64 @8 :Int64; }
`;

describe("generated codecs across schema versions", { timeout: 60_000 }, () => {
  let loaded: ReturnType<typeof loadSchema> | undefined;
  const schema = () => (loaded ??= (async () => {
    const scratch = tempDir("safety");
    const file = join(scratch, "evolved.capnp");
    writeFileSync(file, EVOLVED);
    return loadSchema(file).finally(() => removeDir(scratch));
  })());

  it("read an older, shorter struct: the fields it lacks are absent or default", async () => {
    const s = await schema();
    expect(maybe.decodeParams(encodeWithSchema(s, "OldMaybe", { a: 2, hasA: true }))).toEqual([2, undefined, undefined, undefined]);
    const [n] = numbers.decodeParams(encodeWithSchema(s, "OldNumbersParams", { n: { f64: 1.5, f32: 2 } }));
    expect(n).toEqual({ f64: 1.5, f32: 2, i8: 0, i16: 0, i32: 0, u8: 0, u16: 0, u32: 0, i64: 0, u64: 0, big: 0n, ubig: 0n, yes: false, small: [], wide: [], bigs: [], colors: [] });
  });

  it("read a newer, longer struct: fields they do not know are skipped", async () => {
    const s = await schema();
    const bytes = encodeWithSchema(s, "NewMaybe", { a: 1, hasA: true, b: "x", hasB: true, d: { x: 1, y: 2, z: 3, label: "new" }, hasD: true, extra: "ignored", more: 5n, list: [{ x: 1 }] });
    expect(maybe.decodeParams(bytes)).toEqual([1, "x", undefined, point(1, 2)]);
  });

  it("write what older and newer readers read per the rules", async () => {
    const s = await schema();
    const bytes = maybe.encodeParams([1.5, "b", undefined, point(3, 4)]);
    expect(decodeWithSchema(s, "OldMaybe", bytes)).toEqual({ a: 1.5, hasA: true });
    expect(decodeWithSchema(s, "NewMaybe", bytes)).toMatchObject({ a: 1.5, b: "b", d: { x: 3, y: 4, z: 0 }, more: 0n });
  });

  it("refuse an Int64 that a JS number cannot hold exactly, and say what to do", async () => {
    const s = await schema();
    const bytes = encodeWithSchema(s, "Big", { n: { i64: 2n ** 60n } });
    expect(codecError(() => numbers.decodeParams(bytes)).message).toContain("Numbers.i64: Int64 value does not fit a JS number exactly; declare it as bigint");
  });
});

describe("generated codecs on malformed bytes", { timeout: 60_000 }, () => {
  const valid = echoShape.encodeParams([{ ...leaf(1), tags: [{ name: "t" }], points: [point(1, 2)] }]);
  const patched = (f: (b: Buffer) => void, from: Uint8Array = valid): Buffer => {
    const b = Buffer.from(from);
    f(b);
    return b;
  };
  const shapeCase = (name: string, bytes: Uint8Array, want: string) => ({ name, bytes, want, decode: echoShape.decodeParams, label: "Kitchen.echoShape parameters" });
  const cases = [
    shapeCase("too short", valid.subarray(0, 8), "a message of 8 bytes is too short"),
    shapeCase("two segments", patched((b) => b.writeUInt32LE(1, 0)), "expected one segment, the segment table lists 2"),
    shapeCase("truncated", valid.subarray(0, valid.length - 8), `the segment table says ${valid.length} bytes, got ${valid.length - 8}`),
    shapeCase("root outside the message", patched((b) => b.writeUInt32LE(1000 << 2, 8)), "the struct lies outside the message"),
    shapeCase("list where a struct belongs", patched((b) => b.writeUInt32LE(b.readUInt32LE(8) | 1, 8)), "expected a struct pointer, found pointer kind 1"),
    shapeCase("far pointer", patched((b) => b.writeUInt32LE(2, 8)), "expected a struct pointer, found pointer kind 2"),
    {
      name: "text without NUL",
      bytes: patched((b) => b.write("z", b.indexOf(Buffer.from("room\0")) + 4), rename.encodeParams(["room"])),
      want: "CounterRenameParams.name: the text is not NUL-terminated",
      decode: rename.decodeParams,
      label: "Counter.rename parameters",
    },
    {
      name: "list of the wrong element size",
      bytes: patched((b) => b.writeUInt32LE((b.readUInt32LE(28) & ~7) | 5, 28), texts.encodeParams([["a"], []])),
      want: "KitchenTextsParams.nested: expected a list of element size 6, found 5",
      decode: texts.decodeParams,
      label: "Kitchen.texts parameters",
    },
  ];

  it.each(cases)("$name: ERR_PROTOCOL naming what is wrong", ({ bytes, want, decode, label }) => {
    const error = codecError(() => decode(bytes));
    expect(error.code).toBe("ERR_PROTOCOL");
    expect(error.message).toContain(want);
    expect(error.message.startsWith(`sourdough codec, ${label}: `)).toBe(true);
    expect(error.message).toContain("re-run `sourdough-gen` and restart both with the same output"); // the likely cause: stale codecs
  });

  it("refuses nesting deeper than 64 levels", () => {
    let s: unknown = leaf(0);
    for (let i = 1; i < 70; i++) s = leaf(i, s);
    expect(codecError(() => echoShape.decodeParams(echoShape.encodeParams([s]))).message).toContain("nested deeper than 64 levels");
  });

  it("refuses a message whose pointers reach far more data than it holds (traversal limit)", () => {
    const n = 200;
    const text = "x".repeat(399);
    const words = 1 + 2 + n + 50;
    const b = Buffer.alloc(8 + words * 8);
    b.writeUInt32LE(words, 4);
    b.writeUInt32LE(0, 8);
    b.writeUInt16LE(2, 14); // root -> struct (0 data words, 2 pointers) at word 1
    const list = 16 + 16;
    b.writeUInt32LE(((0 << 2) | 1) >>> 0, 16);
    b.writeUInt32LE((n << 3) | 6, 20); // words -> list of n pointers right after the struct
    const target = list + n * 8;
    b.write(text, target);
    for (let i = 0; i < n; i++) {
      const p = list + i * 8;
      b.writeUInt32LE((((target - p - 8) / 8) << 2) | 1, p);
      b.writeUInt32LE(((text.length + 1) << 3) | 2, p + 4);
    }
    expect(codecError(() => texts.decodeParams(b)).message).toContain("traversal limit");
  });

  it("fails only with CodecError on 3000 randomly corrupted messages", () => {
    const rand = prng(42);
    const samples = [valid, maybe.encodeParams([1, "x", null, point(1, 2)]), texts.encodeParams([["a", "b"], [["c"]]]), numbers.encodeParams([{ f64: 1, f32: 1, i8: 1, i16: 1, i32: 1, u8: 1, u16: 1, u32: 1, i64: 1, u64: 1, big: 1n, ubig: 1n, yes: true, small: [1], wide: [1], bigs: [1n], colors: ["red"] }])];
    const decoders = [echoShape.decodeParams, maybe.decodeParams, texts.decodeParams, numbers.decodeParams];
    for (let i = 0; i < 3000; i++) {
      const k = i % samples.length;
      const b = Buffer.from(samples[k] as Uint8Array);
      for (let flips = 1 + Math.floor(rand() * 3); flips > 0; flips--) b[8 + Math.floor(rand() * (b.length - 8))] = Math.floor(rand() * 256);
      try {
        decoders[k]?.(b);
      } catch (error) {
        if (!isCodecError(error)) throw new Error(`sample ${k}, corruption ${i}: ${String(error)} (${b.toString("hex")})`);
      }
    }
  });
});

describe("generated codecs on values that do not fit", () => {
  it.each([
    { name: "a string for a number", f: () => increment.encodeParams(["5"]), want: 'Counter.increment, argument 1 (by): expected a number, got "5".' },
    { name: "too many arguments", f: () => increment.encodeParams([1, 2]), want: "Counter.increment: expected at most 1 argument, got 2." },
    { name: "a wrong result", f: () => get.encodeResult("x"), want: 'Counter.get result: expected a number, got "x".' },
    { name: "deep in a struct", f: () => echoShape.encodeParams([{ ...leaf(1), points: [point(1, 2), { x: 1, y: "2" }] }]), want: 'Kitchen.echoShape, argument 1 (shape).points[1].y: expected a number, got "2".' },
    { name: "a missing field", f: () => echoShape.encodeParams([{ id: 1 }]), want: "Kitchen.echoShape, argument 1 (shape).label: expected a string, got undefined." },
    { name: "an Int8 out of range", f: () => numbers.encodeParams([{ f64: 0, f32: 0, i8: 300 }]), want: "Kitchen.numbers, argument 1 (n).i8: expected an Int8, got 300." },
    { name: "an unsafe Int64", f: () => numbers.encodeParams([{ f64: 0, f32: 0, i8: 0, i16: 0, i32: 0, u8: 0, u16: 0, u32: 0, i64: 2 ** 60 }]), want: "(n).i64: expected a safe integer (Int64), got 1152921504606847000." },
    { name: "a bigint out of UInt64 range", f: () => numbers.encodeParams([{ f64: 0, f32: 0, i8: 0, i16: 0, i32: 0, u8: 0, u16: 0, u32: 0, i64: 0, u64: 0, big: 0n, ubig: -1n }]), want: "(n).ubig: expected a bigint in UInt64 range, got -1n." },
    { name: "an unknown enum value", f: () => paint.encodeParams(["purple"]), want: 'Kitchen.paint, argument 1 (color): expected one of "red", "green", "dark-blue", got "purple".' },
    { name: "a function inside a msgpack value", f: () => clone.encodeParams([new Date(0), new Map(), { f: () => 1 }, point(0, 0), []]), want: "Kitchen.clone, argument 3 (anything): expected a value msgpackr can copy" },
    { name: "a cyclic value", f: () => { const s: Record<string, unknown> = leaf(1); s["parent"] = s; return echoShape.encodeParams([s]); }, want: "expected a value nested at most 64 levels deep (is it cyclic?)" },
  ])("$name: ERR_UNSUPPORTED_TYPE with the path to the value", ({ f, want }) => {
    const error = codecError(f);
    expect(error.code).toBe("ERR_UNSUPPORTED_TYPE");
    expect(error.message).toContain(want);
  });

  it("reach callers as a SourdoughError whose message names the method once (no doubled prefix)", () => {
    const cases = [
      { f: () => increment.encodeParams(["5"]), where: "Counter.increment arguments", want: 'Counter.increment, argument 1 (by): expected a number, got "5".' },
      { f: () => get.encodeResult("x"), where: "Counter.get result", want: 'Counter.get result: expected a number, got "x".' },
      { f: () => increment.decodeParams(new Uint8Array(8)), where: "Counter.increment arguments", want: "sourdough codec, Counter.increment parameters: a message of 8 bytes is too short." },
    ];
    for (const { f, where, want } of cases) {
      const seen = codecFailure(codecError(f), where) as SourdoughError;
      expect(seen).toBeInstanceOf(SourdoughError);
      expect(seen.message.startsWith(want)).toBe(true);
      expect(seen.message.split("Counter.").length).toBe(2);
    }
    // A message that does not name the method still gets the caller's `where`.
    const bare = Object.assign(new Error("expected a number"), { name: "CodecError", code: "ERR_UNSUPPORTED_TYPE" });
    expect((codecFailure(bare, "Counter.get result") as Error).message).toBe("Counter.get result: expected a number");
  });

  it("leaves the writer clean after a failed encode", () => {
    const before = Buffer.from(echoShape.encodeParams([leaf(3)])).toString("hex");
    codecError(() => echoShape.encodeParams([{ ...leaf(1), label: "x".repeat(100), origin: "nope" }]));
    expect(Buffer.from(echoShape.encodeParams([leaf(3)])).toString("hex")).toBe(before);
  });

  it("keeps every output intact while later messages fill, overflow and replace slabs", () => {
    const kept: Array<{ bytes: Uint8Array; label: string }> = [];
    for (let i = 0; i < 400; i++) {
      const label = i % 97 === 0 ? "big".repeat(30_000 + i) : `s${i}`.repeat(i % 50);
      kept.push({ bytes: echoShape.encodeParams([{ ...leaf(i), label }]), label });
    }
    for (const [i, k] of kept.entries()) expect(echoShape.decodeParams(k.bytes)[0]).toMatchObject({ id: i, label: k.label });
  });

  it("survives an encode started from a getter during another encode", () => {
    const inner = Buffer.from(echoShape.encodeParams([leaf(9)])).toString("hex");
    let nested = "";
    const outer = { ...leaf(1), get label() { nested = Buffer.from(echoShape.encodeParams([leaf(9)])).toString("hex"); return "outer"; } };
    const bytes = echoShape.encodeParams([outer]);
    expect(nested).toBe(inner);
    expect(echoShape.decodeParams(bytes)[0]).toMatchObject({ id: 1, label: "outer" });
  });
});
