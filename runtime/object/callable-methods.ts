// Which names a class exposes over RPC: its own public methods and those of intermediate classes,
// never the constructor, private (`_x`) names, runtime handlers, names workerd reserves, or anything
// from Object.prototype. codegen/method-names.ts applies the same rules at generation time.
import { ErrorCode, SourdoughError } from "../errors.ts";

/** Handlers the runtime calls itself; `fetch` is reached through `stub.fetch()`. */
const RUNTIME_HANDLERS = new Set(["fetch", "alarm", "webSocketMessage", "webSocketClose", "webSocketError", "constructor"]);
/**
 * The other names workerd refuses over RPC (EntrypointJsRpcTarget::isReservedName in
 * src/workerd/api/worker-rpc.c++), with what they are for: refused here too, so a class behaves the
 * same on Cloudflare.
 */
const WORKERD_RESERVED = new Map([
  ["dup", "stubs use it to duplicate themselves"],
  ["connect", "on Cloudflare, stubs use it to open a socket to the object"],
]);
const OBJECT_PROTOTYPE_NAMES = new Set(Object.getOwnPropertyNames(Object.prototype));

const cache = new WeakMap<Function, ReadonlySet<string>>();

/** The RPC-callable method names of a Durable Object class. */
export function callableMethods(Class: Function): ReadonlySet<string> {
  let names = cache.get(Class);
  if (names !== undefined) return names;
  const found = new Set<string>();
  for (let proto = Class.prototype as object | null; proto !== null && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      const d = Object.getOwnPropertyDescriptor(proto, name);
      if (d !== undefined && typeof d.value === "function" && refusal(name) === undefined) found.add(name);
    }
  }
  names = found;
  cache.set(Class, names);
  return names;
}

function refusal(name: string): string | undefined {
  if (name === "fetch") return "fetch() is called with stub.fetch(request), not as an RPC method";
  const reserved = WORKERD_RESERVED.get(name);
  if (reserved !== undefined) return `'${name}' is a reserved method (${reserved}). Rename the method`;
  if (RUNTIME_HANDLERS.has(name)) return `${name} is reserved for the runtime and cannot be called over RPC`;
  if (name.startsWith("_") || name.startsWith("#")) return `methods whose names start with "${name[0]}" are private and cannot be called over RPC`;
  if (name === "ctx" || name === "env") return `${name} is the object's state, not a method`;
  if (OBJECT_PROTOTYPE_NAMES.has(name)) return `${name} is inherited from Object.prototype and cannot be called over RPC`;
  return undefined;
}

/** Throws the error a caller sees for a name the class does not expose. */
export function methodNotCallable(className: string, Class: Function, name: string): SourdoughError {
  const why = refusal(name);
  const callable = [...callableMethods(Class)].sort().join(", ") || "(none)";
  const message =
    why !== undefined
      ? `${className}.${name}: ${why}. Callable methods: ${callable}.`
      : `${className}.${name}: no such RPC method on class ${className}. Callable methods: ${callable}.`;
  return new SourdoughError(ErrorCode.METHOD_NOT_FOUND, message);
}
