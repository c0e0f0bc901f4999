// Which public method names become RPC methods, and what to say about the others. Mirrors what
// runtime/object/callable-methods.ts refuses, plus the names a stub answers itself (runtime/rpc/stub.ts),
// which the runtime would accept but no stub can reach. Pure: scan.ts applies it to declarations.

/** What sourdough-gen does with a public instance method of a given name. */
export type MethodNameRule =
  /** An RPC method. */
  | { kind: "rpc" }
  /** Not an RPC method and nothing to report: constructor, runtime handlers, private names, Object.prototype. */
  | { kind: "skip" }
  /** The HTTP handler, reached with `stub.fetch(request)`: scan.ts checks its signature. */
  | { kind: "fetch" }
  /** Never callable through a stub, and the name has no other use: the method is a mistake. */
  | { kind: "error"; why: string; fix: string }
  /** Not on the stub, but the name has a use besides RPC, so the method may be meant. */
  | { kind: "warning"; why: string; fix: string };

/** Handlers the runtime calls itself (and `constructor`); the runtime refuses them over RPC. */
const HANDLERS = new Set(["constructor", "alarm", "webSocketMessage", "webSocketClose", "webSocketError"]);
const OBJECT_PROTOTYPE_NAMES = new Set(Object.getOwnPropertyNames(Object.prototype));
const RENAME = "Rename the method";
const RENAME_FOR_RPC = "Rename the method to call it over RPC";

// A method with one of these names can never be called: the runtime refuses `dup` (as workerd does),
// and the stub answers `id`, `name` and `then` itself.
const ERRORS: ReadonlyMap<string, string> = new Map([
  ["dup", "'dup' is a reserved method (stubs use it to duplicate themselves), so the runtime refuses it over RPC, as workerd does"],
  ["id", "`stub.id` is the object's DurableObjectId, so this method can never be called through a stub"],
  ["name", "`stub.name` is the name the stub was made from (getByName, idFromName), so this method can never be called through a stub"],
  ["then", "a stub is not thenable (`stub.then` is undefined, so that `await stub` gives the stub), so this method can never be called through a stub"],
]);

// These names keep a use besides RPC: `connect` is workerd's socket handler, `toJSON` serves
// JSON.stringify on the object itself. Neither is on the stub.
const WARNINGS: ReadonlyMap<string, string> = new Map([
  ["connect", "'connect' is a reserved method (on Cloudflare, stubs use it to open a socket to the object), so the runtime refuses it over RPC, as workerd does, and never calls it"],
  ["toJSON", "a stub has no JSON form (`stub.toJSON` is undefined), so this method is not on the stub; it still serves JSON.stringify on the object itself"],
]);

/** The rule for a public, non-static instance method named `name`. */
export function methodNameRule(name: string): MethodNameRule {
  if (name === "fetch") return { kind: "fetch" };
  if (name.startsWith("_") || name.startsWith("#") || name === "ctx" || name === "env") return { kind: "skip" };
  if (HANDLERS.has(name) || OBJECT_PROTOTYPE_NAMES.has(name)) return { kind: "skip" };
  const error = ERRORS.get(name);
  if (error !== undefined) return { kind: "error", why: error, fix: RENAME };
  const warning = WARNINGS.get(name);
  if (warning !== undefined) return { kind: "warning", why: warning, fix: RENAME_FOR_RPC };
  return { kind: "rpc" };
}
