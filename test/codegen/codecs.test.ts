// The generated codecs against the reference implementations: for the same values they write the
// bytes capnp-ts writes (byte for byte), capnp-ts and `capnp decode` read what they write, they read
// what capnp-ts and `capnp encode` write, and random values of every supported type round-trip.
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { IrMethod, IrProject } from "../../codegen/ir.ts";
import { codecs as basicCodecs } from "./fixtures/basic/expected/codecs.ts";
import { codecs as kitchenCodecs } from "./fixtures/types/expected/codecs.ts";
import { type OracleSchema, capnpAvailable, capnpDecode, capnpEncode, decodeWithSchema, encodeWithSchema, loadSchema } from "../support/capnp-oracle.ts";
import { CAPNP_MARK } from "../support/capnp-notice.ts";
import { caseNamed } from "./support/fixtures.ts";
import { ValueFactory, argsObject, loadIr, normalize, toOracle } from "./support/values.ts";

// capnp-ts against the schema runs everywhere (committed compiled nodes where the tool is missing);
// `capnp encode` / `capnp decode` need the tool.
const haveCapnp = capnpAvailable();

interface Project {
  ir: IrProject;
  schema: OracleSchema;
  codecs: typeof kitchenCodecs;
}
const projects: Record<string, Project> = {};
const SOURCES = { basic: basicCodecs, types: kitchenCodecs };

beforeAll(async () => {
  for (const [name, codecs] of Object.entries(SOURCES)) {
    const dir = caseNamed(name).expected;
    projects[name] = { ir: loadIr(dir), schema: await loadSchema(join(dir, "schema.capnp")), codecs };
  }
}, 60_000);

function method(project: string, cls: string, name: string): { p: Project; m: IrMethod; codec: NonNullable<(typeof kitchenCodecs)[string]>[string] } {
  const p = projects[project];
  const m = p?.ir.classes.find((c) => c.name === cls)?.methods.find((x) => x.name === name);
  const codec = p?.codecs[cls]?.[name];
  if (p === undefined || m === undefined || codec === undefined) throw new Error(`no method ${cls}.${name}`);
  return { p, m, codec };
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const point = (x: number, y: number) => ({ x, y });
const shape = {
  id: -7,
  label: "root ☃",
  origin: point(1, 2),
  points: [point(0, 0), point(-1.5, 1e10)],
  tags: [{ name: "a", color: "dark-blue" }, { name: "b" }],
  matrix: [[1, 2], [], [3]],
  flags: [true, false, true, true, false, false, false, false, true],
  parent: { id: 1, label: "p", origin: point(0, 0), points: [], tags: [], matrix: [], flags: [], parent: null, children: [], note: "n", meta: null },
  children: [{ id: 2, label: "c", origin: point(5, 5), points: [], tags: [], matrix: [], flags: [], children: [], note: null, weight: 0.5, meta: [1, "x"] }],
  note: null,
  weight: 2.5,
  meta: { when: new Date(0), tags: new Set(["x"]) },
};
const numbers = {
  f64: -0, f32: 1.5, i8: -128, i16: 32767, i32: -2147483648, u8: 255, u16: 65535, u32: 4294967295,
  i64: -Number.MAX_SAFE_INTEGER, u64: Number.MAX_SAFE_INTEGER, big: -(2n ** 63n), ubig: 2n ** 64n - 1n, yes: true,
  small: [-1, 0, 127], wide: [0, 2 ** 53 - 1], bigs: [1n, -1n], colors: ["green", "dark-blue"],
};

interface Sample {
  project: string;
  cls: string;
  method: string;
  args: unknown[];
  result: unknown;
}

const SAMPLES: Array<Sample & { name: string }> = ([
  { project: "basic", cls: "Counter", method: "increment", args: [5], result: 6 },
  { project: "basic", cls: "Counter", method: "increment", args: [], result: 1 },
  { project: "basic", cls: "Counter", method: "reset", args: [], result: undefined },
  { project: "basic", cls: "Counter", method: "rename", args: ["room", null], result: { name: "room", previous: undefined } },
  { project: "basic", cls: "Counter", method: "rename", args: ["", "note"], result: { name: "", previous: "old" } },
  { project: "types", cls: "Kitchen", method: "echoShape", args: [shape], result: shape },
  { project: "types", cls: "Kitchen", method: "numbers", args: [numbers], result: numbers },
  { project: "types", cls: "Kitchen", method: "bytes", args: [new Uint8Array([1, 2, 3]), new Uint8Array([9]).buffer, [new Uint8Array(0), new Uint8Array(17)]], result: new Uint8Array(0) },
  { project: "types", cls: "Kitchen", method: "paint", args: ["red", "dark-blue"], result: "green" },
  { project: "types", cls: "Kitchen", method: "maybe", args: [1.5, "b", null, point(3, 4)], result: undefined },
  { project: "types", cls: "Kitchen", method: "maybe", args: [undefined, null, true], result: point(1, 1) },
  { project: "types", cls: "Kitchen", method: "clone", args: [new Date(5), new Map([["a", [1]]]), { deep: [null] }, point(1, 2), [1, null]], result: [new Map(), 1n] },
  { project: "types", cls: "Kitchen", method: "texts", args: [["a", "日本", "😀"], [["x"], []]], result: "a b" },
  { project: "types", cls: "Kitchen", method: "nothing", args: [], result: undefined },
  { project: "types", cls: "Kitchen", method: "literal", args: ["only"], result: "only" },
] satisfies Sample[]).map((s, i) => ({ ...s, name: `#${i + 1} ${s.cls}.${s.method}` }));

describe("generated codecs vs capnp-ts", { timeout: 60_000 }, () => {
  it.each(SAMPLES)("$name: params and result are byte-identical to capnp-ts", (s) => {
    const { p, m, codec } = method(s.project, s.cls, s.method);
    const params = toOracle(p.ir, m.params, argsObject(m.params, s.args));
    expect(hex(codec.encodeParams(s.args))).toBe(hex(encodeWithSchema(p.schema, m.params.name, params)));
    const result = toOracle(p.ir, m.results, { result: s.result });
    expect(hex(codec.encodeResult(s.result))).toBe(hex(encodeWithSchema(p.schema, m.results.name, result)));
  });

  it.each(SAMPLES)("$name: capnp-ts reads what the codecs write, the codecs read what capnp-ts writes", (s) => {
    const { p, m, codec } = method(s.project, s.cls, s.method);
    const params = toOracle(p.ir, m.params, argsObject(m.params, s.args));
    expect(normalize(decodeWithSchema(p.schema, m.params.name, codec.encodeParams(s.args)))).toMatchObject(normalize(params) as object);
    const fromReference = codec.decodeParams(encodeWithSchema(p.schema, m.params.name, params));
    expect(normalize(fromReference)).toEqual(normalize(expectedArgs(m, s.args)));
    expect(normalize(codec.decodeResult(codec.encodeResult(s.result)))).toEqual(normalize(s.result));
  });

});

describe.skipIf(!haveCapnp)(`generated codecs vs the capnp tool ${CAPNP_MARK}`, { timeout: 60_000 }, () => {
  it("capnp decode reads the codecs' bytes", async () => {
    const { p, codec } = method("types", "Kitchen", "maybe");
    const text = await capnpDecode(p.schema, "KitchenMaybeParams", codec.encodeParams([1.5, "hé", null, point(3, 4)]));
    expect(text).toBe('(a = 1.5, hasA = true, b = "hé", hasB = true, bIsNull = false, c = false, hasC = false, cIsNull = true, d = (x = 3, y = 4), hasD = true)');
    const shapeText = await capnpDecode(p.schema, "KitchenEchoShapeParams", method("types", "Kitchen", "echoShape").codec.encodeParams([shape]));
    expect(shapeText).toContain('tags = [(name = "a", color = darkBlue, hasColor = true), (name = "b", color = red, hasColor = false)]');
    expect(shapeText).toContain("matrix = [[1, 2], [], [3]]");
  });

  it("the codecs read what capnp encode writes", async () => {
    const { p, codec } = method("types", "Kitchen", "maybe");
    const bytes = await capnpEncode(p.schema, "KitchenMaybeParams", '(a = 2, hasA = true, b = "x", hasB = true, cIsNull = true, d = (x = 1, y = -1), hasD = true)');
    expect(codec.decodeParams(bytes)).toEqual([2, "x", null, point(1, -1)]);
    const n = method("types", "Kitchen", "numbers");
    const text = "(n = (f64 = 1, i8 = -5, u64 = 9007199254740991, big = -9223372036854775808, ubig = 18446744073709551615, colors = [darkBlue, red], small = [1, 2], yes = true))";
    const decoded = n.codec.decodeParams(await capnpEncode(n.p.schema, "KitchenNumbersParams", text));
    expect(decoded[0]).toMatchObject({ f64: 1, i8: -5, u64: 2 ** 53 - 1, big: -(2n ** 63n), ubig: 2n ** 64n - 1n, colors: ["dark-blue", "red"], small: [1, 2], yes: true, f32: 0, wide: [] });
  });
});

describe("generated codecs, property tests", { timeout: 60_000 }, () => {
  const cases = [
    ...["increment", "get", "reset", "rename"].map((m) => ({ project: "basic", cls: "Counter", method: m, name: `Counter.${m}` })),
    ...["echoShape", "numbers", "bytes", "paint", "maybe", "clone", "texts", "nothing", "literal"].map((m) => ({ project: "types", cls: "Kitchen", method: m, name: `Kitchen.${m}` })),
  ];
  it.each(cases)("$name: 150 random argument lists and results round-trip, byte-identical to capnp-ts", (c) => {
    const { p, m, codec } = method(c.project, c.cls, c.method);
    const values = new ValueFactory(p.ir, 0x5eed + m.id);
    for (let i = 0; i < 150; i++) {
      const args = m.params.fields.map((f) => values.field(f, 0));
      const bytes = codec.encodeParams(args);
      expect(normalize(codec.decodeParams(bytes))).toEqual(normalize(expectedArgs(m, args)));
      expect(hex(bytes)).toBe(hex(encodeWithSchema(p.schema, m.params.name, toOracle(p.ir, m.params, argsObject(m.params, args)))));
      const result = m.results.fields[0];
      if (result === undefined) continue;
      const value = values.field(result, 0);
      const out = codec.encodeResult(value);
      expect(normalize(codec.decodeResult(out))).toEqual(normalize(value));
      expect(hex(out)).toBe(hex(encodeWithSchema(p.schema, m.results.name, toOracle(p.ir, m.results, { result: value }))));
    }
  });
});

// Trailing absent optional arguments decode as undefined entries: the method sees its defaults.
function expectedArgs(m: IrMethod, args: readonly unknown[]): unknown[] {
  return m.params.fields.map((f, i) => (f.presence === "optional" && args[i] === null ? undefined : args[i]));
}
