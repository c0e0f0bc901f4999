// Value round-trips: what the structured clone algorithm keeps, through kv.put/kv.get and the async
// put/get/list, each value in a fresh object. Results are tagged JSON (see interpreter.ts).
import type { OracleCase } from "../cases.ts";
import { tag, type Json } from "../ops.ts";
import { DOC } from "./docs.ts";

const VALUES: Array<{ name: string; value: Json }> = [
  { name: "string", value: "hello" },
  { name: "empty string", value: "" },
  { name: "non-ASCII and emoji string", value: "h\u00e9llo \u{1F600}" },
  { name: "string with a lone surrogate", value: tag.units("a\uD800b") },
  { name: "integer", value: 42 },
  { name: "float", value: 0.1 },
  { name: "-0", value: tag.number("-0") },
  { name: "NaN", value: tag.number("NaN") },
  { name: "Infinity", value: tag.number("-Infinity") },
  { name: "boolean", value: true },
  { name: "null", value: null },
  { name: "undefined", value: tag.undefined },
  { name: "bigint beyond 2^64", value: tag.bigint("1000000000000000000000000000000") },
  { name: "negative bigint", value: tag.bigint("-1") },
  { name: "Date", value: tag.date(1_700_000_000_123) },
  { name: "invalid Date", value: tag.date(null) },
  { name: "Map with mixed keys", value: tag.map([["a", 1], [2, "two"], [tag.object({ k: 1 }), tag.set([1])]]) },
  { name: "Set", value: tag.set([1, "1", tag.bigint("1")]) },
  { name: "nested objects and arrays", value: tag.object({ a: [1, tag.object({ b: [null, "x"] })], c: tag.object({}) }) },
  { name: "object with an undefined field", value: tag.object({ a: tag.undefined, b: null }) },
  { name: "sparse array", value: tag.sparse(4, [[1, "x"], [3, tag.undefined]]) },
  { name: "ArrayBuffer", value: tag.arrayBuffer([0, 1, 255]) },
  { name: "Uint8Array", value: tag.view("Uint8Array", [1, 2, 3]) },
  { name: "Int32Array", value: tag.view("Int32Array", [-1, 2147483647]) },
  { name: "Float64Array", value: tag.view("Float64Array", [0.5, -2]) },
  { name: "BigInt64Array", value: tag.view("BigInt64Array", [tag.bigint("-9223372036854775808")]) },
  { name: "DataView", value: tag.view("DataView", [9, 8, 7]) },
  { name: "Uint8Array view into a larger buffer", value: tag.view("Uint8Array", [5, 6], 2, 8) },
  { name: "RegExp", value: tag.regexp("a+b", "gi") },
  { name: "Error", value: tag.error("Error", "boom") },
  { name: "TypeError", value: tag.error("TypeError", "bad type") },
  { name: "cyclic object", value: tag.cyclic },
  { name: "class instance (prototype is dropped)", value: tag.instance },
  { name: "function (not cloneable)", value: tag.function },
  { name: "symbol (not cloneable)", value: tag.symbol },
  { name: "object holding a function (not cloneable)", value: tag.object({ ok: 1, f: tag.function }) },
];

export const VALUE_CASES: OracleCase[] = VALUES.map(({ name, value }) => ({
  name: `value round-trip: ${name}`,
  doc: DOC.clone,
  ops: [
    { op: "kv.put", key: "v", value },
    { op: "kv.get", key: "v" },
    { op: "put", key: "w", value },
    { op: "get", key: "w" },
    { op: "list" },
  ],
}));
