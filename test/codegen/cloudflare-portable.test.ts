// The portable value form that carries stored values from sourdough to workerd (export → import):
// round trips of structured-clone values, and the errors for what it cannot carry.
import { describe, expect, it } from "vitest";
import { decodePortable, encodePortable } from "../../runtime/workerd/portable-value.ts";

const roundTrips: Array<{ given: string; value: unknown }> = [
  { given: "JSON scalars", value: ["s", 1.5, true, null] },
  { given: "numbers JSON lacks", value: [NaN, Infinity, -Infinity, -0] },
  { given: "undefined and a hole", value: [undefined, , 3] }, // eslint-disable-line no-sparse-arrays
  { given: "bigint", value: [2n ** 70n, -5n] },
  { given: "Date and RegExp", value: [new Date(0), /x+y/gimsuy] },
  { given: "Map with non-string keys and Set", value: new Map<unknown, unknown>([[1, new Set([1, "1"])], [{ a: 1 }, "obj key"]]) },
  { given: "an object with a `$` key", value: { $: "Date", v: "not a tag" } },
  { given: "binary data", value: [new Uint8Array([0, 255]), new Float64Array([1.5, -0]), new BigInt64Array([-1n]), new ArrayBuffer(3), new DataView(new Uint8Array([7, 8]).buffer)] },
  { given: "a Node Buffer (stored as Uint8Array)", value: Buffer.from("hi") },
  { given: "boxed primitives", value: [Object("s"), Object(1), Object(true)] },
  { given: "a shared reference (copied apart)", value: (() => { const shared = { n: 1 }; return [shared, shared]; })() },
  { given: "a long binary value", value: new Uint8Array(200_000).map((_, i) => i % 251) },
];

describe("portable values", () => {
  for (const { given, value } of roundTrips) {
    it(`round-trips ${given} through JSON`, () => {
      const back = decodePortable(JSON.parse(JSON.stringify(encodePortable(value, "v"))), "v");
      expect(back).toStrictEqual(value instanceof Buffer ? new Uint8Array(value) : value);
    });
  }

  it("keeps an Error's name and message", () => {
    const back = decodePortable(JSON.parse(JSON.stringify(encodePortable(new RangeError("r"), "v"))), "v") as Error;
    expect([back instanceof Error, back.name, back.message]).toEqual([true, "RangeError", "r"]);
  });

  const refusals: Array<{ given: string; encode?: unknown; decode?: unknown; want: string }> = [
    { given: "a cycle", encode: (() => { const a: Record<string, unknown> = {}; a.self = { a }; return a; })(), want: "kv key \"k\".self.a: the value contains a cycle, which the export format cannot carry. Break the cycle before exporting, or move this key by hand." },
    { given: "a function", encode: { f: () => 1 }, want: 'kv key "k".f: a function cannot be stored or exported. Store plain data.' },
    { given: "an unknown tag", decode: { $: "Temporal" }, want: 'kv key "k": unknown tag "Temporal". Import files written by sourdough-cloudflare export of this version.' },
    { given: "a plain object without a tag", decode: { a: 1 }, want: 'kv key "k": {"a":1} is not a portable value. Import files written by sourdough-cloudflare export.' },
    { given: "a tag missing its field", decode: { $: "Date" }, want: 'kv key "k": a "Date" value needs a number field "v".' },
  ];
  for (const c of refusals) {
    it(`refuses ${c.given}, saying where`, () => {
      const act = () => ("encode" in c ? encodePortable(c.encode, 'kv key "k"') : decodePortable(c.decode, 'kv key "k"'));
      expect(act).toThrow(c.want);
    });
  }
});
