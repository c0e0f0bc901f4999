// What the codec emitters need to know about a struct: where each live field and its presence flags
// sit (from layout.ts), names of the generated functions, and the labels used in error messages.
import type { IrField, IrProject, IrStruct, IrType } from "../ir.ts";
import { type Slot, layoutStruct } from "../layout.ts";
import { isIdentifier } from "../names.ts";

export type DataSlot = Extract<Slot, { kind: "data" }>;

export interface FieldPlan {
  field: IrField;
  /** Position among the live fields (the argument index for Params). */
  index: number;
  ordinal: number;
  slot: Slot;
  has?: DataSlot | undefined;
  isNull?: DataSlot | undefined;
}

export interface StructPlan {
  struct: IrStruct;
  dataWords: number;
  pointers: number;
  /** Live fields in ordinal order (the order capnp-ts writes them). */
  fields: FieldPlan[];
}

/** Lays out a struct and pairs each live field with its slots. */
export function planStruct(struct: IrStruct): StructPlan {
  const layout = layoutStruct(struct);
  const slotOf = (ordinal: number): Slot => layout.fields.find((f) => f.ordinal === ordinal)?.slot ?? { kind: "void" };
  const dataSlot = (ordinal: number | undefined): DataSlot | undefined => {
    if (ordinal === undefined) return undefined;
    const s = slotOf(ordinal);
    return s.kind === "data" ? s : undefined;
  };
  const fields = struct.fields
    .map((field, index): FieldPlan => ({ field, index, ordinal: field.ordinal, slot: slotOf(field.ordinal), has: dataSlot(field.has?.ordinal), isNull: dataSlot(field.isNull?.ordinal) }))
    .sort((a, b) => a.ordinal - b.ordinal);
  return { struct, dataWords: layout.dataWords, pointers: layout.pointers, fields };
}

/** A name fragment for a type, unique per JS handling: `Float64`, `BigInt64`, `ListOfText`, `Item`. */
export function typeKey(t: IrType): string {
  switch (t.kind) {
    case "void":
      return "Void";
    case "bool":
      return "Bool";
    case "number":
      return t.wire.charAt(0).toUpperCase() + t.wire.slice(1).replace(/^int/, "Int").replace(/^Uint/, "UInt");
    case "bigint":
      return t.wire === "int64" ? "BigInt64" : "BigUInt64";
    case "text":
      return "Text";
    case "data":
      return `Data${t.as}`;
    case "msgpack":
      return "Msgpack";
    case "unsupported":
      return "Unsupported";
    case "list":
      return `ListOf${typeKey(t.element)}`;
    case "struct":
    case "enum":
      return t.name;
    case "ref":
      return t.of === "id" ? "RefId" : "RefStub";
  }
}

/** `.name`, or `["odd-name"]` when the property is not an identifier. */
export function propertyLabel(name: string): string {
  return isIdentifier(name) ? `.${name}` : `[${JSON.stringify(name)}]`;
}

/** `o["name"]`-style access (bracket form works under noPropertyAccessFromIndexSignature). */
export function access(obj: string, name: string): string {
  return `${obj}[${JSON.stringify(name)}]`;
}

/** An object literal key. */
export function literalKey(name: string): string {
  return isIdentifier(name) ? name : JSON.stringify(name);
}

/** Every list type used anywhere (element types first, so each writer's helpers are declared). */
export function listTypes(ir: IrProject): IrType[] {
  const seen = new Map<string, IrType>();
  const visit = (t: IrType): void => {
    if (t.kind !== "list") return;
    visit(t.element);
    if (!seen.has(typeKey(t))) seen.set(typeKey(t), t);
  };
  const structs = [...ir.structs, ...ir.classes.flatMap((c) => c.methods.flatMap((m) => [m.params, m.results]))];
  for (const s of structs) for (const f of s.fields) visit(f.type);
  return [...seen.values()];
}

/**
 * Structs whose default value would be infinite: reachable from themselves through required struct
 * fields. A null pointer to one reads as undefined instead of an object of defaults.
 */
export function cyclicDefaults(ir: IrProject): Set<string> {
  const byName = new Map(ir.structs.map((s) => [s.name, s]));
  const edges = (s: IrStruct): string[] => s.fields.filter((f) => f.presence === "required" && f.type.kind === "struct").map((f) => (f.type as { name: string }).name);
  const out = new Set<string>();
  for (const s of ir.structs) {
    const stack = [...edges(s)];
    const seen = new Set<string>();
    while (stack.length > 0) {
      const n = stack.pop() as string;
      if (n === s.name) {
        out.add(s.name);
        break;
      }
      if (seen.has(n)) continue;
      seen.add(n);
      const next = byName.get(n);
      if (next !== undefined) stack.push(...edges(next));
    }
  }
  return out;
}
