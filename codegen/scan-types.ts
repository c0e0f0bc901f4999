// Part of the scan stage (ts-morph): maps a TypeScript type to its wire shape in the IR. Interfaces and
// object types become shared structs, string-literal unions enums; values with structured-clone
// semantics but no exact mapping travel as msgpack; what cannot cross becomes an `unsupported` shape.
import { Node, type Type, ts } from "ts-morph";
import { classify, isLibrarySymbol, refKind, typeText } from "./scan-values.ts";
import type { IrEnum, IrField, IrStruct, IrType, Presence } from "./ir.ts";
import { memberName, typeName, unique } from "./names.ts";
import type { SourceLocation } from "./diagnostics.ts";

export interface Mapped {
  type: IrType;
  presence: Presence;
}

/** Where a type is mapped: the node for checker queries, and a name for anonymous structs and enums. */
export interface MapSite {
  at: Node;
  /** Name for an anonymous object type or literal union found here, e.g. `CounterAddItem`. */
  contextName: string;
  /** The name the declaration's type annotation refers to (`Color` in `c?: Color`), when there is one. */
  preferredName?: string | undefined;
  /** Where that name is declared. */
  preferredDecl?: Node | undefined;
}

const NUMBER_BRANDS = new Set(["Float64", "Float32", "Int8", "Int16", "Int32", "UInt8", "UInt16", "UInt32", "Int64", "UInt64"]);
const BIGINT_BRANDS = new Set(["Int64", "UInt64"]);
/** The brand property of the wire types in wire-types.ts. */
export const BRAND_PROPERTY = "__capnp";

/** Builds IR types, collecting the structs and enums it meets (shared by identity of the TS type). */
export class TypeMapper {
  readonly structs: IrStruct[] = [];
  readonly enums: IrEnum[] = [];
  readonly #taken: Set<string>;
  readonly #sites: Record<string, SourceLocation>;
  readonly #structOf = new Map<ts.Type, string>();
  readonly #enumOf = new Map<string, string>();

  constructor(taken: Set<string>, sites: Record<string, SourceLocation>) {
    this.#taken = taken;
    this.#sites = sites;
  }

  /** Maps a parameter, property or result type; `undefined` / `null` in a top-level union become presence. */
  mapField(type: Type, site: MapSite, optional: boolean): Mapped {
    let undef = optional;
    let nul = false;
    const rest: Type[] = [];
    for (const m of type.isUnion() ? type.getUnionTypes() : [type]) {
      if (m.isUndefined() || m.isVoid()) undef = true;
      else if (m.isNull()) nul = true;
      else rest.push(m);
    }
    if (rest.length === 0) return { type: nul ? { kind: "msgpack", ts: typeText(type, site.at) } : { kind: "void" }, presence: "required" };
    const inner = this.#mapMembers(rest, type, site);
    if (inner.kind === "msgpack" && (undef || nul)) return { type: { kind: "msgpack", ts: typeText(type, site.at) }, presence: "required" };
    if (inner.kind === "msgpack" || inner.kind === "unsupported" || inner.kind === "void") return { type: inner, presence: "required" };
    const presence: Presence = undef && nul ? "optionalNullable" : undef ? "optional" : nul ? "nullable" : "required";
    return { type: inner, presence };
  }

  #mapMembers(members: Type[], whole: Type, site: MapSite): IrType {
    const only = members[0];
    if (members.length === 1 && only !== undefined) return this.#mapOne(only, site);
    if (members.every((m) => m.isBooleanLiteral())) return { kind: "bool" };
    if (members.every((m) => m.isStringLiteral())) return this.#enum(members, whole, site);
    if (members.every((m) => m.isNumberLiteral())) return { kind: "number", wire: "float64" };
    return this.#msgpack(whole, site);
  }

  #msgpack(type: Type, site: MapSite): IrType {
    const ts = typeText(type, site.at);
    const problem = classify(type, site.at, true);
    if (problem === undefined) return { kind: "msgpack", ts };
    return problem.ts === ts ? problem : { ...problem, within: ts };
  }

  #mapOne(t: Type, site: MapSite): IrType {
    if (t.isAny() || t.isUnknown()) return { kind: "msgpack", ts: typeText(t, site.at) };
    if (t.isNever()) return { kind: "unsupported", ts: "never", reason: "no value has type never", hint: "Remove it, or give it a real type" };
    if (t.isBoolean() || t.isBooleanLiteral()) return { kind: "bool" };
    const brand = brandOf(t, site.at);
    if (brand !== undefined) return brand;
    if (t.isNumber() || t.isNumberLiteral()) return { kind: "number", wire: "float64" };
    if (t.isBigInt() || t.isBigIntLiteral()) return { kind: "bigint", wire: "int64" };
    if (t.isString() || t.isTemplateLiteral()) return { kind: "text" };
    if (t.isStringLiteral()) return this.#enum([t], t, site);
    const ref = refKind(t, site.at);
    if (ref !== undefined) return { kind: "ref", of: ref };
    const problem = classify(t, site.at, false);
    if (problem !== undefined) return problem;
    if (t.isTypeParameter() || t.isTuple()) return this.#msgpack(t, site);
    if (t.isArray() || t.isReadonlyArray()) return this.#list(t, site);
    if (!t.isObject() && !t.isIntersection()) return this.#msgpack(t, site);
    const lib = libraryType(t);
    if (lib !== undefined) return lib === "msgpack" ? this.#msgpack(t, site) : lib;
    if (t.getStringIndexType() !== undefined || t.getNumberIndexType() !== undefined) return this.#msgpack(t, site);
    return this.#struct(t, site);
  }

  #list(t: Type, site: MapSite): IrType {
    const element = t.getArrayElementType() ?? t.getTypeArguments()[0];
    if (element === undefined) return { kind: "msgpack", ts: typeText(t, site.at) };
    const m = this.mapField(element, { at: site.at, contextName: `${site.contextName}Item`, preferredName: undefined }, false);
    if (m.type.kind === "unsupported") return m.type;
    // Lists cannot say "absent" per element: lists of optional values (and of Void) travel as msgpack.
    if (m.presence !== "required" || m.type.kind === "void") return { kind: "msgpack", ts: typeText(t, site.at) };
    return { kind: "list", element: m.type };
  }

  #enum(members: Type[], whole: Type, site: MapSite): IrType {
    const values = members.map((m) => String(m.getLiteralValue()));
    const key = values.join("\u0000");
    const known = this.#enumOf.get(key);
    if (known !== undefined) return { kind: "enum", name: known };
    const alias = whole.getAliasSymbol()?.getName() ?? enumSymbolName(members);
    const name = unique(typeName(alias ?? site.preferredName ?? site.contextName), this.#taken);
    this.#enumOf.set(key, name);
    const decl = whole.getAliasSymbol()?.getDeclarations()[0] ?? site.preferredDecl;
    this.#sites[`enum:${name}`] = locationOf(decl ?? site.at);
    const taken = new Set<string>();
    this.enums.push({
      name,
      id: "",
      ts: values.map((v) => JSON.stringify(v)).join(" | "),
      values: values.map((value, ordinal) => ({ value, capnpName: unique(memberName(value), taken), ordinal })),
      retired: [],
    });
    return { kind: "enum", name };
  }

  #struct(t: Type, site: MapSite): IrType {
    const known = this.#structOf.get(t.compilerType);
    if (known !== undefined) return { kind: "struct", name: known };
    const name = unique(typeName(structName(t, site)), this.#taken);
    this.#structOf.set(t.compilerType, name);
    const struct: IrStruct = { name, id: "", ts: typeText(t, site.at), fields: [], retired: [] };
    this.structs.push(struct);
    const decl = t.getAliasSymbol()?.getDeclarations()[0] ?? t.getSymbol()?.getDeclarations()[0];
    if (decl !== undefined && isNamed(t)) this.#sites[`struct:${name}`] = locationOf(decl);
    const taken = new Set<string>();
    for (const prop of t.getProperties()) {
      const propName = prop.getName();
      if (propName.startsWith("__@") || propName.startsWith("#")) continue;
      const optional = (prop.getFlags() & ts.SymbolFlags.Optional) !== 0;
      const propType = prop.getTypeAtLocation(site.at);
      const declNode = prop.getValueDeclaration() ?? prop.getDeclarations()[0];
      const m = this.mapField(propType, { at: site.at, contextName: `${name}${typeName(propName)}`, ...referred(declNode) }, optional);
      struct.fields.push(field(propName, unique(memberName(propName), taken), m, declaredText(declNode) ?? typeText(propType, site.at)));
    }
    assignOrdinals(struct);
    return { kind: "struct", name };
  }
}

/** A field with no ordinals yet (see assignOrdinals). */
export function field(name: string, capnpName: string, m: Mapped, tsText: string): IrField {
  return { name, capnpName, ordinal: -1, type: m.type, presence: m.presence, ts: tsText };
}

/** Numbers fields, their presence flags and null flags in declaration order: a @0, hasA @1, b @2, ... */
export function assignOrdinals(struct: IrStruct): void {
  const taken = new Set(struct.fields.map((f) => f.capnpName));
  let next = 0;
  for (const f of struct.fields) {
    f.ordinal = next++;
    if (f.presence !== "required") f.has = { capnpName: unique(`has${typeName(f.capnpName)}`, taken), ordinal: next++ };
    if (f.presence === "optionalNullable") f.isNull = { capnpName: unique(`${f.capnpName}IsNull`, taken), ordinal: next++ };
  }
}

/** The 1-based position of a node (of its name, for a named type declaration). */
export function locationOf(node: Node): SourceLocation {
  const sf = node.getSourceFile();
  const named = Node.isTypeAliasDeclaration(node) || Node.isInterfaceDeclaration(node) || Node.isEnumDeclaration(node) ? node.getNameNode() : node;
  const { line, column } = sf.getLineAndColumnAtPos(named.getStart());
  return { file: sf.getFilePath(), line, column };
}

/** `Int32` etc.: `number & { __capnp?: "Int32" }` (see wire-types.ts). */
function brandOf(t: Type, at: Node): IrType | undefined {
  if (!t.isIntersection()) return undefined;
  const parts = t.getIntersectionTypes();
  const base = parts.find((p) => p.isNumber() || p.isBigInt());
  if (base === undefined) return undefined;
  let brand: string | undefined;
  for (const p of parts) {
    const prop = p.getProperty(BRAND_PROPERTY);
    if (prop === undefined) continue;
    const pt = prop.getTypeAtLocation(at);
    for (const m of pt.isUnion() ? pt.getUnionTypes() : [pt]) if (m.isStringLiteral()) brand = String(m.getLiteralValue());
  }
  if (brand === undefined) return undefined;
  if (base.isBigInt()) return BIGINT_BRANDS.has(brand) ? { kind: "bigint", wire: brand === "UInt64" ? "uint64" : "int64" } : undefined;
  if (!NUMBER_BRANDS.has(brand)) return undefined;
  return { kind: "number", wire: brand.toLowerCase() as Extract<IrType, { kind: "number" }>["wire"] };
}

// Built-in types with a fixed mapping; the classes that cannot cross are classify()'s.
function libraryType(t: Type): IrType | "msgpack" | undefined {
  const name = t.getSymbol()?.getName();
  if (name === undefined || !isLibrarySymbol(t.getSymbol())) return undefined;
  if (name === "Uint8Array" || name === "ArrayBuffer" || name === "Buffer") return { kind: "data", as: name };
  return "msgpack";
}

function isNamed(t: Type): boolean {
  const n = t.getAliasSymbol()?.getName() ?? t.getSymbol()?.getName();
  return n !== undefined && n !== "__type" && n !== "__object";
}

function structName(t: Type, site: MapSite): string {
  const alias = t.getAliasSymbol();
  if (alias !== undefined) return t.getAliasTypeArguments().length > 0 ? typeText(t, site.at) : alias.getName();
  const sym = t.getSymbol();
  if (sym !== undefined && isNamed(t)) return t.getTypeArguments().length > 0 ? typeText(t, site.at) : sym.getName();
  return site.preferredName ?? site.contextName;
}

function enumSymbolName(members: Type[]): string | undefined {
  if (!members.every((m) => m.isEnumLiteral())) return undefined;
  const parent = members[0]?.getSymbol()?.getDeclarations()[0]?.getParent();
  return Node.isEnumDeclaration(parent) ? parent.getName() : undefined;
}

/** The type annotation's text of a property or parameter declaration, when it has one. */
export function declaredText(decl: Node | undefined): string | undefined {
  if (decl === undefined || !(Node.isPropertySignature(decl) || Node.isPropertyDeclaration(decl) || Node.isParameterDeclaration(decl))) return undefined;
  return decl.getTypeNode()?.getText();
}

/** `Color` for `c?: Color | null`: the one type name an annotation refers to besides undefined/null, and its declaration. */
export function referred(decl: Node | undefined): { preferredName?: string; preferredDecl?: Node } {
  if (decl === undefined || !(Node.isPropertySignature(decl) || Node.isPropertyDeclaration(decl) || Node.isParameterDeclaration(decl))) return {};
  const node = decl.getTypeNode();
  const parts = Node.isUnionTypeNode(node) ? node.getTypeNodes() : node === undefined ? [] : [node];
  const named = parts.filter((p) => !/^(undefined|null|void)$/.test(p.getText()));
  const only = named[0];
  if (named.length !== 1 || !Node.isTypeReference(only) || only.getTypeArguments().length > 0) return {};
  const sym = only.getTypeName().getSymbol();
  const target = (sym?.getAliasedSymbol() ?? sym)?.getDeclarations()[0];
  const name = only.getTypeName().getText().split(".").pop() ?? "";
  return target === undefined ? { preferredName: name } : { preferredName: name, preferredDecl: target };
}
