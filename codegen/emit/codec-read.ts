// Emits the decoding half of codecs.ts: one expression per field, reading its slot when the (possibly
// older, shorter) struct has it and the default otherwise; pointers go through the Reader's checks.
import type { IrField, IrType } from "../ir.ts";
import { type DataSlot, type FieldPlan, type StructPlan, literalKey, typeKey } from "./codec-plan.ts";
import { listElement, stripStrings } from "./codec-write.ts";

const NUMBER_READS: Record<string, [string, number]> = {
  float64: ["getFloat64", 8],
  float32: ["getFloat32", 4],
  int8: ["getInt8", 1],
  uint8: ["getUint8", 1],
  int16: ["getInt16", 2],
  uint16: ["getUint16", 2],
  int32: ["getInt32", 4],
  uint32: ["getUint32", 4],
};

export interface ReadContext {
  /** Structs whose default would be infinite (see cyclicDefaults). */
  cyclic: ReadonlySet<string>;
  /** The nesting depth expression for pointers followed from here. */
  depth: string;
}

/** Reads data value of type `t` at absolute byte `pos` (no size check: the caller does it). */
function dataAt(t: IrType, pos: string, mask: string, what: string): string {
  switch (t.kind) {
    case "bool":
      return `r.bitAt(${pos}, ${mask})`;
    case "enum":
      return `decodeEnum_${t.name}(r, dv.getUint16(${pos}, true), ${what})`;
    case "bigint":
      return `dv.${t.wire === "int64" ? "getBigInt64" : "getBigUint64"}(${pos}, true)`;
    case "number": {
      if (t.wire === "int64" || t.wire === "uint64") return `r.i64(${pos}, ${t.wire === "uint64"}, ${what})`;
      const [method] = NUMBER_READS[t.wire] ?? ["getFloat64"];
      return t.wire === "int8" || t.wire === "uint8" ? `dv.${method}(${pos})` : `dv.${method}(${pos}, true)`;
    }
    default:
      throw new Error(`not a data type: ${t.kind}`);
  }
}

function zero(t: IrType, what: string): string {
  if (t.kind === "bool") return "false";
  if (t.kind === "bigint") return "0n";
  if (t.kind === "enum") return `decodeEnum_${t.name}(r, 0, ${what})`;
  return "0";
}

function bytesOf(t: IrType): number {
  if (t.kind === "enum") return 2;
  if (t.kind === "bigint") return 8;
  if (t.kind === "number") return NUMBER_READS[t.wire]?.[1] ?? 8;
  return 1;
}

/** The value of a pointer field at pointer word `ptr`, or the type's default when null. */
function pointerAt(t: IrType, ptr: string, what: string, ctx: ReadContext): string {
  switch (t.kind) {
    case "text":
      return `(r.text(${ptr}, ${what}) ?? "")`;
    case "data":
      return t.as === "Uint8Array" ? `(r.bytes(${ptr}, ${what}) ?? new Uint8Array(0))` : t.as === "ArrayBuffer" ? `(r.arrayBuffer(${ptr}, ${what}) ?? new ArrayBuffer(0))` : `(r.nodeBuffer(${ptr}, ${what}) ?? Buffer.alloc(0))`;
    case "msgpack":
      return `unpack(r, ${ptr}, ${what})`;
    case "struct":
      return `read_${t.name}(r, ${ptr}, ${ctx.depth}, ${what})`;
    case "list":
      return `readList_${typeKey(t)}(r, ${ptr}, ${ctx.depth}, ${what})`;
    case "ref":
      return `readRef(r, ${ptr}, ${JSON.stringify(t.of)}, ${what})`;
    default:
      throw new Error(`not a pointer type: ${t.kind}`);
  }
}

/** The default of a pointer type (field beyond an older struct's pointer section). */
function pointerDefault(t: IrType, ctx: ReadContext): string {
  switch (t.kind) {
    case "text":
      return '""';
    case "data":
      return t.as === "Uint8Array" ? "new Uint8Array(0)" : t.as === "ArrayBuffer" ? "new ArrayBuffer(0)" : "Buffer.alloc(0)";
    case "list":
      return "[]";
    case "struct":
      return ctx.cyclic.has(t.name) ? "undefined" : `get_${t.name}(r, 0, 0, 0, 0, ${ctx.depth})`;
    default:
      return "undefined";
  }
}

function flag(slot: DataSlot | undefined): string {
  return slot === undefined ? "false" : `(db > ${slot.byte} && r.bitAt(d + ${slot.byte}, ${1 << slot.bit}))`;
}

/** The expression reading field `f` of the struct in locals d/db (data) and ps/pc (pointers). */
export function fieldRead(f: FieldPlan, structName: string, ctx: ReadContext): string {
  const what = JSON.stringify(`${structName}.${f.field.capnpName}`);
  const value = slotRead(f.field, f, what, ctx);
  if (f.field.presence === "required") return value;
  const absent = f.field.presence === "optional" ? "undefined" : f.field.presence === "nullable" ? "null" : `(${flag(f.isNull)} ? null : undefined)`;
  return `(${flag(f.has)} ? ${value} : ${absent})`;
}

function slotRead(field: IrField, f: FieldPlan, what: string, ctx: ReadContext): string {
  const slot = f.slot;
  if (slot.kind === "void") return "undefined";
  if (slot.kind === "data") {
    const t = field.type;
    if (t.kind === "bool") return `(db > ${slot.byte} && r.bitAt(d + ${slot.byte}, ${1 << slot.bit}))`;
    return `(db >= ${slot.byte + bytesOf(t)} ? ${dataAt(t, `d + ${slot.byte}`, "0", what)} : ${zero(t, what)})`;
  }
  return `(pc > ${slot.index} ? ${pointerAt(field.type, `ps + ${slot.index * 8}`, what, ctx)} : ${pointerDefault(field.type, ctx)})`;
}

/** read_X (follow a pointer) and get_X (read the fields of a located struct). */
export function structReaders(plan: StructPlan, direct: boolean, ctx: ReadContext): string {
  const name = plan.struct.name;
  const inner: ReadContext = { ...ctx, depth: "depth + 1" };
  const entries = plan.fields.map((f) => `    ${literalKey(f.field.name)}: ${fieldRead(f, name, inner)},`);
  const body = entries.join("\n");
  const code = stripStrings(body);
  const p = (n: string): string => (new RegExp(`\\b${n}\\b`).test(code) ? n : `_${n}`);
  const usesDv = /\bdv\./.test(code);
  const out: string[] = [];
  const result = ctx.cyclic.has(name) ? "Record<string, unknown> | undefined" : "Record<string, unknown>";
  if (direct) {
    out.push(`function read_${name}(r: Reader, p: number, depth: number, what: string): ${result} {`);
    out.push("  r.deep(depth, what);");
    const empty = ctx.cyclic.has(name) ? "undefined" : `get_${name}(r, 0, 0, 0, 0, depth)`;
    out.push(`  return r.struct(p, what) ? get_${name}(r, r.sd, r.sdb, r.sp, r.spc, depth) : ${empty};`, "}", "");
  }
  const rName = usesDv || /\br\b/.test(code) ? "r" : "_r";
  out.push(`function get_${name}(${rName}: Reader, ${p("d")}: number, ${p("db")}: number, ${p("ps")}: number, ${p("pc")}: number, ${p("depth")}: number): Record<string, unknown> {`);
  if (usesDv) out.push("  const dv = r.dv;");
  out.push(entries.length === 0 ? "  return {};" : `  return {\n${body}\n  };`, "}", "");
  return out.join("\n");
}

/** readList_K for a list type; `what` names the field (or element) it hangs off, for messages. */
export function listReader(t: Extract<IrType, { kind: "list" }>): string {
  const el = t.element;
  const { size, bytes } = listElement(el);
  const nested = el.kind === "struct" || el.kind === "list";
  const lines: string[] = [`function readList_${typeKey(t)}(r: Reader, p: number, ${nested ? "depth" : "_depth"}: number, what: string): unknown[] {`];
  if (nested) lines.push("  r.deep(depth, what);");
  lines.push(`  if (!r.list(p, ${size}, what)) return [];`);
  let element: string;
  if (el.kind === "struct") {
    lines.push("  r.composite(what);", "  const eb = r.sdb;", "  const ep = r.spc;");
    element = `get_${el.name}(r, at + i * (eb + ep * 8), eb, at + i * (eb + ep * 8) + eb, ep, depth + 1)`;
  } else if (el.kind === "ref") {
    lines.push("  r.composite(what);", "  const eb = r.sdb;", "  const ep = r.spc;");
    element = `getRef(r, at + i * (eb + ep * 8), eb, at + i * (eb + ep * 8) + eb, ep, ${JSON.stringify(el.of)}, what)`;
  } else if (size === 6) {
    element = pointerAt(el, "at + i * 8", "what", { cyclic: new Set(), depth: "depth + 1" });
  } else if (el.kind === "bool") {
    element = "r.bitAt(at + (i >> 3), 1 << (i & 7))";
  } else {
    element = dataAt(el, `at + i * ${bytes}`, "0", "what");
  }
  lines.push("  const n = r.ln;", "  const at = r.ld;");
  if (/\bdv\./.test(element)) lines.push("  const dv = r.dv;");
  lines.push("  const out = new Array<unknown>(n);", `  for (let i = 0; i < n; i++) out[i] = ${element};`, "  return out;", "}", "");
  return lines.join("\n");
}
