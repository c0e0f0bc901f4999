// Emits the encoding half of codecs.ts: straight-line functions that check each value against its
// type and write it into the struct layout. Data fields first (no allocation, `b` stays valid), then
// pointer fields in ordinal order, which is where capnp-ts allocates their targets.
import { type IrType, refStruct } from "../ir.ts";
import { layoutStruct } from "../layout.ts";
import { type DataSlot, type FieldPlan, type StructPlan, access, propertyLabel, typeKey } from "./codec-plan.ts";

const INT_RANGES: Record<string, [string, number, number, string]> = {
  int8: ["setInt8", -128, 127, "an Int8"],
  uint8: ["setUint8", 0, 255, "a UInt8"],
  int16: ["setInt16", -32768, 32767, "an Int16"],
  uint16: ["setUint16", 0, 65535, "a UInt16"],
  int32: ["setInt32", -2147483648, 2147483647, "an Int32"],
  uint32: ["setUint32", 0, 4294967295, "a UInt32"],
};

/** Element size code and bytes per element of a list of `t` (bits for Bool: size 1). */
export function listElement(t: IrType): { size: number; bytes: number } {
  switch (t.kind) {
    case "bool":
      return { size: 1, bytes: 0 };
    case "enum":
      return { size: 3, bytes: 2 };
    case "bigint":
      return { size: 5, bytes: 8 };
    case "number": {
      const bits = t.wire === "int8" || t.wire === "uint8" ? 8 : t.wire.endsWith("16") ? 16 : t.wire.endsWith("64") ? 64 : 32;
      return { size: { 8: 2, 16: 3, 32: 4, 64: 5 }[bits] ?? 5, bytes: bits / 8 };
    }
    case "struct":
    case "ref":
      return { size: 7, bytes: 0 };
    default:
      return { size: 6, bytes: 8 };
  }
}

/** Writes data value `x` (checked) at byte `pos`; Bool sets `mask` in byte `pos`. Uses `dv` = w.dv. */
export function dataWrite(t: IrType, pos: string, mask: string, x: string, at: string): string {
  switch (t.kind) {
    case "bool":
      return `if (w.bool(${x}, ${at})) w.bit(${pos}, ${mask});`;
    case "enum":
      return `dv.setUint16(${pos}, encodeEnum_${t.name}(w, ${x}, ${at}), true);`;
    case "bigint":
      return `dv.${t.wire === "int64" ? "setBigInt64" : "setBigUint64"}(${pos}, w.big(${x}, ${at}, ${t.wire === "uint64"}), true);`;
    case "number": {
      if (t.wire === "float64" || t.wire === "float32") return `dv.${t.wire === "float64" ? "setFloat64" : "setFloat32"}(${pos}, w.num(${x}, ${at}), true);`;
      if (t.wire === "int64" || t.wire === "uint64") return `w.i64(${pos}, w.safe(${x}, ${at}, ${t.wire === "uint64"}));`;
      const [method, min, max, what] = INT_RANGES[t.wire] ?? ["setInt32", 0, 0, ""];
      const endian = t.wire === "int8" || t.wire === "uint8" ? "" : ", true";
      return `dv.${method}(${pos}, w.int(${x}, ${at}, ${min}, ${max}, ${JSON.stringify(what)})${endian});`;
    }
    default:
      throw new Error(`not a data type: ${t.kind}`);
  }
}

/** Writes pointer value `x` (checked) into pointer word `ptr`. */
export function pointerWrite(t: IrType, ptr: string, x: string, at: string): string {
  switch (t.kind) {
    case "text":
      return `w.text(${ptr}, w.str(${x}, ${at}));`;
    case "data":
      return `w.data(${ptr}, w.bytes(${x}, ${at}));`;
    case "msgpack":
      return `w.data(${ptr}, pack(w, ${x}, ${at}));`;
    case "struct":
      return `w.path.push(${at}); write_${t.name}(w, ${ptr}, ${x}); w.path.pop();`;
    case "list":
      return `w.path.push(${at}); writeList_${typeKey(t)}(w, ${ptr}, ${x}); w.path.pop();`;
    case "ref":
      return `writeRef(w, ${ptr}, ${x}, ${JSON.stringify(t.of)}, ${at});`;
    default:
      throw new Error(`not a pointer type: ${t.kind}`);
  }
}

/**
 * Statements writing every field of a struct whose data section starts at `s`, values read by
 * `source(field)`, labelled by `label(field)` (code expressions). Data fields, then pointers.
 */
export function fieldWrites(plan: StructPlan, source: (f: FieldPlan) => string, label: (f: FieldPlan) => string): string[] {
  const dataPhase: string[] = [];
  const pointerPhase: string[] = [];
  const base = plan.dataWords * 8;
  for (const f of plan.fields) {
    const slot = f.slot;
    if (slot.kind === "void") continue;
    const x = f.field.presence === "required" ? source(f) : `v${f.index}`;
    const write = slot.kind === "data" ? dataWrite(f.field.type, `s + ${slot.byte}`, `${1 << slot.bit}`, x, label(f)) : pointerWrite(f.field.type, `s + ${base + slot.index * 8}`, x, label(f));
    const phase = slot.kind === "data" ? dataPhase : pointerPhase;
    if (f.field.presence === "required") {
      phase.push(write);
      continue;
    }
    phase.push(`const ${x} = ${source(f)};`);
    phase.push(`if (${x} !== undefined && ${x} !== null) {`, `  ${write}`, `  ${bitSet(f.has)}`, "}");
    if (f.field.presence === "optionalNullable") phase.push(`else if (${x} === null) ${bitSet(f.isNull)}`);
  }
  return [...(dataPhase.some((l) => /\bdv\./.test(l)) ? ["const dv = w.dv;"] : []), ...dataPhase, ...pointerPhase];
}

function bitSet(slot: DataSlot | undefined): string {
  return slot === undefined ? "" : `w.bit(s + ${slot.byte}, ${1 << slot.bit});`;
}

/** write_X (allocate and point) and fill_X (write the fields) for a struct. */
export function structWriters(plan: StructPlan, direct: boolean): string {
  const name = plan.struct.name;
  const body = fieldWrites(plan, (f) => access("o", f.field.name), (f) => JSON.stringify(propertyLabel(f.field.name)));
  const used = body.join("\n");
  const p = (n: string): string => (new RegExp(`\\b${n}\\b`).test(stripStrings(used)) ? n : `_${n}`);
  const out: string[] = [];
  if (direct) {
    out.push(`function write_${name}(w: Writer, p: number, v: unknown): void {`);
    out.push("  w.deep(v);", `  fill_${name}(w, w.struct(p, ${plan.dataWords}, ${plan.pointers}), w.obj(v, ""));`, "}", "");
  }
  out.push(`function fill_${name}(${p("w")}: Writer, ${p("s")}: number, ${p("o")}: Record<string, unknown>): void {`);
  out.push(...body.map((l) => `  ${l}`), "}", "");
  return out.join("\n");
}

/** writeList_K for a list type. */
export function listWriter(t: Extract<IrType, { kind: "list" }>, structs: ReadonlyMap<string, StructPlan>): string {
  const el = t.element;
  const { size, bytes } = listElement(el);
  const head = [`function writeList_${typeKey(t)}(w: Writer, p: number, v: unknown): void {`, "  w.deep(v);", '  const a = w.arr(v, "");', "  const n = a.length;"];
  let body: string[];
  if (el.kind === "struct") {
    const plan = structs.get(el.name);
    const dw = plan?.dataWords ?? 0;
    const pc = plan?.pointers ?? 0;
    body = [
      `const at = w.composite(p, n, ${dw}, ${pc});`,
      "for (let i = 0; i < n; i++) {",
      `  w.path.push(i); fill_${el.name}(w, at + i * ${(dw + pc) * 8}, w.obj(a[i], "")); w.path.pop();`,
      "}",
    ];
  } else if (el.kind === "ref") {
    const { dataWords, pointers } = layoutStruct(refStruct());
    body = [`const at = w.composite(p, n, ${dataWords}, ${pointers});`, `for (let i = 0; i < n; i++) fillRef(w, at + i * ${(dataWords + pointers) * 8}, a[i], ${JSON.stringify(el.of)}, i);`];
  } else if (size === 6) {
    body = ["const at = w.list(p, 6, n, 8);", "for (let i = 0; i < n; i++) {", `  ${pointerWrite(el, "at + i * 8", "a[i]", "i")}`, "}"];
  } else if (el.kind === "bool") {
    body = ["const at = w.bits(p, n);", "for (let i = 0; i < n; i++) if (w.bool(a[i], i)) w.bit(at + (i >> 3), 1 << (i & 7));"];
  } else {
    const write = dataWrite(el, `at + i * ${bytes}`, "0", "a[i]", "i");
    body = [`const at = w.list(p, ${size}, n, ${bytes});`, ...(/\bdv\./.test(write) ? ["const dv = w.dv;"] : []), `for (let i = 0; i < n; i++) ${write}`];
  }
  return [...head, ...body.map((l) => `  ${l}`), "}", ""].join("\n");
}

/** The code without its string literals, to test which names it uses. */
export function stripStrings(code: string): string {
  return code.replace(/"(?:[^"\\]|\\.)*"|`(?:[^`\\]|\\.)*`/g, '""');
}
