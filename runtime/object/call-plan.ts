// Turns one incoming Call into what to run and how to encode its answer: by method id with the
// class's generated codec (Call.methodId ≠ 0), by name with msgpackr otherwise, or the object's
// fetch handler. Refuses anything the class does not expose. Pure: no object state is touched.
import { ErrorCode, SourdoughError, describeValue } from "../errors.ts";
import { codecFailure, type CodecTable } from "../rpc/generated.ts";
import { CallKind, type CallMessage } from "../wire/envelope.ts";
import { asWireRequest, requestFromWire, responseToWire } from "../wire/fetch-payload.ts";
import { decodePayload, encodePayload } from "../wire/payload.ts";
import { responseWebSocket } from "../websocket/web-socket.ts";
import { callableMethods, methodNotCallable } from "./callable-methods.ts";
import type { ConcreteDurableObjectClass } from "./durable-object.ts";

export interface CallPlan {
  /** Runs the call on the object's instance; returns its result or a promise of it. */
  run(instance: object): unknown;
  encode(value: unknown): Uint8Array;
}

/** Decodes the arguments and picks the method. Throws the error to answer the caller with. */
/** Joins the WebSocket of a 101 answer to its object and says what the gateway must know of it. */
export type LinkWebSocket = (client: unknown) => unknown;

export function planCall(call: CallMessage, Class: ConcreteDurableObjectClass, codecs: CodecTable, label: string, where: string, maxCallBytes: number, link?: LinkWebSocket): CallPlan {
  if (call.kind === CallKind.Fetch) {
    const request = decodePayload(call.payload, `${where} request`);
    return { run: (instance) => runFetch(instance, Class.name, request, link, maxCallBytes), encode: (v) => encodePayload(v, `${where} response`, maxCallBytes) };
  }
  if (call.kind !== CallKind.Method) throw new SourdoughError(ErrorCode.PROTOCOL, `${where}: unknown call kind ${describeValue(call.kind)}.`);
  let method = call.method;
  let args: unknown;
  let encode: (value: unknown) => Uint8Array;
  if (call.methodId !== 0) {
    const entry = codecs.byId(call.namespace, call.methodId);
    if (entry === undefined) {
      throw new SourdoughError(ErrorCode.METHOD_NOT_FOUND, `${where}: method id ${call.methodId} of ${call.namespace} has no generated codec in ${label}. The caller and this host use different sourdough-gen output: regenerate, and pass the same \`generated\` to both.`);
    }
    method = entry.name;
    try {
      args = entry.codec.decodeParams(call.payload);
    } catch (error) {
      throw codecFailure(error, `${call.namespace}.${method} arguments`);
    }
    encode = (value) => {
      try {
        return entry.codec.encodeResult(value);
      } catch (error) {
        throw codecFailure(error, `${call.namespace}.${method} result`);
      }
    };
  } else {
    args = decodePayload(call.payload, `${where} arguments`);
    encode = (value) => encodePayload(value, `${where} result`, maxCallBytes);
  }
  if (!callableMethods(Class).has(method)) throw methodNotCallable(call.namespace, Class, method);
  if (!Array.isArray(args)) throw new SourdoughError(ErrorCode.PROTOCOL, `${where}: arguments must be an array, got ${describeValue(args)}.`);
  const list = args as unknown[];
  return { run: (instance) => (instance as Record<string, (...a: unknown[]) => unknown>)[method]!(...list), encode };
}

async function runFetch(instance: object, className: string, payload: unknown, link: LinkWebSocket | undefined, maxCallBytes: number): Promise<unknown> {
  const handler = (instance as { fetch?: unknown }).fetch;
  if (typeof handler !== "function") {
    throw new SourdoughError(ErrorCode.METHOD_NOT_FOUND, `${className}.fetch: class ${className} has no fetch(request) handler. Add one, or call its methods directly.`);
  }
  const response: unknown = await handler.call(instance, requestFromWire(asWireRequest(payload)));
  if (!(response instanceof Response)) {
    throw new TypeError(`${className}.fetch: returned ${describeValue(response)}, expected a Response.`);
  }
  if (response.status === 101) {
    const webSocket = responseWebSocket(response);
    if (webSocket === null) throw new TypeError(`${className}.fetch: returned status 101 without a webSocket. Answer an upgrade with new Response(null, { status: 101, webSocket: pair[0] }).`);
    if (link === undefined) throw new TypeError(`${className}.fetch: a WebSocket cannot be returned here.`);
    return responseToWire(response, link(webSocket), maxCallBytes);
  }
  return responseToWire(response, undefined, maxCallBytes);
}
