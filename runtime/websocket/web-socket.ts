// Cloudflare's WebSocket classes as an object sees them: WebSocketPair, the object's end (WebSocket),
// WebSocketRequestResponsePair, and a Response that accepts status 101 with `webSocket`. The socket
// itself is held by serve()'s process; this end only says what the object does with it, through the
// isolate's ObjectSockets (object-sockets.ts). Importing this module installs the globals workerd has.
import v8 from "node:v8";
import { ErrorCode, SourdoughError, describeValue } from "../errors.ts";
import { MAX_ATTACHMENT_BYTES, MAX_MESSAGE_BYTES } from "./limits.ts";

/** What an accepted end reports to: the isolate's ObjectSockets. */
export interface SocketOwner {
  send(ws: WebSocket, data: string | Uint8Array): void;
  close(ws: WebSocket, code: number | undefined, reason: string | undefined): void;
  attachmentChanged(ws: WebSocket): void;
}

/** How an end was accepted: not yet, with ctx.acceptWebSocket (hibernatable), or with accept(). */
export type AcceptMode = "none" | "hibernatable" | "standard";

/** Per-socket state kept small: an idle hibernated socket costs this record and its WebSocket. */
export interface SocketState {
  /** Given when accepted (hibernatable) or linked (standard); unique across isolates. */
  id: string | undefined;
  /** The other end of the pair until the response carrying it leaves. */
  peer: WebSocket | undefined;
  mode: AcceptMode;
  tags: readonly string[];
  attachment: Uint8Array | undefined;
  autoResponseAt: number | undefined;
  readyState: number;
  owner: SocketOwner | undefined;
  /** The room (object) it belongs to, for the owner. */
  room: unknown;
  /** Messages (and a close) sent before the 101 left: they travel inside the response. */
  early: EarlyOperation[] | undefined;
}

// Shared by every copy of this module in the process (a host may load sourdough from two paths).
/** What the object did to a socket before its 101 left: a message, or close(code, reason). */
export type EarlyOperation = string | Uint8Array | { close: number | null; reason: string | null };

const states = ((globalThis as Record<symbol, unknown>)[Symbol.for("sourdough.webSocketStates")] ??= new WeakMap()) as WeakMap<WebSocket, SocketState>;

/** @internal The runtime's view of an end. */
export function socketState(ws: WebSocket): SocketState {
  const state = states.get(ws);
  if (state === undefined) throw new TypeError(`expected a WebSocket from new WebSocketPair(), got ${describeValue(ws)}.`);
  return state;
}

/** @internal True for an end made by WebSocketPair (any other value is refused where one is expected). */
export function isPairSocket(value: unknown): value is WebSocket {
  return typeof value === "object" && value !== null && states.has(value as WebSocket);
}

/**
 * One end of a WebSocketPair, with Cloudflare's API: `accept()` + `addEventListener` (standard), or
 * `ctx.acceptWebSocket(ws)` (hibernation); `send`, `close`, `serializeAttachment`,
 * `deserializeAttachment`. Events of the standard API are MessageEvent ("message"), and Events
 * carrying `code`/`reason`/`wasClean` ("close") or `error` ("error").
 */
export class WebSocket {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  readonly CONNECTING = 0;
  readonly OPEN = 1;
  readonly CLOSING = 2;
  readonly CLOSED = 3;

  /** @internal made by WebSocketPair or the runtime. */
  constructor(state?: Partial<SocketState>) {
    states.set(this, { id: undefined, peer: undefined, mode: "none", tags: [], attachment: undefined, autoResponseAt: undefined, readyState: 0, owner: undefined, room: undefined, early: undefined, ...state });
  }

  get readyState(): number {
    return socketState(this).readyState;
  }
  get url(): string | null {
    return null;
  }
  get protocol(): string {
    return "";
  }
  get extensions(): string {
    return "";
  }

  /** The standard API: events of this socket go to its listeners; the object stays in memory while it is open. */
  accept(): void {
    const s = socketState(this);
    if (s.mode !== "none") throw new TypeError(`WebSocket.accept(): this WebSocket was already accepted (${s.mode === "standard" ? "with accept()" : "with ctx.acceptWebSocket()"}). Accept each WebSocket once.`);
    if (s.peer === undefined) throw new TypeError("WebSocket.accept(): this end is not the object's: accept the end you keep (pair[1]) and return the other (pair[0]) in the Response.");
    s.mode = "standard";
    s.readyState = WebSocket.OPEN;
    s.early = [];
  }

  /** Sends a text (string) or binary (ArrayBuffer, typed array) message to the client. */
  send(message: string | ArrayBuffer | ArrayBufferView): void {
    const s = socketState(this);
    if (s.mode === "none") throw new TypeError("WebSocket.send(): accept the WebSocket first (ws.accept() or this.ctx.acceptWebSocket(ws)).");
    if (s.readyState >= WebSocket.CLOSING) throw new TypeError("WebSocket.send(): the WebSocket is closed or closing (close() was called or the client went away). Check ws.readyState === WebSocket.OPEN before sending.");
    const data = messageBytes(message, "WebSocket.send()");
    const size = typeof data === "string" ? Buffer.byteLength(data) : data.byteLength;
    if (size > MAX_MESSAGE_BYTES) throw new SourdoughError(ErrorCode.TOO_LARGE, `WebSocket.send(): the message is ${size} bytes, over the limit of ${MAX_MESSAGE_BYTES} bytes (32 MiB, Cloudflare's). Send it in parts.`);
    if (s.early !== undefined) return void s.early.push(data); // the 101 has not left yet: it carries these
    if (s.owner === undefined) throw new TypeError("WebSocket.send(): this WebSocket is not connected to a client.");
    s.owner.send(this, data);
  }

  /** Starts the closing handshake with the client (code 1000 or 3000–4999; reason ≤ 123 bytes). */
  close(code?: number, reason?: string): void {
    const s = socketState(this);
    if (code !== undefined && !(Number.isInteger(code) && (code === 1000 || (code >= 3000 && code <= 4999)))) {
      throw new TypeError(`WebSocket.close(): code must be 1000 or an integer from 3000 to 4999, got ${describeValue(code)}.`);
    }
    if (reason !== undefined && code === undefined) throw new TypeError("WebSocket.close(): a reason needs a code: ws.close(1000, reason).");
    if (reason !== undefined && (typeof reason !== "string" || Buffer.byteLength(reason) > 123)) {
      throw new TypeError(`WebSocket.close(): reason must be a string of at most 123 bytes, got ${describeValue(reason)}.`);
    }
    if (s.readyState >= WebSocket.CLOSING) return;
    if (s.mode === "none") throw new TypeError("WebSocket.close(): accept the WebSocket first (ws.accept() or this.ctx.acceptWebSocket(ws)).");
    s.readyState = WebSocket.CLOSING;
    if (s.early !== undefined) return void s.early.push({ close: code ?? null, reason: reason ?? null });
    s.owner?.close(this, code, reason);
  }

  /** Keeps a structured-clone copy of `value` with the socket (survives hibernation); at most 16 KiB serialized. */
  serializeAttachment(value: unknown): void {
    const s = socketState(this);
    let bytes: Uint8Array;
    try {
      bytes = v8.serialize(value);
    } catch (error) {
      throw new SourdoughError(ErrorCode.UNSUPPORTED_TYPE, `WebSocket.serializeAttachment(): ${describeValue(value)} cannot be cloned (${error instanceof Error ? error.message : String(error)}). Pass structured-clone data (objects, arrays, strings, numbers, Map, Date...).`, { cause: error });
    }
    if (bytes.byteLength > MAX_ATTACHMENT_BYTES) {
      throw new SourdoughError(ErrorCode.TOO_LARGE, `WebSocket.serializeAttachment(): the value serializes to ${bytes.byteLength} bytes, over the limit of ${MAX_ATTACHMENT_BYTES} bytes (16 KiB, Cloudflare's). Keep a small key in the attachment and the rest in storage.`);
    }
    s.attachment = bytes;
    s.owner?.attachmentChanged(this);
  }

  /** A fresh copy of what serializeAttachment() kept, or null. */
  deserializeAttachment(): unknown {
    const bytes = socketState(this).attachment;
    return bytes === undefined ? null : v8.deserialize(bytes);
  }

  // The standard API's events. Not an EventTarget: that costs a map per socket, and a hibernated
  // socket (the common case) never has listeners.
  #listeners: Map<string, Array<Listener>> | undefined;

  addEventListener(type: string, listener: Listener | null, options?: boolean | { once?: boolean }): void {
    if (listener === null) return;
    const list = ((this.#listeners ??= new Map<string, Listener[]>()).get(type) ?? []).filter((l: Listener) => l !== listener);
    if (typeof options === "object" && options.once === true) {
      const once: Listener = (event) => {
        this.removeEventListener(type, once);
        callListener(listener, this, event);
      };
      list.push(once);
    } else list.push(listener);
    this.#listeners.set(type, list);
  }

  removeEventListener(type: string, listener: Listener | null): void {
    const list = this.#listeners?.get(type);
    if (list !== undefined) this.#listeners!.set(type, list.filter((l) => l !== listener));
  }

  /** Calls the listeners of `event.type` in order; a throwing listener is reported, the others still run. */
  dispatchEvent(event: Event): boolean {
    const list = this.#listeners?.get(event.type);
    if (list === undefined) return true;
    for (const listener of [...list]) {
      try {
        callListener(listener, this, event);
      } catch (error) {
        queueMicrotask(() => {
          throw error; // as EventTarget does: an uncaught exception, not a failed dispatch
        });
      }
    }
    return !event.defaultPrevented;
  }

  get [Symbol.toStringTag](): string {
    return "WebSocket";
  }
}

type Listener = ((event: Event) => unknown) | { handleEvent(event: Event): unknown };

function callListener(listener: Listener, target: WebSocket, event: Event): void {
  if (typeof listener === "function") listener.call(target, event);
  else listener.handleEvent(event);
}

/** `new WebSocketPair()`: `{ 0: client, 1: server }`; return the client in a 101 Response, keep the server. */
export class WebSocketPair {
  readonly 0: WebSocket;
  readonly 1: WebSocket;
  constructor() {
    const client = new WebSocket();
    const server = new WebSocket();
    socketState(client).peer = server;
    socketState(server).peer = client;
    this[0] = client;
    this[1] = server;
  }
}

/** An auto-response for `ctx.setWebSocketAutoResponse`: a text message answered without waking the object. */
export class WebSocketRequestResponsePair {
  readonly #request: string;
  readonly #response: string;
  constructor(request: string, response: string) {
    if (typeof request !== "string" || typeof response !== "string") {
      throw new TypeError(`WebSocketRequestResponsePair: request and response must be strings, got ${describeValue(request)} and ${describeValue(response)}.`);
    }
    this.#request = request;
    this.#response = response;
  }
  get request(): string {
    return this.#request;
  }
  get response(): string {
    return this.#response;
  }
}

/** string stays text; ArrayBuffer and views become bytes (copied: the caller may reuse its buffer). */
export function messageBytes(message: unknown, where: string): string | Uint8Array {
  if (typeof message === "string") return message;
  if (message instanceof ArrayBuffer) return new Uint8Array(message.slice(0));
  if (ArrayBuffer.isView(message)) return new Uint8Array(message.buffer.slice(message.byteOffset, message.byteOffset + message.byteLength));
  throw new TypeError(`${where}: expected a string, ArrayBuffer or typed array, got ${describeValue(message)}.`);
}

// Cloudflare's typings (workers-types) add `webSocket` to ResponseInit; so do we, where Node's fetch
// types live (@types/node takes Response and ResponseInit from undici-types).
declare module "undici-types" {
  interface ResponseInit {
    /** With status 101: the client's end of a WebSocketPair (Cloudflare's extension). */
    webSocket?: WebSocket | null;
  }
}

const NodeResponse: typeof globalThis.Response = globalThis.Response;
const WEB_SOCKET = Symbol.for("sourdough.responseWebSocket");

/**
 * workerd's Response: status 101 is allowed with a `webSocket` (Node's refuses 101), and
 * `response.webSocket` reads it back. Responses made by Node (fetch) remain `instanceof Response`.
 */
export class Response extends NodeResponse {
  readonly [WEB_SOCKET]: unknown;
  constructor(body?: ConstructorParameters<typeof NodeResponse>[0], init?: ResponseInit & { webSocket?: unknown }) {
    const switching = init?.status === 101;
    if (switching && init?.webSocket == null) {
      throw new RangeError("Response: status 101 needs a webSocket: new Response(null, { status: 101, webSocket: client }) with client from new WebSocketPair().");
    }
    if (!switching && init?.webSocket != null) throw new RangeError(`Response: a webSocket needs status 101, got ${describeValue(init.status)}.`);
    super(switching ? null : body, switching ? { ...init, status: 200 } : init);
    this[WEB_SOCKET] = init?.webSocket ?? null;
    // Node refuses 101: the instance says 101 itself (own properties shadow the getters).
    if (switching) Object.defineProperties(this, { status: { value: 101 }, ok: { value: false } });
  }
  get webSocket(): WebSocket | null {
    return this[WEB_SOCKET] as WebSocket | null;
  }
  static override [Symbol.hasInstance](value: unknown): boolean {
    return value instanceof NodeResponse;
  }
}

/** @internal The webSocket a Response carries (ours, or null for any other Response). */
export function responseWebSocket(response: globalThis.Response): unknown {
  return (response as { [WEB_SOCKET]?: unknown })[WEB_SOCKET] ?? null;
}

// workerd has these as globals; installed once per process so a class written for Cloudflare runs as is.
const g = globalThis as Record<string, unknown>;
if (g.WebSocketPair === undefined) {
  g.WebSocketPair = WebSocketPair;
  g.WebSocketRequestResponsePair = WebSocketRequestResponsePair;
  g.Response = Response;
}
