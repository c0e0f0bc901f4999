// Caller-side API: Cloudflare-style namespaces (idFromName, idFromString, newUniqueId, get,
// getByName) and stubs whose every method call becomes an RPC to the object's owner. A stub is also a
// safe value: String(), util.inspect, JSON and Object.prototype's methods work locally, never as RPCs.
import { inspect } from "node:util";
import { addExtension } from "msgpackr";
import { installRefRuntime } from "../codecs/refs.ts";
import { ErrorCode, SourdoughError, describeValue } from "../errors.ts";
import { DurableObjectId, idFromName, idFromString, isIdOfName, isValidId, newUniqueId } from "../ids.ts";
import type { DurableObject } from "../object/durable-object.ts";
import { CallKind } from "../wire/envelope.ts";
import { asWireResponse, requestToWire, responseFromWire } from "../wire/fetch-payload.ts";
import { encodeCallPayload, encodePayload } from "../wire/payload.ts";
import { questionAfter, rpcPromise, type RpcPromise } from "./capabilities.ts";
import { codecFailure, type ClassCodecs, type CodecTable } from "./generated.ts";
import type { CallOptions, CallTarget, ResultDecoder, RpcClient } from "./rpc-client.ts";

/** Finds the connection to the owner of (namespace, object id), and the generated codecs, if any. */
export interface ClientRouter {
  clientFor(namespace: string, objectIdHex: string): RpcClient;
  readonly codecs?: CodecTable;
  /**
   * The cluster this router reaches (its run directory, or a token of an in-process cluster): a stub
   * passed over RPC carries it, and the receiving process rebuilds the stub with its own router of
   * that cluster.
   */
  readonly clusterId: string;
}

type AsyncMethod<F> = F extends (...args: infer A) => infer R ? (...args: A) => RpcPromise<Awaited<R>> : never;

/** Object.prototype's names: on a stub they are the local methods (toString gives a description). */
type ObjectMethods = "constructor" | "toString" | "toLocaleString" | "valueOf" | "hasOwnProperty" | "isPrototypeOf" | "propertyIsEnumerable" | "toJSON";

/** Names a stub never forwards: runtime handlers, names workerd reserves, and the stub's own members. */
type NotRpc = "fetch" | "connect" | "dup" | "alarm" | "webSocketMessage" | "webSocketClose" | "webSocketError" | "ctx" | "env" | "id" | "name" | "then" | ObjectMethods | `_${string}`;

/** A typed stub: each public method of T, returning a Promise; plus `fetch`, `id` and `name`. */
export type DurableObjectStub<T = DurableObject> = {
  [K in keyof T as K extends NotRpc ? never : T[K] extends (...args: never[]) => unknown ? K : never]: AsyncMethod<T[K]>;
} & {
  readonly id: DurableObjectId;
  readonly name: string | undefined;
  fetch(input: Request | string | URL, init?: RequestInit): Promise<Response>;
};

const ID_CACHE_SIZE = 10_000;

/** Cloudflare's DurableObjectNamespace. */
export class DurableObjectNamespace<T = DurableObject> {
  readonly #namespace: string;
  readonly #router: ClientRouter;
  readonly #ids = new Map<string, DurableObjectId>();

  /** @internal obtained from the coordinator, `serve()`'s env, or an object's env. */
  constructor(namespace: string, router: ClientRouter) {
    this.#namespace = namespace;
    this.#router = router;
  }

  /** The namespace (class) name. */
  get namespace(): string {
    return this.#namespace;
  }

  /** The id for `name` (cached: hashing is most of getByName's cost on a hot path). */
  idFromName(name: string): DurableObjectId {
    let id = this.#ids.get(name);
    if (id === undefined) {
      id = idFromName(this.#namespace, name);
      if (this.#ids.size >= ID_CACHE_SIZE) this.#ids.clear();
      this.#ids.set(name, id);
    }
    return id;
  }

  /** Parses an id made by this namespace; throws ERR_BAD_ID for anything else. */
  idFromString(hex: string): DurableObjectId {
    return idFromString(this.#namespace, hex);
  }

  newUniqueId(_options?: { jurisdiction?: string }): DurableObjectId {
    return newUniqueId(this.#namespace);
  }

  /** A stub for `id`. `options.locationHint` is accepted for compatibility and ignored (one machine). */
  get(id: DurableObjectId, _options?: { locationHint?: string }): DurableObjectStub<T> {
    if (!(id instanceof DurableObjectId)) {
      throw new SourdoughError(ErrorCode.BAD_ID, `${this.#namespace}.get: expected a DurableObjectId, got ${describeValue(id)}. Use getByName(name) for names, or idFromString(hex) for id strings.`);
    }
    const owner = DurableObjectId.namespaceOf(id);
    if (owner !== this.#namespace) {
      // Cloudflare: TypeError "ID is not for this Durable Object class."
      throw new SourdoughError(ErrorCode.BAD_ID, `${this.#namespace}.get: ID is not for this Durable Object class: ${id.toString()} was made by namespace ${owner}. Pass it to the ${owner} binding's get(), or make the id with this namespace.`);
    }
    return createStub<T>(this.#router, this.#namespace, id, this.#router.codecs?.forClass(this.#namespace));
  }

  getByName(name: string, _options?: { locationHint?: string }): DurableObjectStub<T> {
    return createStub<T>(this.#router, this.#namespace, this.idFromName(name), this.#router.codecs?.forClass(this.#namespace));
  }
}

// A stub is not a thenable, so `await stub` works; every name not found on StubTarget is an RPC.
const NOT_METHODS = new Set<string>(["then"]);

interface StubState {
  router: ClientRouter;
  namespace: string;
  id: DurableObjectId;
  codecs: ClassCodecs | undefined;
  options: CallOptions | undefined;
}

const STATE = Symbol("sourdough.stubState");

function describeStub(state: StubState): string {
  const name = state.id.name === undefined ? "" : `, name ${JSON.stringify(state.id.name)}`;
  return `DurableObjectStub(${state.namespace}, ${state.id.toString()}${name})`;
}

// The Proxy's target. Its prototype answers the names a stub must answer locally: Object.prototype's
// methods, String()/template literals (Symbol.toPrimitive), util.inspect and JSON.stringify. The
// payload encoder recognises it (instanceof sees the target's prototype) and sends a reference.
class StubTarget {
  readonly id: DurableObjectId;
  readonly name: string | undefined;
  readonly fetch: (input: Request | string | URL, init?: RequestInit) => Promise<Response>;
  readonly [STATE]: StubState;
  constructor(state: StubState, fetch: StubTarget["fetch"]) {
    this.id = state.id;
    this.name = state.id.name;
    this.fetch = fetch;
    this[STATE] = state;
  }
  toString(): string {
    return describeStub(this[STATE]);
  }
  toJSON(): string {
    return describeStub(this[STATE]);
  }
  [Symbol.toPrimitive](): string {
    return describeStub(this[STATE]);
  }
  [inspect.custom](): string {
    return describeStub(this[STATE]);
  }
  get [Symbol.toStringTag](): string {
    return "DurableObjectStub";
  }
}

// Error messages name a stub's class as the API does (describeValue reads constructor.name).
Object.defineProperty(StubTarget, "name", { value: "DurableObjectStub" });

/**
 * A stub of the same type whose calls (and fetches) carry `options`: an AbortSignal that cancels them,
 * and a deadline (`timeoutMs`, replacing the coordinator's `callTimeoutMs`; Infinity for none). A call
 * past its deadline rejects with ERR_DEADLINE_EXCEEDED, an aborted one with ERR_ABORTED (an
 * "AbortError"); either way the callee is sent a Cancel. Options of a stub made this way add up: two
 * signals both apply, a later timeoutMs replaces an earlier one. Beyond Cloudflare, which has neither.
 * Throws ERR_BAD_OPTIONS for a value that is no stub or for invalid options.
 */
export function withCallOptions<S extends object>(stub: S, options: CallOptions): S {
  const state = (stub as unknown as { [STATE]?: StubState } | null)?.[STATE];
  if (state === undefined) {
    throw new SourdoughError(ErrorCode.BAD_OPTIONS, `withCallOptions: expected a Durable Object stub, got ${describeValue(stub)}. Pass a stub from namespace.get(id) or getByName(name).`);
  }
  const { signal, timeoutMs } = (options ?? {}) as CallOptions;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new SourdoughError(ErrorCode.BAD_OPTIONS, `withCallOptions: signal must be an AbortSignal, got ${describeValue(signal)}. Pass controller.signal or AbortSignal.timeout(ms).`);
  }
  if (timeoutMs !== undefined && !(typeof timeoutMs === "number" && timeoutMs > 0 && (Number.isFinite(timeoutMs) || timeoutMs === Infinity))) {
    throw new SourdoughError(ErrorCode.BAD_OPTIONS, `withCallOptions: timeoutMs must be a number of milliseconds > 0 (or Infinity for no deadline), got ${describeValue(timeoutMs)}.`);
  }
  const before = state.options;
  const signals = [before?.signal, signal].filter((s): s is AbortSignal => s !== undefined);
  const merged: CallOptions = {
    signal: signals.length > 1 ? AbortSignal.any(signals) : signals[0],
    timeoutMs: timeoutMs ?? before?.timeoutMs,
  };
  return createStub({ ...state, options: merged }) as unknown as S;
}

function createStub<T>(router: ClientRouter, namespace: string, id: DurableObjectId, codecs: ClassCodecs | undefined): DurableObjectStub<T>;
function createStub<T>(state: StubState): DurableObjectStub<T>;
function createStub<T>(...args: [StubState] | [ClientRouter, string, DurableObjectId, ClassCodecs | undefined]): DurableObjectStub<T> {
  const state: StubState = args.length === 1 ? args[0] : { router: args[0], namespace: args[1], id: args[2], codecs: args[3], options: undefined };
  const { router, namespace, id, codecs, options } = state;
  const objectId = id.toString();
  const target: CallTarget = { namespace, objectId, name: id.name };
  // The owner's client is looked up once; a closed client sends the stub back to the router, which
  // answers with the current state (restart, close, start failure).
  let cached: RpcClient | undefined;
  const client = () => (cached !== undefined && !cached.closed ? cached : (cached = router.clientFor(namespace, objectId)));
  const methods = new Map<string, (...args: unknown[]) => Promise<unknown>>();
  const fetch = async (input: Request | string | URL, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init);
    // An inline body counts against the call's limit: one that would exceed it streams instead.
    const wire = await requestToWire(request, client().maxCallBytes);
    const c = client();
    // A streamed body crosses like a stream argument: exported on this connection (rpc/streams.ts).
    const payload = wire.body instanceof ReadableStream ? encodeCallPayload(wire, `${namespace}.fetch request`, c.maxCallBytes, c.caps) : encodePayload(wire, `${namespace}.fetch request`, c.maxCallBytes);
    const result = await c.call(CallKind.Fetch, target, "fetch", 0, payload, `${namespace}.fetch`, undefined, options);
    const answer = asWireResponse(result);
    // A 101 carries the object's end of a WebSocket: serve()'s gateway takes the client's side.
    if (answer.status === 101) return c.adoptWebSocket(answer.webSocket, answer.headers, target, `${namespace}.fetch`);
    return responseFromWire(answer);
  };
  return new Proxy(new StubTarget(state, fetch), {
    get(obj, prop) {
      if (typeof prop !== "string" || prop in obj) return obj[prop as keyof StubTarget];
      let method = methods.get(prop);
      if (method === undefined) {
        if (NOT_METHODS.has(prop)) return undefined;
        method = rpcMethod(prop);
        methods.set(prop, method);
      }
      return method;
    },
    has: (obj, prop) => Object.hasOwn(obj, prop),
    set: () => false,
  }) as unknown as DurableObjectStub<T>;

  function rpcMethod(prop: string): (...args: unknown[]) => Promise<unknown> {
    const where = `${namespace}.${prop}`;
    const codec = codecs?.[prop];
    const decode: ResultDecoder | undefined =
      codec === undefined
        ? undefined
        : (payload) => {
            try {
              return codec.decodeResult(payload);
            } catch (error) {
              throw codecFailure(error, `${where} result`);
            }
          };
    return (...args: unknown[]) => {
      try {
        if (codec === undefined) {
          const c = client();
          const bytes = encodeCallPayload(args, `${where} arguments`, c.maxCallBytes, c.caps);
          const before = c.lastQuestionId;
          const promise = c.call(CallKind.Method, target, prop, 0, bytes, where, undefined, options);
          return rpcPromise(promise, c.capWire, questionAfter(c, before), where);
        }
        let payload: Uint8Array;
        try {
          payload = codec.encodeParams(args);
        } catch (error) {
          throw codecFailure(error, `${where} arguments`);
        }
        return client().call(CallKind.Method, target, prop, codec.id, payload, where, decode, options);
      } catch (error) {
        return Promise.reject(error); // a stub method never throws synchronously
      }
    };
  }
}

// ---- Ids and stubs as values --------------------------------------------------------------------
// A DurableObjectId or a stub in arguments or results crosses RPC (msgpackr payloads) as
// (namespace, id, name) and arrives as a working id or stub of the same object, as Workers RPC passes
// them. A stub also names its cluster: the receiving process rebuilds it with its own router of that
// cluster (every member of a cluster computes placement alike), registered by buildEnv. Call options
// (withCallOptions) stay with the sender's stub. msgpackr tries extensions registered later first, so
// these take precedence over payload.ts's refusal of class instances.

const routers = new Map<string, WeakRef<ClientRouter>>();

/** @internal Makes stubs of `router`'s cluster that arrive in this process use `router`. */
export function registerRouter(router: ClientRouter): void {
  for (const [key, ref] of routers) if (ref.deref() === undefined) routers.delete(key);
  routers.set(router.clusterId, new WeakRef(router));
}

const ID_EXTENSION = 0x65;
const STUB_EXTENSION = 0x66;

function refusedReference(what: string, why: string): SourdoughError {
  return new SourdoughError(ErrorCode.BAD_ID, `a ${what} arrived that cannot be used here: ${why}.`);
}

/** (namespace, hex, name) off the wire, checked like any id that arrives: hex bound to its namespace. */
function readIdFields(data: unknown, offset: number, what: string): DurableObjectId {
  const fields = Array.isArray(data) ? data : [];
  const [namespace, hex, name] = [fields[offset], fields[offset + 1], fields[offset + 2]];
  if (typeof namespace !== "string" || typeof hex !== "string" || !(name === null || typeof name === "string")) {
    throw refusedReference(what, "its encoding is malformed (the sender is not speaking sourdough's payload encoding)");
  }
  if (!isValidId(namespace, hex)) throw refusedReference(what, `${describeValue(hex)} is not an id of namespace ${namespace}`);
  // ctx.id.name and the name recorded beside the object's database come from here: it must be the id's own.
  if (name !== null && !isIdOfName(namespace, hex, name)) throw refusedReference(what, `its name ${describeValue(name)} is not the name of id ${hex} (idFromName(${describeValue(name)}) is another id)`);
  return new DurableObjectId(hex, name ?? undefined, namespace);
}

addExtension({
  Class: DurableObjectId,
  type: ID_EXTENSION,
  write: (id: DurableObjectId) => [DurableObjectId.namespaceOf(id), id.toString(), id.name ?? null],
  read: (data: unknown) => readIdFields(data, 0, "DurableObjectId"),
});

addExtension({
  Class: StubTarget as unknown as new () => object,
  type: STUB_EXTENSION,
  write(stub: StubTarget) {
    const { router, namespace, id } = stub[STATE];
    return [router.clusterId, namespace, id.toString(), id.name ?? null];
  },
  read: readStubFields,
});

/** (clusterId, namespace, hex, name) off the wire: a stub rebuilt with this process's router of that cluster. */
function readStubFields(data: unknown): DurableObjectStub {
  const clusterId = Array.isArray(data) ? data[0] : undefined;
  const id = readIdFields(data, 1, "DurableObjectStub");
  const router = typeof clusterId === "string" ? routers.get(clusterId)?.deref() : undefined;
  if (router === undefined) {
    throw refusedReference("DurableObjectStub", `it belongs to a cluster this process is not part of (${describeValue(clusterId)}). Stubs travel between the objects and callers of one cluster`);
  }
  const namespace = DurableObjectId.namespaceOf(id);
  return createStub(router, namespace, id, router.codecs?.forClass(namespace));
}

// The same values in sourdough-gen's codecs (the DurableObjectRef struct), checked alike.
installRefRuntime({
  fieldsOf(kind, value) {
    if (kind === "id") return value instanceof DurableObjectId ? { namespace: DurableObjectId.namespaceOf(value), id: value.toString(), name: value.name, cluster: "" } : undefined;
    if (!(value instanceof StubTarget)) return undefined;
    const { router, namespace, id } = value[STATE];
    return { namespace, id: id.toString(), name: id.name, cluster: router.clusterId };
  },
  rebuild(kind, f) {
    if (kind === "id") return readIdFields([f.namespace, f.id, f.name ?? null], 0, "DurableObjectId");
    return readStubFields([f.cluster, f.namespace, f.id, f.name ?? null]);
  },
});
