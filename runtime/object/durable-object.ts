// The user-facing base class and the state object handed to it (Cloudflare's DurableObject and
// DurableObjectState). The runtime that constructs and calls objects is object-table.ts.
import type { DurableObjectId } from "../ids.ts";
import type { ObjectStorage } from "../storage/object-storage.ts";
import type { WebSocket, WebSocketRequestResponsePair } from "../websocket/web-socket.ts";

const BRAND = Symbol.for("sourdough.DurableObject");

/** What an object receives as `ctx`. */
export interface DurableObjectState {
  readonly id: DurableObjectId;
  readonly storage: ObjectStorage;
  /** Runs `fn` while no other event (call, fetch) is delivered to this object; resolves with its result. */
  blockConcurrencyWhile<T>(fn: () => Promise<T> | T): Promise<T>;
  /** Keeps the object alive until `promise` settles (work after the reply); a rejection resets the object. */
  waitUntil(promise: Promise<unknown>): void;
  /**
   * Beyond Cloudflare: aborted when the caller of the running method cancels it (its deadline passed,
   * its AbortSignal fired, or its connection closed). Read it at the start of the method, before the
   * first await (`const signal = this.ctx.signal`); later reads throw, because after an await
   * sourdough cannot tell which call is running.
   */
  readonly signal: AbortSignal;
  /**
   * Hibernation API: the object now handles `ws` (the end it keeps of a WebSocketPair) through
   * webSocketMessage/Close/Error; the socket stays open while the object is evicted or its host
   * restarts. Tags: at most 10, each ≤ 256 characters. Throws for a socket accepted before.
   */
  acceptWebSocket(ws: WebSocket, tags?: string[]): void;
  /** The hibernatable WebSockets of this object, or those carrying `tag`. */
  getWebSockets(tag?: string): WebSocket[];
  /** The tags given to acceptWebSocket. */
  getTags(ws: WebSocket): string[];
  /** Text messages equal to `pair.request` are answered with `pair.response` by serve()'s process, without waking the object. */
  setWebSocketAutoResponse(pair?: WebSocketRequestResponsePair | null): void;
  getWebSocketAutoResponse(): WebSocketRequestResponsePair | null;
  /** When `ws` was last auto-answered (as of the last event delivered to this object), or null. */
  getWebSocketAutoResponseTimestamp(ws: WebSocket): Date | null;
  /** A WebSocket handler running longer than this ends its event (ERR_DEADLINE_EXCEEDED). ≤ 7 days; 0 or nothing removes it. */
  setHibernatableWebSocketEventTimeout(timeoutMs?: number | null): void;
  getHibernatableWebSocketEventTimeout(): number | null;
}

/**
 * Base class for Durable Objects, with Cloudflare's shape: `constructor(ctx, env)`, `this.ctx`,
 * `this.env`. Every other public method is callable over RPC; `fetch(request)` answers `stub.fetch()`.
 */
export abstract class DurableObject<Env = unknown> {
  protected readonly ctx: DurableObjectState;
  protected readonly env: Env;
  constructor(ctx: DurableObjectState, env: Env) {
    this.ctx = ctx;
    this.env = env;
  }
  /** Answers `stub.fetch(request)`. Optional. */
  fetch?(request: Request): Response | Promise<Response>;
  /** A message from a WebSocket accepted with ctx.acceptWebSocket(): a string, or an ArrayBuffer for binary. */
  webSocketMessage?(ws: WebSocket, message: string | ArrayBuffer): void | Promise<void>;
  /** The client closed the WebSocket (or it was closed for it: code 1006 when the connection dropped). */
  webSocketClose?(ws: WebSocket, code: number, reason: string, wasClean: boolean): void | Promise<void>;
  webSocketError?(ws: WebSocket, error: unknown): void | Promise<void>;
  /** Marks subclasses across copies of this module (a host may load sourdough from another path). */
  static readonly [BRAND] = true;
}

export type DurableObjectClass<T extends DurableObject = DurableObject> = abstract new (ctx: DurableObjectState, env: never) => T;
export type ConcreteDurableObjectClass = new (ctx: DurableObjectState, env: unknown) => DurableObject;

/** True for a class that extends DurableObject (from any copy of the sourdough module). */
export function isDurableObjectClass(value: unknown): value is ConcreteDurableObjectClass {
  return typeof value === "function" && (value as unknown as Record<symbol, unknown>)[BRAND] === true;
}
