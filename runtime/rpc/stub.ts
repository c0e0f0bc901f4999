// Caller-side API: Cloudflare-style namespaces (idFromName, idFromString, newUniqueId, get,
// getByName) and stubs whose every method call becomes an RPC to the object's owner.
import { ErrorCode, SourdoughError, describeValue } from "../errors.ts";
import { DurableObjectId, idFromName, idFromString, newUniqueId } from "../ids.ts";
import type { DurableObject } from "../object/durable-object.ts";
import { CallKind } from "../wire/envelope.ts";
import { asWireResponse, requestToWire, responseFromWire } from "../wire/fetch-payload.ts";
import { encodePayload } from "../wire/payload.ts";
import { codecFailure, type ClassCodecs, type CodecTable } from "./generated.ts";
import type { CallTarget, ResultDecoder, RpcClient } from "./rpc-client.ts";

/** Finds the connection to the owner of (namespace, object id), and the generated codecs, if any. */
export interface ClientRouter {
  clientFor(namespace: string, objectIdHex: string): RpcClient;
  readonly codecs?: CodecTable;
}

type AsyncMethod<F> = F extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never;

/** Names a stub never forwards: runtime handlers, names workerd reserves, and the stub's own members. */
type NotRpc = "fetch" | "connect" | "dup" | "alarm" | "webSocketMessage" | "webSocketClose" | "webSocketError" | "ctx" | "env" | "id" | "name" | "then" | `_${string}`;

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
    return createStub<T>(this.#router, this.#namespace, id, this.#router.codecs?.forClass(this.#namespace));
  }

  getByName(name: string, _options?: { locationHint?: string }): DurableObjectStub<T> {
    return createStub<T>(this.#router, this.#namespace, this.idFromName(name), this.#router.codecs?.forClass(this.#namespace));
  }
}

// A stub is not a thenable (so `await stub` works) and has no JSON form; every other name is an RPC.
const NOT_METHODS = new Set<string>(["then", "toJSON"]);

function createStub<T>(router: ClientRouter, namespace: string, id: DurableObjectId, codecs: ClassCodecs | undefined): DurableObjectStub<T> {
  const objectId = id.toString();
  const target: CallTarget = { namespace, objectId, name: id.name };
  // The owner's client is looked up once; a closed client sends the stub back to the router, which
  // answers with the current state (restart, close, start failure).
  let cached: RpcClient | undefined;
  const client = () => (cached !== undefined && !cached.closed ? cached : (cached = router.clientFor(namespace, objectId)));
  const methods = new Map<string, (...args: unknown[]) => Promise<unknown>>();
  const fetch = async (input: Request | string | URL, init?: RequestInit): Promise<Response> => {
    const wire = await requestToWire(new Request(input, init));
    const payload = encodePayload(wire, `${namespace}.fetch request`);
    const result = await client().call(CallKind.Fetch, target, "fetch", 0, payload, `${namespace}.fetch`);
    return responseFromWire(asWireResponse(result));
  };
  const base = { id, name: id.name, fetch };
  return new Proxy(base, {
    get(obj, prop) {
      if (Object.hasOwn(obj, prop)) return obj[prop as keyof typeof obj];
      if (typeof prop !== "string" || NOT_METHODS.has(prop)) return undefined;
      let method = methods.get(prop);
      if (method === undefined) {
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
        method = (...args: unknown[]) => {
          try {
            if (codec === undefined) return client().call(CallKind.Method, target, prop, 0, encodePayload(args, `${where} arguments`), where);
            let payload: Uint8Array;
            try {
              payload = codec.encodeParams(args);
            } catch (error) {
              throw codecFailure(error, `${where} arguments`);
            }
            return client().call(CallKind.Method, target, prop, codec.id, payload, where, decode);
          } catch (error) {
            return Promise.reject(error); // a stub method never throws synchronously
          }
        };
        methods.set(prop, method);
      }
      return method;
    },
    has: (obj, prop) => Object.hasOwn(obj, prop),
    set: () => false,
  }) as unknown as DurableObjectStub<T>;
}
