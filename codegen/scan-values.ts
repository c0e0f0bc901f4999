// Part of the scan stage (ts-morph): decides whether values of a type can be copied across RPC at all
// (structured-clone semantics) and, when not, why and what to do instead. Also prints types for the IR.
import { Node, type Symbol as TsSymbol, type Type, ts } from "ts-morph";
import type { IrType } from "./ir.ts";

type Unsupported = Extract<IrType, { kind: "unsupported" }>;

/** Built-in types whose values structured clone (and msgpackr) copy. */
const CLONEABLE_LIBRARY = new Set([
  "Array", "ReadonlyArray", "Date", "RegExp", "Map", "Set", "ReadonlyMap", "ReadonlySet", "ArrayBuffer", "DataView", "Buffer",
  "Int8Array", "Uint8Array", "Uint8ClampedArray", "Int16Array", "Uint16Array", "Int32Array", "Uint32Array",
  "Float32Array", "Float64Array", "BigInt64Array", "BigUint64Array",
  "Error", "EvalError", "RangeError", "ReferenceError", "SyntaxError", "TypeError", "URIError",
  "String", "Number", "Boolean", "BigInt", "Object",
]);

const FUNCTION_HINT = "Pass data instead; to call back, pass the name of a Durable Object and call it through its namespace";

const REFUSED_LIBRARY: Record<string, { reason: string; hint: string }> = {
  Promise: { reason: "a Promise inside a value cannot cross RPC", hint: "Await it and pass the result" },
  PromiseLike: { reason: "a Promise inside a value cannot cross RPC", hint: "Await it and pass the result" },
  WeakMap: { reason: "a WeakMap cannot cross RPC", hint: "Use a Map" },
  WeakSet: { reason: "a WeakSet cannot cross RPC", hint: "Use a Set" },
  WeakRef: { reason: "a WeakRef cannot cross RPC", hint: "Pass the referenced value" },
  Function: { reason: "functions cannot cross RPC", hint: FUNCTION_HINT },
};

/** True for types declared by TypeScript's lib files or by Node's types (@types/node): the platform's types. */
export function isLibrarySymbol(sym: TsSymbol | undefined): boolean {
  const decl = sym?.getDeclarations()[0];
  if (decl === undefined) return false;
  const path = decl.getSourceFile().getFilePath();
  return /\/lib\.[^/]*\.d\.ts$/.test(path) || path.includes("/node_modules/@types/node/");
}

/** The TypeScript text of a type, without `import("...")` qualifiers (they would carry absolute paths). */
export function typeText(t: Type, at: Node): string {
  const flags = ts.TypeFormatFlags.NoTruncation | ts.TypeFormatFlags.UseAliasDefinedOutsideCurrentScope;
  // Typed arrays are generic since TypeScript 5.7: their default `<ArrayBufferLike>` is noise to a reader.
  return t.getText(at, flags).replace(/import\("[^"]*"\)\./g, "").replace(/\b((?:Ui|I)nt(?:8|16|32)Array|Uint8ClampedArray|Float(?:32|64)Array|Big(?:Ui|I)nt64Array|Buffer|DataView)<ArrayBufferLike>/g, "$1");
}

/**
 * Why values of `t` cannot cross RPC, or undefined when they can. `deep` also looks inside (properties,
 * elements, type arguments): needed for msgpack values; structs map their fields one by one instead.
 */
export function classify(t: Type, at: Node, deep: boolean, seen: Set<ts.Type> = new Set()): Unsupported | undefined {
  if (seen.has(t.compilerType)) return undefined;
  seen.add(t.compilerType);
  const no = (reason: string, hint: string): Unsupported => ({ kind: "unsupported", ts: typeText(t, at), reason, hint });
  if ((t.getFlags() & ts.TypeFlags.ESSymbolLike) !== 0) return no("symbols cannot cross RPC", "Use a string");
  if (t.isUnion()) return first(t.getUnionTypes(), (p) => classify(p, at, deep, seen));
  // Ids and stubs are copied as (namespace, id, name): by the runtime's msgpackr extensions inside msgpack values.
  if (refKind(t, at) !== undefined) return undefined;
  if (t.isIntersection()) return first(t.getIntersectionTypes(), (p) => classify(p, at, deep, seen));
  if (t.isTypeParameter()) {
    const c = t.getConstraint();
    return c === undefined ? undefined : classify(c, at, deep, seen);
  }
  if (!t.isObject()) return undefined;
  if (t.getCallSignatures().length > 0) return no("functions cannot cross RPC", FUNCTION_HINT);
  if (t.getConstructSignatures().length > 0) return no("classes and constructors cannot cross RPC", "Pass data and construct the object on the other side");
  const sym = t.getSymbol();
  const name = sym?.getName() ?? "";
  if (isLibrarySymbol(sym)) {
    const refused = REFUSED_LIBRARY[name];
    if (refused !== undefined) return no(refused.reason, refused.hint);
    if (!CLONEABLE_LIBRARY.has(name)) return no(`${name} values cannot be copied across RPC`, "Pass plain data (objects, arrays, strings, numbers) instead");
    return deep ? first([...t.getTypeArguments(), ...t.getAliasTypeArguments()], (a) => classify(a, at, deep, seen)) : undefined;
  }
  const then = t.getProperty("then");
  if (then !== undefined && then.getTypeAtLocation(at).getCallSignatures().length > 0) {
    return no("a Promise (or thenable) inside a value cannot cross RPC", "Await it and pass the result");
  }
  const withMethods = classWithMethods(sym);
  if (withMethods !== undefined) {
    return no(`instances of class ${withMethods} have methods, and a copy loses its prototype`, "Pass a plain object type (an interface) and rebuild the instance on the other side");
  }
  if (!deep) return undefined;
  const inner: Type[] = [...t.getTypeArguments(), ...(t.isTuple() ? t.getTupleElements() : [])];
  const index = [t.getStringIndexType(), t.getNumberIndexType()].filter((x): x is Type => x !== undefined);
  const props = t.getProperties().map((p) => p.getTypeAtLocation(at));
  return first([...inner, ...index, ...props], (x) => classify(x, at, deep, seen));
}

/** Names of the values the runtime passes by reference, which generated codecs do not map. */
const CAPABILITY_NAMES = new Set(["RpcTarget", "ReadableStream"]);

/**
 * Whether `t` is a DurableObjectId (`"id"`) or a Durable Object stub (`"stub"`): values generated
 * codecs carry as the DurableObjectRef struct. A stub is `DurableObjectStub<C>` itself or any object
 * type with an `id: DurableObjectId` and a `fetch` method, as the typed stubs of stubs.ts
 * (`Pick<DurableObjectStub<C>, ... | "id" | "fetch">`) are.
 */
export function refKind(t: Type, at: Node): "id" | "stub" | undefined {
  if (!t.isObject() && !t.isIntersection()) return undefined;
  const names = [t.getSymbol()?.getName(), t.getAliasSymbol()?.getName()];
  if (names.includes("DurableObjectId")) return "id";
  if (names.includes("DurableObjectStub")) return "stub";
  const id = t.getProperty("id");
  const fetch = t.getProperty("fetch");
  if (id === undefined || fetch === undefined || fetch.getTypeAtLocation(at).getCallSignatures().length === 0) return undefined;
  return refKind(id.getTypeAtLocation(at), at) === "id" ? "stub" : undefined;
}

/**
 * The first type inside `t` (itself, a member, an element, a property, a type argument) that crosses
 * RPC by reference: a function, an RpcTarget (subclass) or a ReadableStream. Generated codecs do not
 * map these; a method using one travels as msgpack. Ids and stubs are not looked into: they map to
 * DurableObjectRef (or travel inside msgpack fields with the runtime's id and stub extensions).
 */
export function referenceIn(t: Type, at: Node, seen: Set<ts.Type> = new Set()): string | undefined {
  if (seen.has(t.compilerType) || seen.size > 2_000) return undefined;
  seen.add(t.compilerType);
  if (t.isUnion()) return first(t.getUnionTypes(), (p) => referenceIn(p, at, seen));
  if (t.isIntersection() && refKind(t, at) === undefined) return first(t.getIntersectionTypes(), (p) => referenceIn(p, at, seen));
  if (!t.isObject() || refKind(t, at) !== undefined) return undefined;
  if (t.getCallSignatures().length > 0) return typeText(t, at);
  const named = (x: Type): boolean => CAPABILITY_NAMES.has(x.getSymbol()?.getName() ?? "") || CAPABILITY_NAMES.has(x.getAliasSymbol()?.getName() ?? "");
  const bases = (x: Type, depth: number): boolean => depth < 20 && x.getBaseTypes().some((b) => named(b) || bases(b, depth + 1));
  if (named(t) || bases(t, 0)) return typeText(t, at);
  const inner: Type[] = [...t.getTypeArguments(), ...t.getAliasTypeArguments(), ...(t.isTuple() ? t.getTupleElements() : [])];
  const element = t.getArrayElementType();
  if (element !== undefined) inner.push(element);
  if (isLibrarySymbol(t.getSymbol())) return first(inner, (x) => referenceIn(x, at, seen));
  // A class's methods live on its prototype (classify refuses such instances): only data properties count.
  const props = t.getProperties()
    .filter((p) => !p.getDeclarations().some((d) => Node.isMethodDeclaration(d) || Node.isMethodSignature(d)))
    .map((p) => p.getTypeAtLocation(at));
  return first([...inner, ...props], (x) => referenceIn(x, at, seen));
}

function first<T, R>(items: readonly T[], f: (item: T) => R | undefined): R | undefined {
  for (const item of items) {
    const r = f(item);
    if (r !== undefined) return r;
  }
  return undefined;
}

// The name of a user class with instance methods (a structured copy of its instance loses them).
function classWithMethods(sym: ReturnType<Type["getSymbol"]>): string | undefined {
  for (const decl of sym?.getDeclarations() ?? []) {
    if (!Node.isClassDeclaration(decl)) continue;
    for (let c: ReturnType<typeof decl.getBaseClass> = decl; c !== undefined; c = c.getBaseClass()) {
      if (c.getInstanceMethods().length > 0) return decl.getName() ?? "(anonymous)";
    }
  }
  return undefined;
}
