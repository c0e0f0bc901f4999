// A schema-driven Cap'n Proto oracle for tests: the official `capnp` compiler parses a .capnp file,
// capnp-ts (an independent implementation) reads and writes messages, and nothing here shares code
// with the runtime's own wire codec. Use it to check that the runtime's bytes mean what the schema
// says, and that bytes the official tool writes are read correctly.
//
// Value mapping (decodeWithSchema output, encodeWithSchema input):
//   Void                      -> null
//   Bool                      -> boolean
//   Int8..Int32, UInt8..UInt32, Float32, Float64 -> number
//   Int64, UInt64             -> bigint (encode also accepts a safe-integer number)
//   Text                      -> string
//   Data                      -> Uint8Array (a copy)
//   enum                      -> the enumerant's name (a number when the value is not in the schema;
//                                encode accepts a name or a number)
//   struct, group             -> a nested plain object
//   List(T)                   -> an array of T (null for a null element of a list of pointers;
//                                List(Void) elements are null)
//   AnyPointer, interfaces    -> unsupported: decode throws on a non-null pointer, encode throws on a
//                                present key
// Unions: only the active member appears as a key, and `$which` names it (`$which` is the numeric
// discriminant when it is not in the schema, and then no member key is given). On encode, `$which`
// may be given, otherwise exactly one member key must be present; with neither, the union is left
// at discriminant 0 and nothing is written for it.
// Absent pointers: a null pointer field is OMITTED from the decoded object (no key, not null), even
// when the schema gives it a default; on encode only keys that are present (and not undefined or
// null) are written. Data fields always decode (zero / the schema default when not written) and on
// encode a missing key leaves the schema default.
// Reading is tolerant the way Cap'n Proto requires (a struct smaller than the schema's reads as
// defaults past its end) but strict about shapes: wrong pointer kinds, wrong list element sizes and
// trailing bytes after the framed message throw.
//
// capnp-ts quirks this works around or that matter when comparing bytes:
// - Struct.getStruct / getData / getList initialize a null pointer (getData/getList write an empty
//   list, getStruct allocates a struct) and getStruct / getList / Message.getRoot "resize" a struct
//   smaller than the schema's by copying it; bounds checks throw instead of reading defaults. So
//   reads here go through getPointer / getPointerAs + Pointer.isNull and check sizes first.
// - capnp-ts's VoidList is PointerList(Void) and would write List(Void) as a pointer list; a
//   proper VOID-sized list class is used instead.
// - Output is one segment, allocated in call order; setting fields in code order gives bytes
//   identical to `capnp encode` except that a zero-sized struct pointer gets offset +1 where
//   capnp (C++) writes offset -1 (both valid, both non-null).

import { execFile, execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as capnp from "capnp-ts";
import type { ListCtor, Pointer, Struct, StructCtor } from "capnp-ts";
import * as s from "capnp-ts/src/std/schema.capnp.js";
import {
  getContent,
  getTargetListElementSize,
  getTargetPointerType,
} from "capnp-ts/src/serialization/pointers/pointer.js";
import { getSize } from "capnp-ts/src/serialization/pointers/struct.js";

// ---------------------------------------------------------------------------------------------
// Schema description

export type PrimitiveKind =
  | "void"
  | "bool"
  | "int8"
  | "int16"
  | "int32"
  | "int64"
  | "uint8"
  | "uint16"
  | "uint32"
  | "uint64"
  | "float32"
  | "float64";

export type TypeInfo =
  | { kind: PrimitiveKind }
  | { kind: "text" }
  | { kind: "data" }
  | { kind: "anyPointer" }
  | { kind: "list"; element: TypeInfo }
  /** `name` is the key in `OracleSchema.structs` / `enums`; `id` is "0x" + 16 hex digits. */
  | { kind: "struct"; name: string; id: string }
  | { kind: "enum"; name: string; id: string }
  | { kind: "interface"; name: string; id: string };

interface FieldInfoBase {
  name: string;
  codeOrder: number;
  /** The explicit `@N`; null for groups and unions (implicit ordinals). */
  ordinal: number | null;
  /** The union discriminant value selecting this field; null when the field is not in a union. */
  discriminantValue: number | null;
}

export interface SlotFieldInfo extends FieldInfoBase {
  kind: "slot";
  /** Raw `slot.offset` from schema.capnp: in multiples of the type's size for data fields, the pointer index for pointer fields. */
  offset: number;
  type: TypeInfo;
  /** For data fields: bit range [start, end) within the data section. Null for pointers and Void. */
  bits: { start: number; end: number } | null;
  /** For pointer fields: the index within the pointer section. Null for data fields. */
  pointerIndex: number | null;
  hadExplicitDefault: boolean;
  /** The explicit default of a Bool/number/enum field (enum: the numeric value). Pointer defaults are not recorded. */
  defaultValue?: boolean | number | bigint;
}

export interface GroupFieldInfo extends FieldInfoBase {
  kind: "group";
  /** Key of the group's own StructInfo (isGroup = true) in `OracleSchema.structs`. */
  group: string;
  groupId: string;
}

export type FieldInfo = SlotFieldInfo | GroupFieldInfo;

export interface StructInfo {
  /** Key in `OracleSchema.structs`: the scoped name ("Call", "Outer.Inner", "Outer.someGroup"); prefixed by "<file>:" for nodes of imported files. */
  name: string;
  /** The last name component (after capnp's displayNamePrefixLength), e.g. "Inner". */
  shortName: string;
  /** capnp's displayName, e.g. "rpc.capnp:Call". */
  displayName: string;
  /** "0x" + 16 hex digits, as printed by `capnp compile -ocapnp`. */
  id: string;
  isGroup: boolean;
  dataWordCount: number;
  pointerCount: number;
  discriminantCount: number;
  /** In 16-bit units from the start of the data section (byte offset = 2 * this), as in schema.capnp. */
  discriminantOffset: number;
  /** In the order capnp lists them (ordinal order); sort by codeOrder for declaration order. */
  fields: FieldInfo[];
}

export interface EnumInfo {
  name: string;
  shortName: string;
  displayName: string;
  id: string;
  /** Indexed by numeric value. */
  enumerants: { name: string; value: number; codeOrder: number }[];
}

export interface OracleSchema {
  /** Absolute path of the schema file. */
  file: string;
  fileId: string;
  /** Structs (including groups) by name; see StructInfo.name. Includes nodes of imported files. */
  structs: Record<string, StructInfo>;
  enums: Record<string, EnumInfo>;
  /** Import paths passed to capnp (-I), reused by capnpEncode / capnpDecode. */
  importPaths: string[];
}

export interface LoadSchemaOptions {
  /** Extra import directories (`capnp -I`). The standard ones (/usr/include, ...) are always searched. */
  importPaths?: string[];
}

// ---------------------------------------------------------------------------------------------
// The capnp tool

const CAPNP = "capnp";
let available: boolean | undefined;

export function capnpAvailable(): boolean {
  // SOURDOUGH_NO_CAPNP=1 behaves as a machine without the tool (to check what a fresh clone runs).
  if (process.env["SOURDOUGH_NO_CAPNP"] === "1") return false;
  if (available === undefined) {
    try {
      execFileSync(CAPNP, ["--version"], { stdio: ["ignore", "pipe", "pipe"], timeout: 10_000 });
      available = true;
    } catch {
      available = false;
    }
  }
  return available;
}

// Compiled schema nodes, committed: `capnp compile -o-` output (a CodeGeneratorRequest) for every
// schema the tests load, keyed by the schema's file name and text. loadSchema reads them where the
// tool is missing, so a fresh clone runs the byte-identity tests (capnp-ts against the schema); only
// the tests that run the tool itself (capnp encode/decode) still need it.
// Regenerate (needs capnp): `node --import tsx test/support/capnp-compiled.ts`.
export const COMPILED_DIR = fileURLToPath(new URL("../fixtures/capnp-compiled/", import.meta.url));
/** Set by test/support/capnp-compiled.ts: loadSchema also writes what it compiled to COMPILED_DIR. */
const RECORD = process.env["SOURDOUGH_CAPNP_RECORD"] === "1";

/** Where the compiled nodes of `path` (with `importPaths`) are committed. */
export function compiledNodesPath(path: string, importPaths: readonly string[] = []): string {
  const hash = createHash("sha256").update(basename(path)).update("\0").update(readFileSync(path));
  for (const p of importPaths) hash.update("\0").update(resolve(p));
  return join(COMPILED_DIR, `${basename(path)}.${hash.digest("hex").slice(0, 16)}.bin`);
}

/** Whether loadSchema can load `path`: the capnp tool is installed, or its compiled nodes are committed. */
export function schemaLoadable(path: string | URL): boolean {
  return capnpAvailable() || existsSync(compiledNodesPath(toPath(path)));
}

async function compiledNodes(path: string, importPaths: readonly string[]): Promise<Buffer> {
  const committed = compiledNodesPath(path, importPaths);
  if (!capnpAvailable()) {
    if (existsSync(committed)) return readFileSync(committed);
    throw new Error(
      `capnp is not installed and ${path} has no committed compiled nodes (${committed}): install capnp (apt-get install capnproto), ` +
        "or regenerate them where it is: node --import tsx test/support/capnp-compiled.ts",
    );
  }
  const dir = dirname(path);
  const bytes = await run(["compile", "-o-", `--src-prefix=${dir}`, ...importArgs(importPaths), path], dir);
  if (RECORD) {
    mkdirSync(COMPILED_DIR, { recursive: true });
    writeFileSync(committed, bytes);
  }
  return bytes;
}

function run(args: string[], cwd: string, input?: Uint8Array | string): Promise<Buffer> {
  return new Promise((resolvePromise, reject) => {
    const child = execFile(
      CAPNP,
      args,
      { cwd, encoding: "buffer", maxBuffer: 64 * 1024 * 1024, timeout: 30_000 },
      (error, stdout, stderr) => {
        if (error) {
          reject(new Error(`capnp ${args.join(" ")} failed: ${error.message}\n${stderr.toString("utf8")}`));
        } else {
          resolvePromise(stdout);
        }
      },
    );
    if (child.stdin) {
      child.stdin.on("error", () => {}); // capnp may exit without reading stdin (EPIPE); its exit status tells
      if (input === undefined) child.stdin.end();
      else child.stdin.end(input);
    }
  });
}

function toPath(file: string | URL): string {
  return resolve(typeof file === "string" ? file : fileURLToPath(file));
}

function importArgs(paths: readonly string[]): string[] {
  return paths.map((p) => `-I${resolve(p)}`);
}

/** `capnp encode <file> <struct>`: text (capnp text format) to a framed, unpacked binary message. */
export async function capnpEncode(schema: OracleSchema, structName: string, text: string): Promise<Uint8Array> {
  const info = findStruct(schema, structName);
  const out = await run(
    ["encode", ...importArgs(schema.importPaths), schema.file, info.name],
    dirname(schema.file),
    text,
  );
  return new Uint8Array(out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength));
}

/** `capnp decode [--short] <file> <struct>`: a framed, unpacked binary message to capnp text format. */
export async function capnpDecode(
  schema: OracleSchema,
  structName: string,
  bytes: Uint8Array,
  options: { short?: boolean } = {},
): Promise<string> {
  const info = findStruct(schema, structName);
  const args = ["decode", ...(options.short === false ? [] : ["--short"]), ...importArgs(schema.importPaths)];
  const out = await run([...args, schema.file, info.name], dirname(schema.file), bytes);
  return out.toString("utf8").trim();
}

// ---------------------------------------------------------------------------------------------
// loadSchema

function hexId(id: bigint): string {
  return `0x${id.toString(16).padStart(16, "0")}`;
}

const TYPE_KINDS: Partial<Record<s.Type_Which, PrimitiveKind | "text" | "data" | "anyPointer">> = {
  [s.Type_Which.VOID]: "void",
  [s.Type_Which.BOOL]: "bool",
  [s.Type_Which.INT8]: "int8",
  [s.Type_Which.INT16]: "int16",
  [s.Type_Which.INT32]: "int32",
  [s.Type_Which.INT64]: "int64",
  [s.Type_Which.UINT8]: "uint8",
  [s.Type_Which.UINT16]: "uint16",
  [s.Type_Which.UINT32]: "uint32",
  [s.Type_Which.UINT64]: "uint64",
  [s.Type_Which.FLOAT32]: "float32",
  [s.Type_Which.FLOAT64]: "float64",
  [s.Type_Which.TEXT]: "text",
  [s.Type_Which.DATA]: "data",
  [s.Type_Which.ANY_POINTER]: "anyPointer",
};

/** Size in bits of a data-section type; 0 for Void; null for pointer types. */
function dataBits(t: TypeInfo): number | null {
  switch (t.kind) {
    case "void":
      return 0;
    case "bool":
      return 1;
    case "int8":
    case "uint8":
      return 8;
    case "int16":
    case "uint16":
    case "enum":
      return 16;
    case "int32":
    case "uint32":
    case "float32":
      return 32;
    case "int64":
    case "uint64":
    case "float64":
      return 64;
    default:
      return null;
  }
}

export async function loadSchema(file: string | URL, options: LoadSchemaOptions = {}): Promise<OracleSchema> {
  const path = toPath(file);
  const dir = dirname(path);
  const importPaths = options.importPaths ?? [];
  const bytes = await compiledNodes(path, importPaths);
  const message = new capnp.Message(bytes, false);
  const request = message.getRoot(s.CodeGeneratorRequest);

  const requested = request.getRequestedFiles();
  if (requested.getLength() !== 1) {
    throw new Error(`capnp compile: expected 1 requested file, got ${requested.getLength()}`);
  }
  const fileId = requested.get(0).getId();

  const nodes = new Map<bigint, s.Node>();
  request.getNodes().forEach((n) => {
    nodes.set(n.getId(), n);
  });

  const fileOf = (n: s.Node): s.Node => {
    let cur = n;
    for (let guard = 0; guard < 1000 && !cur.isFile(); guard++) {
      const parent = nodes.get(cur.getScopeId());
      if (parent === undefined) break;
      cur = parent;
    }
    return cur;
  };
  const keyOf = new Map<bigint, string>();
  const names = (n: s.Node): { key: string; shortName: string; displayName: string } => {
    const displayName = n.getDisplayName();
    const file = fileOf(n);
    const fileName = file.getDisplayName();
    const scoped = displayName.startsWith(`${fileName}:`) ? displayName.slice(fileName.length + 1) : displayName;
    const key = file.getId() === fileId ? scoped : `${fileName}:${scoped}`;
    return { key, shortName: displayName.slice(n.getDisplayNamePrefixLength()), displayName };
  };
  for (const [id, n] of nodes) {
    if (n.isStruct() || n.isEnum() || n.isInterface()) keyOf.set(id, names(n).key);
  }
  const refName = (id: bigint): string => keyOf.get(id) ?? hexId(id);

  const typeInfo = (t: s.Type): TypeInfo => {
    const which = t.which();
    const simple = TYPE_KINDS[which];
    if (simple !== undefined) return { kind: simple };
    switch (which) {
      case s.Type_Which.LIST:
        return { kind: "list", element: typeInfo(t.getList().getElementType()) };
      case s.Type_Which.STRUCT: {
        const id = t.getStruct().getTypeId();
        return { kind: "struct", name: refName(id), id: hexId(id) };
      }
      case s.Type_Which.ENUM: {
        const id = t.getEnum().getTypeId();
        return { kind: "enum", name: refName(id), id: hexId(id) };
      }
      case s.Type_Which.INTERFACE: {
        const id = t.getInterface().getTypeId();
        return { kind: "interface", name: refName(id), id: hexId(id) };
      }
      default:
        throw new Error(`unknown schema type ${String(which)}`);
    }
  };

  const primitiveDefault = (type: TypeInfo, v: s.Value): boolean | number | bigint | undefined => {
    switch (type.kind) {
      case "bool":
        return v.getBool();
      case "int8":
        return v.getInt8();
      case "int16":
        return v.getInt16();
      case "int32":
        return v.getInt32();
      case "int64":
        return v.getInt64();
      case "uint8":
        return v.getUint8();
      case "uint16":
        return v.getUint16();
      case "uint32":
        return v.getUint32();
      case "uint64":
        return v.getUint64();
      case "float32":
        return v.getFloat32();
      case "float64":
        return v.getFloat64();
      case "enum":
        return v.getEnum();
      default:
        return undefined;
    }
  };

  const structs: Record<string, StructInfo> = {};
  const enums: Record<string, EnumInfo> = {};
  for (const [id, n] of nodes) {
    if (n.isStruct()) {
      const st = n.getStruct();
      const fields: FieldInfo[] = [];
      st.getFields().forEach((f) => {
        const dv = f.getDiscriminantValue();
        const ord = f.getOrdinal();
        const base: FieldInfoBase = {
          name: f.getName(),
          codeOrder: f.getCodeOrder(),
          ordinal: ord.isExplicit() ? ord.getExplicit() : null,
          discriminantValue: dv === s.Field.NO_DISCRIMINANT ? null : dv,
        };
        if (f.isGroup()) {
          const gid = f.getGroup().getTypeId();
          fields.push({ ...base, kind: "group", group: refName(gid), groupId: hexId(gid) });
          return;
        }
        const slot = f.getSlot();
        const type = typeInfo(slot.getType());
        const offset = slot.getOffset();
        const size = dataBits(type);
        const field: SlotFieldInfo = {
          ...base,
          kind: "slot",
          offset,
          type,
          bits: size === null || size === 0 ? null : { start: offset * size, end: (offset + 1) * size },
          pointerIndex: size === null ? offset : null,
          hadExplicitDefault: slot.getHadExplicitDefault(),
        };
        if (field.hadExplicitDefault) {
          const d = primitiveDefault(type, slot.getDefaultValue());
          if (d !== undefined) field.defaultValue = d;
        }
        fields.push(field);
      });
      const { key, shortName, displayName } = names(n);
      structs[key] = {
        name: key,
        shortName,
        displayName,
        id: hexId(id),
        isGroup: st.getIsGroup(),
        dataWordCount: st.getDataWordCount(),
        pointerCount: st.getPointerCount(),
        discriminantCount: st.getDiscriminantCount(),
        discriminantOffset: st.getDiscriminantOffset(),
        fields,
      };
    } else if (n.isEnum()) {
      const { key, shortName, displayName } = names(n);
      enums[key] = {
        name: key,
        shortName,
        displayName,
        id: hexId(id),
        enumerants: n
          .getEnum()
          .getEnumerants()
          .map((e, value) => ({ name: e.getName(), value, codeOrder: e.getCodeOrder() })),
      };
    }
  }
  return { file: path, fileId: hexId(fileId), structs, enums, importPaths: importPaths.map((p) => resolve(p)) };
}

/** Looks a struct up by key ("Outer.Inner"), by capnp displayName, or by a short name when that is unique. */
export function findStruct(schema: OracleSchema, name: string): StructInfo {
  const direct = schema.structs[name];
  if (direct !== undefined) return direct;
  const all = Object.values(schema.structs);
  const byDisplay = all.find((st) => st.displayName === name);
  if (byDisplay !== undefined) return byDisplay;
  const byShort = all.filter((st) => st.shortName === name && !st.isGroup);
  const only = byShort[0];
  if (byShort.length === 1 && only !== undefined) return only;
  throw new Error(
    byShort.length > 1
      ? `struct name ${name} is ambiguous: ${byShort.map((st) => st.name).join(", ")}`
      : `no struct ${name} in ${schema.file}`,
  );
}

function findEnum(schema: OracleSchema, name: string): EnumInfo {
  const e = schema.enums[name];
  if (e === undefined) throw new Error(`no enum ${name} in ${schema.file}`);
  return e;
}

// ---------------------------------------------------------------------------------------------
// capnp-ts constructors, built from the description

const ctorCache = new WeakMap<OracleSchema, Map<string, StructCtor<Struct>>>();

export function structCtor(schema: OracleSchema, structName: string): StructCtor<Struct> {
  let cache = ctorCache.get(schema);
  if (cache === undefined) {
    cache = new Map();
    ctorCache.set(schema, cache);
  }
  const info = findStruct(schema, structName);
  const hit = cache.get(info.name);
  if (hit !== undefined) return hit;
  const ctor = class extends capnp.Struct {
    static override readonly _capnp = {
      displayName: info.shortName,
      id: info.id.slice(2),
      size: new capnp.ObjectSize(info.dataWordCount * 8, info.pointerCount),
    };
  };
  cache.set(info.name, ctor);
  return ctor;
}

const LIST_SIZE: Record<Exclude<TypeInfo["kind"], "list">, capnp.ListElementSize> = {
  void: capnp.ListElementSize.VOID,
  bool: capnp.ListElementSize.BIT,
  int8: capnp.ListElementSize.BYTE,
  uint8: capnp.ListElementSize.BYTE,
  int16: capnp.ListElementSize.BYTE_2,
  uint16: capnp.ListElementSize.BYTE_2,
  enum: capnp.ListElementSize.BYTE_2,
  int32: capnp.ListElementSize.BYTE_4,
  uint32: capnp.ListElementSize.BYTE_4,
  float32: capnp.ListElementSize.BYTE_4,
  int64: capnp.ListElementSize.BYTE_8,
  uint64: capnp.ListElementSize.BYTE_8,
  float64: capnp.ListElementSize.BYTE_8,
  text: capnp.ListElementSize.POINTER,
  data: capnp.ListElementSize.POINTER,
  anyPointer: capnp.ListElementSize.POINTER,
  interface: capnp.ListElementSize.POINTER,
  struct: capnp.ListElementSize.COMPOSITE,
};

function listElementSize(t: TypeInfo): capnp.ListElementSize {
  return t.kind === "list" ? capnp.ListElementSize.POINTER : LIST_SIZE[t.kind];
}

/**
 * capnp-ts's own VoidList is `PointerList(Void)`, i.e. it writes List(Void) with element size POINTER
 * (8 bytes per element). The encoding is element size VOID with no content; this class does that.
 */
class WireVoidList extends capnp.List<null> {
  static override readonly _capnp = { displayName: "List<Void>", size: capnp.ListElementSize.VOID };
  override get(_index: number): null {
    return null;
  }
  override set(_index: number, _value: null): void {}
}

function listCtor(schema: OracleSchema, element: TypeInfo): ListCtor<unknown> {
  switch (element.kind) {
    case "void":
      return WireVoidList;
    case "bool":
      return capnp.BoolList;
    case "int8":
      return capnp.Int8List;
    case "int16":
      return capnp.Int16List;
    case "int32":
      return capnp.Int32List;
    case "int64":
      return capnp.Int64List;
    case "uint8":
      return capnp.Uint8List;
    case "uint16":
    case "enum":
      return capnp.Uint16List;
    case "uint32":
      return capnp.Uint32List;
    case "uint64":
      return capnp.Uint64List;
    case "float32":
      return capnp.Float32List;
    case "float64":
      return capnp.Float64List;
    case "text":
      return capnp.TextList;
    case "data":
      return capnp.DataList;
    case "struct":
      return capnp.CompositeList(structCtor(schema, element.name));
    case "list":
      return capnp.PointerList(listCtor(schema, element.element));
    case "anyPointer":
      return capnp.AnyPointerList;
    case "interface":
      return capnp.InterfaceList;
  }
}

// ---------------------------------------------------------------------------------------------
// decodeWithSchema

/** Checks the stream framing (segment table) and that nothing follows the last segment. */
function checkFraming(bytes: Uint8Array): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.byteLength < 8) throw new Error(`capnp frame: ${bytes.byteLength} bytes is too short`);
  const count = view.getUint32(0, true) + 1;
  const headerBytes = Math.ceil((4 + 4 * count) / 8) * 8;
  if (count > 512 || headerBytes > bytes.byteLength) {
    throw new Error(`capnp frame: bad segment count ${count}`);
  }
  let words = 0;
  for (let i = 0; i < count; i++) words += view.getUint32(4 + 4 * i, true);
  const total = headerBytes + words * 8;
  if (total !== bytes.byteLength) {
    throw new Error(`capnp frame: segment table says ${total} bytes, got ${bytes.byteLength}`);
  }
}

export function decodeWithSchema(schema: OracleSchema, structName: string, bytes: Uint8Array): Record<string, unknown> {
  checkFraming(bytes);
  const ctor = structCtor(schema, structName);
  const message = new capnp.Message(bytes, false);
  // Not message.getRoot(): it resizes a root smaller than the schema's size. Read it as it is.
  const root = new ctor(message.getSegment(0), 0);
  if (capnp.Pointer.isNull(root)) return {};
  if (getTargetPointerType(root) !== capnp.PointerType.STRUCT) throw new Error("root pointer is not a struct pointer");
  return readStruct(schema, findStruct(schema, structName), root);
}

function readStruct(schema: OracleSchema, info: StructInfo, st: Struct): Record<string, unknown> {
  const size = getSize(st);
  const out: Record<string, unknown> = {};
  let active: number | null = null;
  if (info.discriminantCount > 0) {
    const byteOffset = info.discriminantOffset * 2;
    active = byteOffset + 2 <= size.dataByteLength ? capnp.Struct.getUint16(byteOffset, st) : 0;
    const member = info.fields.find((f) => f.discriminantValue === active);
    out.$which = member === undefined ? active : member.name;
  }
  const ordered = [...info.fields].sort((a, b) => a.codeOrder - b.codeOrder);
  for (const f of ordered) {
    if (f.discriminantValue !== null && f.discriminantValue !== active) continue;
    if (f.kind === "group") {
      out[f.name] = readStruct(schema, findStruct(schema, f.group), st);
      continue;
    }
    if (f.pointerIndex !== null) {
      if (f.pointerIndex >= size.pointerLength) continue;
      const ptr = capnp.Struct.getPointer(f.pointerIndex, st);
      if (capnp.Pointer.isNull(ptr)) continue;
      out[f.name] = readPointer(schema, f.type, ptr, `${info.name}.${f.name}`);
    } else {
      out[f.name] = readDataField(schema, f, st, size.dataByteLength);
    }
  }
  return out;
}

function enumName(schema: OracleSchema, t: { name: string }, v: number): string | number {
  return findEnum(schema, t.name).enumerants[v]?.name ?? v;
}

function readDataField(schema: OracleSchema, f: SlotFieldInfo, st: Struct, dataBytes: number): unknown {
  const t = f.type;
  const bits = dataBits(t) ?? 0;
  const d = f.defaultValue;
  if (bits === 0) return null;
  if (bits === 1) {
    const bit = f.offset;
    if (Math.floor(bit / 8) >= dataBytes) return d === true;
    return capnp.Struct.getBit(bit, st, d === true ? capnp.getBitMask(true, bit) : undefined);
  }
  const byteOffset = (f.offset * bits) / 8;
  if (byteOffset + bits / 8 > dataBytes) {
    if (t.kind === "enum") return enumName(schema, t, typeof d === "number" ? d : 0);
    if (d !== undefined) return d;
    return t.kind === "int64" || t.kind === "uint64" ? 0n : 0;
  }
  const num = typeof d === "number" && d !== 0 ? d : undefined;
  const big = typeof d === "bigint" && d !== 0n ? d : undefined;
  switch (t.kind) {
    case "int8":
      return capnp.Struct.getInt8(byteOffset, st, num === undefined ? undefined : capnp.getInt8Mask(num));
    case "uint8":
      return capnp.Struct.getUint8(byteOffset, st, num === undefined ? undefined : capnp.getUint8Mask(num));
    case "int16":
      return capnp.Struct.getInt16(byteOffset, st, num === undefined ? undefined : capnp.getInt16Mask(num));
    case "uint16":
      return capnp.Struct.getUint16(byteOffset, st, num === undefined ? undefined : capnp.getUint16Mask(num));
    case "enum":
      return enumName(
        schema,
        t,
        capnp.Struct.getUint16(byteOffset, st, num === undefined ? undefined : capnp.getUint16Mask(num)),
      );
    case "int32":
      return capnp.Struct.getInt32(byteOffset, st, num === undefined ? undefined : capnp.getInt32Mask(num));
    case "uint32":
      return capnp.Struct.getUint32(byteOffset, st, num === undefined ? undefined : capnp.getUint32Mask(num));
    case "float32":
      return capnp.Struct.getFloat32(byteOffset, st, num === undefined ? undefined : capnp.getFloat32Mask(num));
    case "int64":
      return capnp.Struct.getInt64(byteOffset, st, big === undefined ? undefined : capnp.getInt64Mask(big));
    case "uint64":
      return capnp.Struct.getUint64(byteOffset, st, big === undefined ? undefined : capnp.getUint64Mask(big));
    case "float64":
      return capnp.Struct.getFloat64(byteOffset, st, num === undefined ? undefined : capnp.getFloat64Mask(num));
    default:
      throw new Error(`not a data type: ${t.kind}`);
  }
}

function expectList(ptr: Pointer, size: capnp.ListElementSize, where: string): void {
  if (getTargetPointerType(ptr) !== capnp.PointerType.LIST) throw new Error(`${where}: expected a list pointer`);
  const got = getTargetListElementSize(ptr);
  if (got !== size) {
    throw new Error(
      `${where}: expected list element size ${capnp.ListElementSize[size]}, got ${capnp.ListElementSize[got]}`,
    );
  }
}

/** Reads the value of a non-null pointer. */
function readPointer(schema: OracleSchema, t: TypeInfo, ptr: Pointer, where: string): unknown {
  switch (t.kind) {
    case "text": {
      expectList(ptr, capnp.ListElementSize.BYTE, where);
      const text = capnp.Text.fromPointer(ptr);
      const c = getContent(text);
      const len = text.getLength(); // excludes the NUL
      const raw = new Uint8Array(c.segment.buffer, c.byteOffset, len + 1);
      if (raw[len] !== 0) throw new Error(`${where}: Text is not NUL-terminated`);
      return text.get(0);
    }
    case "data": {
      expectList(ptr, capnp.ListElementSize.BYTE, where);
      return capnp.Data.fromPointer(ptr).toUint8Array().slice();
    }
    case "struct": {
      if (getTargetPointerType(ptr) !== capnp.PointerType.STRUCT) throw new Error(`${where}: expected a struct pointer`);
      const ctor = structCtor(schema, t.name);
      const st = new ctor(ptr.segment, ptr.byteOffset, ptr._capnp.depthLimit);
      return readStruct(schema, findStruct(schema, t.name), st);
    }
    case "list":
      return readList(schema, t.element, ptr, where);
    case "anyPointer":
    case "interface":
      throw new Error(`${where}: ${t.kind} fields are not supported by the oracle`);
    default:
      throw new Error(`${where}: ${t.kind} is not a pointer type`);
  }
}

function readList(schema: OracleSchema, element: TypeInfo, ptr: Pointer, where: string): unknown[] {
  const elementSize = listElementSize(element);
  expectList(ptr, elementSize, where);
  const Ctor = listCtor(schema, element);
  const list = new Ctor(ptr.segment, ptr.byteOffset, ptr._capnp.depthLimit);
  const length = list.getLength();
  const out: unknown[] = [];
  if (elementSize === capnp.ListElementSize.POINTER) {
    const c = getContent(list);
    for (let i = 0; i < length; i++) {
      const p = new capnp.Pointer(c.segment, c.byteOffset + i * 8, ptr._capnp.depthLimit - 1);
      out.push(capnp.Pointer.isNull(p) ? null : readPointer(schema, element, p, `${where}[${i}]`));
    }
    return out;
  }
  if (element.kind === "struct") {
    const info = findStruct(schema, element.name);
    for (let i = 0; i < length; i++) {
      const st = list.get(i);
      if (!(st instanceof capnp.Struct)) throw new Error(`${where}[${i}]: not a struct`);
      out.push(readStruct(schema, info, st));
    }
    return out;
  }
  for (let i = 0; i < length; i++) {
    if (element.kind === "void") out.push(null);
    else if (element.kind === "enum") out.push(enumName(schema, element, Number(list.get(i))));
    else out.push(list.get(i));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// encodeWithSchema

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

const INT_RANGES: Partial<Record<PrimitiveKind, [number, number]>> = {
  int8: [-0x80, 0x7f],
  uint8: [0, 0xff],
  int16: [-0x8000, 0x7fff],
  uint16: [0, 0xffff],
  int32: [-0x80000000, 0x7fffffff],
  uint32: [0, 0xffffffff],
};

function toInt(kind: PrimitiveKind, v: unknown, where: string): number {
  const range = INT_RANGES[kind];
  if (typeof v !== "number" || !Number.isInteger(v) || range === undefined || v < range[0] || v > range[1]) {
    throw new Error(`${where}: expected ${kind}, got ${String(v)}`);
  }
  return v;
}

function toBig(kind: "int64" | "uint64", v: unknown, where: string): bigint {
  const b = typeof v === "bigint" ? v : typeof v === "number" && Number.isSafeInteger(v) ? BigInt(v) : undefined;
  if (b === undefined || (kind === "uint64" ? BigInt.asUintN(64, b) : BigInt.asIntN(64, b)) !== b) {
    throw new Error(`${where}: expected ${kind}, got ${String(v)}`);
  }
  return b;
}

function toNumber(v: unknown, where: string): number {
  if (typeof v !== "number") throw new Error(`${where}: expected a number, got ${String(v)}`);
  return v;
}

function enumValue(schema: OracleSchema, t: { name: string }, v: unknown, where: string): number {
  if (typeof v === "number") return toInt("uint16", v, where);
  const e = findEnum(schema, t.name).enumerants.find((x) => x.name === v);
  if (e === undefined) throw new Error(`${where}: ${String(v)} is not an enumerant of ${t.name}`);
  return e.value;
}

function toBytes(v: unknown, where: string): Uint8Array {
  if (!(v instanceof Uint8Array)) throw new Error(`${where}: expected a Uint8Array`);
  return v;
}

export function encodeWithSchema(schema: OracleSchema, structName: string, value: Record<string, unknown>): Uint8Array {
  const info = findStruct(schema, structName);
  const message = new capnp.Message();
  const root = message.initRoot(structCtor(schema, info.name));
  writeStruct(schema, info, root, value, info.name);
  return new Uint8Array(message.toArrayBuffer());
}

function writeStruct(
  schema: OracleSchema,
  info: StructInfo,
  st: Struct,
  value: Record<string, unknown>,
  where: string,
): void {
  const known = new Set(info.fields.map((f) => f.name));
  for (const key of Object.keys(value)) {
    if (key !== "$which" && !known.has(key)) throw new Error(`${where}: no field ${key} in ${info.name}`);
  }
  let active: FieldInfo | undefined;
  if (info.discriminantCount > 0) {
    const members = info.fields.filter((f) => f.discriminantValue !== null);
    const which = value.$which;
    if (which !== undefined) {
      active = members.find((f) => f.name === which);
      if (active === undefined) throw new Error(`${where}: $which ${String(which)} is not a union member`);
      for (const m of members) {
        if (m !== active && value[m.name] !== undefined) {
          throw new Error(`${where}: ${m.name} given but $which is ${active.name}`);
        }
      }
    } else {
      const present = members.filter((f) => value[f.name] !== undefined);
      if (present.length > 1) throw new Error(`${where}: several union members: ${present.map((f) => f.name).join(", ")}`);
      active = present[0];
    }
    if (active !== undefined && active.discriminantValue !== null) {
      capnp.Struct.setUint16(info.discriminantOffset * 2, active.discriminantValue, st);
    }
  } else if (value.$which !== undefined) {
    throw new Error(`${where}: $which given but ${info.name} has no union`);
  }

  const ordered = [...info.fields].sort((a, b) => a.codeOrder - b.codeOrder);
  for (const f of ordered) {
    if (f.discriminantValue !== null && f !== active) continue;
    const v = value[f.name];
    const at = `${where}.${f.name}`;
    if (f.kind === "group") {
      if (v === undefined || v === null) continue;
      if (!isRecord(v)) throw new Error(`${at}: expected an object for the group`);
      writeStruct(schema, findStruct(schema, f.group), st, v, at);
      continue;
    }
    if (v === undefined || v === null) continue;
    if (f.pointerIndex !== null) writePointerField(schema, f.type, f.pointerIndex, st, v, at);
    else writeDataField(schema, f, st, v, at);
  }
}

function writeDataField(schema: OracleSchema, f: SlotFieldInfo, st: Struct, v: unknown, where: string): void {
  const t = f.type;
  const bits = dataBits(t) ?? 0;
  const d = f.defaultValue;
  const num = typeof d === "number" && d !== 0 ? d : undefined;
  const big = typeof d === "bigint" && d !== 0n ? d : undefined;
  if (bits === 0) return;
  const byteOffset = (f.offset * bits) / 8;
  switch (t.kind) {
    case "bool":
      if (typeof v !== "boolean") throw new Error(`${where}: expected a boolean`);
      capnp.Struct.setBit(f.offset, v, st, d === true ? capnp.getBitMask(true, f.offset) : undefined);
      return;
    case "int8":
      capnp.Struct.setInt8(byteOffset, toInt(t.kind, v, where), st, num === undefined ? undefined : capnp.getInt8Mask(num));
      return;
    case "uint8":
      capnp.Struct.setUint8(byteOffset, toInt(t.kind, v, where), st, num === undefined ? undefined : capnp.getUint8Mask(num));
      return;
    case "int16":
      capnp.Struct.setInt16(byteOffset, toInt(t.kind, v, where), st, num === undefined ? undefined : capnp.getInt16Mask(num));
      return;
    case "uint16":
      capnp.Struct.setUint16(byteOffset, toInt(t.kind, v, where), st, num === undefined ? undefined : capnp.getUint16Mask(num));
      return;
    case "enum":
      capnp.Struct.setUint16(
        byteOffset,
        enumValue(schema, t, v, where),
        st,
        num === undefined ? undefined : capnp.getUint16Mask(num),
      );
      return;
    case "int32":
      capnp.Struct.setInt32(byteOffset, toInt(t.kind, v, where), st, num === undefined ? undefined : capnp.getInt32Mask(num));
      return;
    case "uint32":
      capnp.Struct.setUint32(byteOffset, toInt(t.kind, v, where), st, num === undefined ? undefined : capnp.getUint32Mask(num));
      return;
    case "float32":
      capnp.Struct.setFloat32(byteOffset, toNumber(v, where), st, num === undefined ? undefined : capnp.getFloat32Mask(num));
      return;
    case "float64":
      capnp.Struct.setFloat64(byteOffset, toNumber(v, where), st, num === undefined ? undefined : capnp.getFloat64Mask(num));
      return;
    case "int64":
      capnp.Struct.setInt64(byteOffset, toBig(t.kind, v, where), st, big === undefined ? undefined : capnp.getInt64Mask(big));
      return;
    case "uint64":
      capnp.Struct.setUint64(byteOffset, toBig(t.kind, v, where), st, big === undefined ? undefined : capnp.getUint64Mask(big));
      return;
    default:
      throw new Error(`${where}: not a data type: ${t.kind}`);
  }
}

/** Writes a pointer field of a struct with capnp-ts's struct helpers. */
function writePointerField(
  schema: OracleSchema,
  t: TypeInfo,
  index: number,
  st: Struct,
  v: unknown,
  where: string,
): void {
  switch (t.kind) {
    case "text":
      if (typeof v !== "string") throw new Error(`${where}: expected a string`);
      capnp.Struct.setText(index, v, st);
      return;
    case "data": {
      const bytes = toBytes(v, where);
      capnp.Struct.initData(index, bytes.byteLength, st).copyBuffer(bytes);
      return;
    }
    case "struct": {
      if (!isRecord(v)) throw new Error(`${where}: expected an object`);
      const child = capnp.Struct.initStructAt(index, structCtor(schema, t.name), st);
      writeStruct(schema, findStruct(schema, t.name), child, v, where);
      return;
    }
    case "list": {
      if (!Array.isArray(v)) throw new Error(`${where}: expected an array`);
      const list = capnp.Struct.initList(index, listCtor(schema, t.element), v.length, st);
      fillList(schema, t.element, list, v, where);
      return;
    }
    default:
      throw new Error(`${where}: ${t.kind} fields are not supported by the oracle`);
  }
}

/** Writes a value into an empty pointer slot (used for the elements of lists of pointers). */
function writePointerSlot(schema: OracleSchema, t: TypeInfo, slot: Pointer, v: unknown, where: string): void {
  switch (t.kind) {
    case "text":
      if (typeof v !== "string") throw new Error(`${where}: expected a string`);
      capnp.Text.fromPointer(slot).set(0, v);
      return;
    case "data": {
      const bytes = toBytes(v, where);
      const data = capnp.Data.fromPointer(slot);
      capnp.List.initList(capnp.ListElementSize.BYTE, bytes.byteLength, data);
      data.copyBuffer(bytes);
      return;
    }
    case "struct": {
      if (!isRecord(v)) throw new Error(`${where}: expected an object`);
      const ctor = structCtor(schema, t.name);
      const child = new ctor(slot.segment, slot.byteOffset, slot._capnp.depthLimit);
      capnp.Struct.initStruct(ctor._capnp.size, child);
      writeStruct(schema, findStruct(schema, t.name), child, v, where);
      return;
    }
    case "list": {
      if (!Array.isArray(v)) throw new Error(`${where}: expected an array`);
      const Ctor = listCtor(schema, t.element);
      const list = new Ctor(slot.segment, slot.byteOffset, slot._capnp.depthLimit);
      capnp.List.initList(Ctor._capnp.size, v.length, list, Ctor._capnp.compositeSize);
      fillList(schema, t.element, list, v, where);
      return;
    }
    default:
      throw new Error(`${where}: ${t.kind} values are not supported by the oracle`);
  }
}

function fillList(schema: OracleSchema, element: TypeInfo, list: capnp.List<unknown>, values: unknown[], where: string): void {
  const elementSize = listElementSize(element);
  if (elementSize === capnp.ListElementSize.POINTER) {
    const c = getContent(list);
    values.forEach((v, i) => {
      if (v === null || v === undefined) return;
      const slot = new capnp.Pointer(c.segment, c.byteOffset + i * 8, list._capnp.depthLimit - 1);
      writePointerSlot(schema, element, slot, v, `${where}[${i}]`);
    });
    return;
  }
  values.forEach((v, i) => {
    const at = `${where}[${i}]`;
    switch (element.kind) {
      case "void":
        return;
      case "struct": {
        if (!isRecord(v)) throw new Error(`${at}: expected an object`);
        const st = list.get(i);
        if (!(st instanceof capnp.Struct)) throw new Error(`${at}: not a struct`);
        writeStruct(schema, findStruct(schema, element.name), st, v, at);
        return;
      }
      case "bool":
        if (typeof v !== "boolean") throw new Error(`${at}: expected a boolean`);
        list.set(i, v);
        return;
      case "enum":
        list.set(i, enumValue(schema, element, v, at));
        return;
      case "int64":
      case "uint64":
        list.set(i, toBig(element.kind, v, at));
        return;
      case "float32":
      case "float64":
        list.set(i, toNumber(v, at));
        return;
      case "int8":
      case "uint8":
      case "int16":
      case "uint16":
      case "int32":
      case "uint32":
        list.set(i, toInt(element.kind, v, at));
        return;
      default:
        throw new Error(`${at}: unexpected element type ${element.kind}`);
    }
  });
}
