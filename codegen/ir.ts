// The intermediate form of sourdough-gen: plain JSON-serializable data describing the Durable Object
// classes, their callable methods and the wire shape of every parameter and result. scan.ts builds it,
// evolve.ts merges it with the previous run's, the emitters turn it into text. No ts-morph here.

export const IR_VERSION = 1;

/** How a JS `number` travels. float64 by default; the others come from the branded types in wire-types.ts. */
export type NumberWire = "float64" | "float32" | "int8" | "int16" | "int32" | "uint8" | "uint16" | "uint32" | "int64" | "uint64";
/** How a JS `bigint` travels: Int64 by default, UInt64 with the `UInt64` brand. */
export type BigintWire = "int64" | "uint64";

/** The wire shape of a value. `msgpack` is a Data field holding msgpackr bytes (structured-clone semantics). */
export type IrType =
  | { kind: "void" }
  | { kind: "bool" }
  | { kind: "number"; wire: NumberWire }
  | { kind: "bigint"; wire: BigintWire }
  | { kind: "text" }
  | { kind: "data"; as: "Uint8Array" | "ArrayBuffer" | "Buffer" }
  | { kind: "list"; element: IrType }
  | { kind: "struct"; name: string }
  | { kind: "enum"; name: string }
  | { kind: "msgpack"; ts: string }
  /**
   * A `DurableObjectId` (`of: "id"`) or a `DurableObjectStub<C>` (`of: "stub"`): the DurableObjectRef
   * struct (see REF_STRUCT), decoded as a working id or stub of the same object.
   */
  | { kind: "ref"; of: "id" | "stub" }
  /** `ts` is the offending type; `within` the parameter's type containing it, when that differs. */
  | { kind: "unsupported"; ts: string; within?: string; reason: string; hint: string };

/**
 * Which of `undefined` / `null` a field admits besides its value. Presence is explicit on the wire: a
 * Bool `has<Name>` says the value is there; `optionalNullable` adds `<name>IsNull` to tell null from
 * undefined. An absent field reads as undefined (optional) or null (nullable), so fields added later
 * read as absent from older writers.
 */
export type Presence = "required" | "optional" | "nullable" | "optionalNullable";

/** A companion Bool field (presence or null flag). */
export interface IrFlag {
  capnpName: string;
  ordinal: number;
}

export interface IrField {
  /** The TypeScript name: the parameter name, the property name, or "result". */
  name: string;
  capnpName: string;
  ordinal: number;
  type: IrType;
  presence: Presence;
  /** The TypeScript type as written (or as the checker prints it), for comments and messages. */
  ts: string;
  /** Set when presence is not "required". */
  has?: IrFlag;
  /** Set when presence is "optionalNullable". */
  isNull?: IrFlag;
  /**
   * Set on an optional parameter (`at?: Date`, or one with a default) whose wire presence is
   * "required" because its value carries `undefined` itself (msgpack): printed with `?`.
   */
  optional?: true;
}

export interface IrStruct {
  /** The Cap'n Proto name, unique in the schema. */
  name: string;
  /** "0x" + 16 hex digits. */
  id: string;
  /** What the struct stands for: a TypeScript type, or `Counter.increment parameters`. */
  ts: string;
  /** Live fields: parameters in positional order, properties in declaration order. */
  fields: IrField[];
  /** Fields removed with --allow-breaking: they keep their ordinals (and their place in the layout). */
  retired: IrField[];
}

export interface IrEnumValue {
  /** The string literal. */
  value: string;
  capnpName: string;
  ordinal: number;
}

export interface IrEnum {
  name: string;
  id: string;
  ts: string;
  values: IrEnumValue[];
  retired: IrEnumValue[];
}

export interface IrMethod {
  name: string;
  /** Stable method id, 1-based, fits UInt16; never reused. */
  id: number;
  params: IrStruct;
  /** One field, `result`. */
  results: IrStruct;
}

export interface IrClass {
  name: string;
  /** The export name in its module ("default" for a default export). */
  exportName: string;
  /** Import specifier of the class's module, relative to the out dir. */
  module: string;
  /** The source file, relative to the project directory (posix separators). */
  source: string;
  methods: IrMethod[];
  /** Methods removed with --allow-breaking: their ids stay reserved. */
  retiredMethods: Array<{ name: string; id: number }>;
  /**
   * Methods whose parameters or result hold a function, RpcTarget or ReadableStream: no codec, they
   * travel as msgpack by name (the runtime passes those values by reference). Absent in older IR files.
   */
  msgpackMethods?: string[];
}

export interface IrProject {
  version: typeof IR_VERSION;
  generator: "sourdough-gen";
  /** The Cap'n Proto file id; kept from the first run on. */
  fileId: string;
  classes: IrClass[];
  /** Structs for TypeScript interfaces and object types, shared by every method that uses them. */
  structs: IrStruct[];
  enums: IrEnum[];
}

/** A wire field of a struct as Cap'n Proto sees it: value fields and their companion Bools, by ordinal. */
export interface CapnpField {
  ordinal: number;
  capnpName: string;
  /** The Cap'n Proto type of this slot (a companion flag is Bool). */
  type: IrType;
  role: "value" | "has" | "isNull";
  field: IrField;
  retired: boolean;
}

const BOOL: IrType = { kind: "bool" };

/** Every wire field of a struct, retired ones included, in ordinal order. */
export function capnpFields(struct: IrStruct): CapnpField[] {
  const out: CapnpField[] = [];
  const add = (field: IrField, retired: boolean): void => {
    out.push({ ordinal: field.ordinal, capnpName: field.capnpName, type: field.type, role: "value", field, retired });
    if (field.has !== undefined) out.push({ ordinal: field.has.ordinal, capnpName: field.has.capnpName, type: BOOL, role: "has", field, retired });
    if (field.isNull !== undefined) out.push({ ordinal: field.isNull.ordinal, capnpName: field.isNull.capnpName, type: BOOL, role: "isNull", field, retired });
  };
  for (const f of struct.fields) add(f, false);
  for (const f of struct.retired) add(f, true);
  return out.sort((a, b) => a.ordinal - b.ordinal);
}

/** The next free ordinal of a struct. */
export function nextOrdinal(struct: IrStruct): number {
  return capnpFields(struct).reduce((max, f) => Math.max(max, f.ordinal + 1), 0);
}

const NUMBER_TYPES: Record<NumberWire, string> = {
  float64: "Float64",
  float32: "Float32",
  int8: "Int8",
  int16: "Int16",
  int32: "Int32",
  uint8: "UInt8",
  uint16: "UInt16",
  uint32: "UInt32",
  int64: "Int64",
  uint64: "UInt64",
};

/** The Cap'n Proto spelling of a type: `Float64`, `List(Text)`, `Item`. */
export function capnpTypeText(t: IrType): string {
  switch (t.kind) {
    case "void":
      return "Void";
    case "bool":
      return "Bool";
    case "number":
    case "bigint":
      return NUMBER_TYPES[t.wire];
    case "text":
      return "Text";
    case "data":
    case "msgpack":
    case "unsupported":
      return "Data";
    case "list":
      return `List(${capnpTypeText(t.element)})`;
    case "struct":
    case "enum":
      return t.name;
    case "ref":
      return REF_STRUCT_NAME;
  }
}

/** The Cap'n Proto struct every id and stub travels as (emitted once per schema that uses one). */
export const REF_STRUCT_NAME = "DurableObjectRef";

/**
 * DurableObjectRef: what a receiver needs to rebuild a working id or stub. `cluster` names the stub's
 * cluster (empty for an id): the receiving process rebuilds a stub with its own router of that
 * cluster and refuses one of another. The runtime's reader and writer (runtime/codecs/refs.ts)
 * hard-code this layout: one data word (hasName) and four pointers; tests compare it with capnp's.
 */
export function refStruct(): IrStruct {
  const text: IrType = { kind: "text" };
  return {
    name: REF_STRUCT_NAME,
    id: "",
    ts: "DurableObjectId | DurableObjectStub",
    fields: [
      { name: "namespace", capnpName: "namespace", ordinal: 0, type: text, presence: "required", ts: "string" },
      { name: "id", capnpName: "id", ordinal: 1, type: text, presence: "required", ts: "string" },
      { name: "name", capnpName: "name", ordinal: 2, type: text, presence: "optional", ts: "string | undefined", has: { capnpName: "hasName", ordinal: 3 } },
      { name: "cluster", capnpName: "cluster", ordinal: 4, type: text, presence: "required", ts: "string" },
    ],
    retired: [],
  };
}

/** Whether any field of the project (methods' Params/Results, structs, list elements) is an id or stub. */
export function usesRefs(ir: IrProject): boolean {
  const isRef = (t: IrType): boolean => t.kind === "ref" || (t.kind === "list" && isRef(t.element));
  const structs = [...ir.structs, ...ir.classes.flatMap((c) => c.methods.flatMap((m) => [m.params, m.results]))];
  return structs.some((s) => [...s.fields, ...s.retired].some((f) => isRef(f.type)));
}

/** Two types are wire-compatible when their Cap'n Proto types are equal (number vs bigint Int64 are). */
export function sameWireType(a: IrType, b: IrType): boolean {
  const refOf = (t: IrType): string | undefined => (t.kind === "ref" ? t.of : undefined);
  return capnpTypeText(a) === capnpTypeText(b) && (a.kind === "msgpack") === (b.kind === "msgpack") && refOf(a) === refOf(b);
}

/** How a type reads in messages: its Cap'n Proto type, and msgpack marked as such. */
export function describeWireType(t: IrType, presence: Presence = "required"): string {
  const base = t.kind === "msgpack" ? "Data (msgpack)" : t.kind === "ref" ? `${REF_STRUCT_NAME} (${t.of === "id" ? "DurableObjectId" : "DurableObjectStub"})` : capnpTypeText(t);
  return presence === "required" ? base : `${base} (${presence === "optionalNullable" ? "optional, nullable" : presence})`;
}
