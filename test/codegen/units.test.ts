// Pure pieces of sourdough-gen, table-driven: Cap'n Proto names, id derivation, struct layout.
import { describe, expect, it } from "vitest";
import { childId, fileId } from "../../codegen/ids.ts";
import type { IrField, IrStruct, IrType } from "../../codegen/ir.ts";
import { layoutStruct } from "../../codegen/layout.ts";
import { memberName, typeName, unique } from "../../codegen/names.ts";

describe("names", () => {
  it.each([
    { given: "Counter", want: "Counter" },
    { given: "my_class", want: "MyClass" },
    { given: "Page<Item>", want: "PageItem" },
    { given: "$thing", want: "Thing" },
    { given: "3d", want: "T3d" },
    { given: "Data", want: "DataType" },
    { given: "", want: "T" },
  ])("typeName($given) is $want", ({ given, want }) => expect(typeName(given)).toBe(want));

  it.each([
    { given: "by", want: "by" },
    { given: "user_id", want: "userId" },
    { given: "URLPath", want: "urlPath" },
    { given: "ID", want: "id" },
    { given: "dark-blue", want: "darkBlue" },
    { given: "Red", want: "red" },
    { given: "404", want: "v404" },
    { given: "", want: "empty" },
  ])("memberName($given) is $want", ({ given, want }) => expect(memberName(given)).toBe(want));

  it("makes names unique with a number", () => {
    const taken = new Set(["a", "a2"]);
    expect([unique("a", taken), unique("b", taken), unique("a", taken)]).toEqual(["a3", "b", "a4"]);
  });
});

describe("ids", () => {
  it("derives a struct id the way capnp does (schema/rpc.capnp's Call has no explicit id)", () => {
    expect(childId("0xd3a2c61b9f4e8a71", "Call")).toBe("0x8a6dfffe34cc524d");
  });

  it("gives file ids with the high bit set, stable per seed", () => {
    expect(BigInt(fileId("x")) >> 63n).toBe(1n);
    expect(fileId("my-app")).toBe(fileId("my-app"));
    expect(fileId("my-app")).not.toBe(fileId("my-app2"));
  });
});

const f = (ordinal: number, type: IrType): IrField => ({ name: `f${ordinal}`, capnpName: `f${ordinal}`, ordinal, type, presence: "required", ts: "" });
const struct = (...types: IrType[]): IrStruct => ({ name: "S", id: "0x8000000000000000", ts: "", fields: types.map((t, i) => f(i, t)), retired: [] });
const bool: IrType = { kind: "bool" };
const f64: IrType = { kind: "number", wire: "float64" };
const i8: IrType = { kind: "number", wire: "int8" };
const i16: IrType = { kind: "number", wire: "int16" };
const i32: IrType = { kind: "number", wire: "int32" };
const text: IrType = { kind: "text" };

describe("layoutStruct", () => {
  // Expected positions as `capnp compile -ocapnp` prints them for the same fields.
  it.each([
    { name: "one Float64", given: struct(f64), want: { dataWords: 1, pointers: 0, at: ["bits 0"] } },
    { name: "Bool then Float64", given: struct(bool, f64), want: { dataWords: 2, pointers: 0, at: ["bits 0", "bits 64"] } },
    { name: "holes are filled smallest first", given: struct(bool, i8, i16, i32, bool), want: { dataWords: 1, pointers: 0, at: ["bits 0", "bits 8", "bits 16", "bits 32", "bits 1"] } },
    { name: "pointers count apart", given: struct(text, i32, text, { kind: "void" }), want: { dataWords: 1, pointers: 2, at: ["ptr 0", "bits 0", "ptr 1", "void"] } },
    { name: "Int32 after Float64 opens a word", given: struct(f64, i32, i32, i32), want: { dataWords: 3, pointers: 0, at: ["bits 0", "bits 64", "bits 96", "bits 128"] } },
  ])("$name", ({ given, want }) => {
    const layout = layoutStruct(given);
    const at = layout.fields.map((x) => (x.slot.kind === "data" ? `bits ${x.slot.byte * 8 + x.slot.bit}` : x.slot.kind === "pointer" ? `ptr ${x.slot.index}` : "void"));
    expect({ dataWords: layout.dataWords, pointers: layout.pointers, at }).toEqual(want);
  });
});
