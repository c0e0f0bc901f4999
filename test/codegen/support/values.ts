// Values for codec tests, driven by a generated sourdough.ir.json: random values of any IR type (seeded
// PRNG, no dependency), the capnp-oracle form of a value (capnp field names, presence Bools, enum
// names, msgpack bytes), and the value a decoder must return for an input (Float32 rounding, ...).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Packr } from "msgpackr";
import type { IrField, IrProject, IrStruct, IrType } from "../../../codegen/ir.ts";

export function loadIr(dir: string): IrProject {
  return JSON.parse(readFileSync(join(dir, "sourdough.ir.json"), "utf8")) as IrProject;
}

/** mulberry32: small, fast, seeded. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const packr = new Packr({ structuredClone: true });

const INT_RANGE: Record<string, [number, number]> = {
  int8: [-128, 127],
  uint8: [0, 255],
  int16: [-32768, 32767],
  uint16: [0, 65535],
  int32: [-2147483648, 2147483647],
  uint32: [0, 4294967295],
  int64: [-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  uint64: [0, Number.MAX_SAFE_INTEGER],
};

const CHARS = ["a", "Z", "0", " ", "é", "ß", "☃", "日本", "😀", "\n", "\"", "\\"];

/** Ids and stubs for a project that uses them: they need sourdough's runtime (see refs.test.ts). */
export interface RefValues {
  /** A random id or stub; `r` in [0, 1) picks it. */
  make(of: "id" | "stub", r: number): unknown;
  /** Its DurableObjectRef struct value, by capnp field name. */
  oracle(of: "id" | "stub", v: unknown): Record<string, unknown>;
}

export class ValueFactory {
  readonly #ir: IrProject;
  readonly #rand: () => number;
  readonly #refs: RefValues | undefined;

  constructor(ir: IrProject, seed: number, refs?: RefValues) {
    this.#ir = ir;
    this.#rand = prng(seed);
    this.#refs = refs;
  }

  int(min: number, max: number): number {
    const edge = this.#rand();
    if (edge < 0.1) return min;
    if (edge < 0.2) return max;
    if (edge < 0.3) return 0;
    return Math.floor(min + this.#rand() * (max - min + 1));
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.#rand() * items.length)] as T;
  }

  length(depth: number): number {
    return depth > 3 ? 0 : Math.floor(this.#rand() * 4);
  }

  struct(name: string): IrStruct {
    const s = this.#ir.structs.find((x) => x.name === name);
    if (s === undefined) throw new Error(`no struct ${name}`);
    return s;
  }

  /** A random value for a field, honouring its presence. */
  field(f: IrField, depth: number): unknown {
    const r = this.#rand();
    if ((f.presence === "optional" || f.presence === "optionalNullable") && (r < 0.25 || depth > 3)) return undefined;
    if ((f.presence === "nullable" || f.presence === "optionalNullable") && r > 0.75) return null;
    return this.value(f.type, depth);
  }

  value(t: IrType, depth: number): unknown {
    switch (t.kind) {
      case "void":
        return undefined;
      case "bool":
        return this.#rand() < 0.5;
      case "number": {
        if (t.wire === "float64") return this.pick([0, -0, 1.5, -1e300, 5e-324, Number.NaN, Number.POSITIVE_INFINITY, this.#rand() * 1e6 - 5e5]);
        if (t.wire === "float32") return Math.fround(this.pick([0, 1.5, -3.25, 1e30, this.#rand() * 1000]));
        const [min, max] = INT_RANGE[t.wire] ?? [0, 0];
        return this.int(min, max);
      }
      case "bigint":
        return t.wire === "int64" ? BigInt.asIntN(64, this.#big()) : BigInt.asUintN(64, this.#big());
      case "text":
        return Array.from({ length: Math.floor(this.#rand() * 12) }, () => this.pick(CHARS)).join("");
      case "data": {
        const bytes = Uint8Array.from({ length: Math.floor(this.#rand() * 20) }, () => Math.floor(this.#rand() * 256));
        return t.as === "ArrayBuffer" ? bytes.buffer : t.as === "Buffer" ? Buffer.from(bytes) : bytes;
      }
      case "list":
        return Array.from({ length: this.length(depth) }, () => this.value(t.element, depth + 1));
      case "enum": {
        const e = this.#ir.enums.find((x) => x.name === t.name);
        return this.pick(e?.values.map((v) => v.value) ?? []);
      }
      case "struct": {
        const out: Record<string, unknown> = {};
        for (const f of this.struct(t.name).fields) out[f.name] = this.field(f, depth + 1);
        return out;
      }
      case "msgpack":
        return this.pick([undefined, null, 1, "x", [1, "two", { three: 3 }], new Date(86_400_000), new Map([["k", [1, 2]]]), new Set([1, 2]), { nested: { deep: [null, true] } }, 12345678901234567890n]);
      case "ref":
        if (this.#refs === undefined) throw new Error("ids and stubs need a RefValues");
        return this.#refs.make(t.of, this.#rand());
      case "unsupported":
        throw new Error("unsupported types have no values");
    }
  }

  #big(): bigint {
    const hi = BigInt(Math.floor(this.#rand() * 2 ** 32));
    const lo = BigInt(Math.floor(this.#rand() * 2 ** 32));
    return this.pick([0n, -1n, 2n ** 63n - 1n, -(2n ** 63n), (hi << 32n) | lo]);
  }
}

/** The capnp-oracle input for a struct value given by TypeScript field name. */
export function toOracle(ir: IrProject, s: IrStruct, value: Record<string, unknown>, refs?: RefValues): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of s.fields) {
    const v = value[f.name];
    if (f.presence !== "required") {
      if (v === undefined || v === null) {
        if (v === null && f.isNull !== undefined) out[f.isNull.capnpName] = true;
        continue;
      }
      if (f.has !== undefined) out[f.has.capnpName] = true;
    }
    if (f.type.kind === "void") continue;
    out[f.capnpName] = oracleValue(ir, f.type, v, refs);
  }
  return out;
}

function oracleValue(ir: IrProject, t: IrType, v: unknown, refs: RefValues | undefined): unknown {
  switch (t.kind) {
    case "number":
      return t.wire === "int64" || t.wire === "uint64" ? BigInt(v as number) : v;
    case "data":
      return v instanceof ArrayBuffer ? new Uint8Array(v) : v;
    case "msgpack":
      return packr.pack(v);
    case "enum":
      return ir.enums.find((e) => e.name === t.name)?.values.find((x) => x.value === v)?.capnpName;
    case "struct": {
      const s = ir.structs.find((x) => x.name === t.name);
      if (s === undefined) throw new Error(`no struct ${t.name}`);
      return toOracle(ir, s, v as Record<string, unknown>, refs);
    }
    case "list":
      return (v as unknown[]).map((x) => oracleValue(ir, t.element, x, refs));
    case "ref":
      if (refs === undefined) throw new Error("ids and stubs need a RefValues");
      return refs.oracle(t.of, v);
    default:
      return v;
  }
}

/** Params as a struct value: argument i is field i. */
export function argsObject(s: IrStruct, args: readonly unknown[]): Record<string, unknown> {
  return Object.fromEntries(s.fields.map((f, i) => [f.name, args[i]]));
}

/** Makes values comparable with toEqual: binary data as tagged byte arrays (Buffer = Uint8Array), -0 kept apart from 0. */
export function normalize(v: unknown): unknown {
  if (v instanceof ArrayBuffer) return { arrayBuffer: [...new Uint8Array(v)] };
  if (v instanceof Uint8Array) return { bytes: [...v] };
  if (Object.is(v, -0)) return "-0";
  if (Array.isArray(v)) return v.map(normalize);
  if (v instanceof Map || v instanceof Set || v instanceof Date) return v;
  if (typeof v === "object" && v !== null) {
    return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined).map(([k, x]) => [k, normalize(x)]));
  }
  return v;
}
