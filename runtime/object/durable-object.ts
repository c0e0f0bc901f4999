// The user-facing base class and the state object handed to it (Cloudflare's DurableObject and
// DurableObjectState). The runtime that constructs and calls objects is object-table.ts.
import type { DurableObjectId } from "../ids.ts";
import type { ObjectStorage } from "../storage/object-storage.ts";

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
  /** Marks subclasses across copies of this module (a host may load sourdough from another path). */
  static readonly [BRAND] = true;
}

export type DurableObjectClass<T extends DurableObject = DurableObject> = abstract new (ctx: DurableObjectState, env: never) => T;
export type ConcreteDurableObjectClass = new (ctx: DurableObjectState, env: unknown) => DurableObject;

/** True for a class that extends DurableObject (from any copy of the sourdough module). */
export function isDurableObjectClass(value: unknown): value is ConcreteDurableObjectClass {
  return typeof value === "function" && (value as unknown as Record<symbol, unknown>)[BRAND] === true;
}
