// Where each field of a struct lives on the wire, computed the way the capnp compiler does it
// (node-translator.c++, StructLayout::Top): fields in ordinal order; a data field takes the smallest
// free hole of at least its size, else a new word; pointers take the next pointer slot. No unions.
import { type CapnpField, type IrType, capnpFields, type IrStruct } from "./ir.ts";

/** A field's slot: data fields by byte offset and bit (for Bool), pointers by index, Void nowhere. */
export type Slot =
  | { kind: "data"; bits: 1 | 8 | 16 | 32 | 64; byte: number; bit: number }
  | { kind: "pointer"; index: number }
  | { kind: "void" };

export interface PlacedField extends CapnpField {
  slot: Slot;
}

export interface StructLayout {
  dataWords: number;
  pointers: number;
  /** Every wire field (retired ones included), in ordinal order. */
  fields: PlacedField[];
}

/** log2 of the size in bits of a data type; "pointer" for pointer types; undefined for Void. */
export function lgSize(t: IrType): number | "pointer" | undefined {
  switch (t.kind) {
    case "void":
      return undefined;
    case "bool":
      return 0;
    case "enum":
      return 4;
    case "bigint":
      return 6;
    case "number":
      return t.wire === "int8" || t.wire === "uint8" ? 3 : t.wire === "int16" || t.wire === "uint16" ? 4 : t.wire === "float64" || t.wire.endsWith("64") ? 6 : 5;
    default:
      return "pointer";
  }
}

// One hole per size from 1 to 32 bits; 0 means none (offset 0 is never a hole).
class HoleSet {
  readonly #holes = [0, 0, 0, 0, 0, 0];

  tryAllocate(lg: number): number | undefined {
    if (lg >= this.#holes.length) return undefined;
    const hole = this.#holes[lg] ?? 0;
    if (hole !== 0) {
      this.#holes[lg] = 0;
      return hole;
    }
    const next = this.tryAllocate(lg + 1);
    if (next === undefined) return undefined;
    this.#holes[lg] = next * 2 + 1;
    return next * 2;
  }

  addHolesAtEnd(lg: number, offset: number): void {
    for (let size = lg, at = offset; size < this.#holes.length; size++, at = (at + 1) / 2) this.#holes[size] = at;
  }
}

/** The layout of a struct as `capnp compile` assigns it. */
export function layoutStruct(struct: IrStruct): StructLayout {
  const holes = new HoleSet();
  let dataWords = 0;
  let pointers = 0;
  const fields = capnpFields(struct).map((f): PlacedField => {
    const lg = lgSize(f.type);
    if (lg === undefined) return { ...f, slot: { kind: "void" } };
    if (lg === "pointer") return { ...f, slot: { kind: "pointer", index: pointers++ } };
    let offset = holes.tryAllocate(lg);
    if (offset === undefined) {
      offset = dataWords++ << (6 - lg);
      holes.addHolesAtEnd(lg, offset + 1);
    }
    const bits = (1 << lg) as 1 | 8 | 16 | 32 | 64;
    const bitOffset = offset * bits;
    return { ...f, slot: { kind: "data", bits, byte: Math.floor(bitOffset / 8), bit: bitOffset % 8 } };
  });
  return { dataWords, pointers, fields };
}
