// One activated object and its input gate. The table (object-table.ts) creates it, hands it events
// (calls, fetches, alarms) and discards it on a reset; this file decides when each event may start.
//
// The input gate, as workerd's: an event of an object starts only once the previous one has run to
// an await on something other than storage (or finished). Storage is synchronous underneath, so an
// awaited storage call settles within the microtask drain of the code that made it. The next event
// is therefore started from a process.nextTick queued by a microtask: Node runs it only when the
// microtask queue is empty, so every chain of storage awaits of the previous event has run, while an
// await on RPC, fetch or a timer (a later macrotask) lets the next event in. Events of one batch
// still start in the same macrotask. blockConcurrencyWhile() and transaction() hold the gate until
// their callbacks finish.
import { ErrorCode, SourdoughError } from "../errors.ts";
import type { ObjectStorage } from "../storage/object-storage.ts";
import type { DurableObject } from "./durable-object.ts";

/** Cloudflare's "Durable Object is overloaded" point, as a queue length. */
export const DEFAULT_MAX_QUEUED_EVENTS = 2000;

/** Something delivered to an object: a call, a fetch, an alarm. */
export interface ObjectEvent {
  /** "increment", "fetch", "alarm": for the watchdog's label and for messages. */
  readonly method: string;
  run(): void;
  fail(error: unknown): void;
  /** Made when the method reads ctx.signal; aborted when the caller cancels the call. */
  controller?: AbortController;
}

/**
 * Where objects say which event they start, as cheaply as possible (the isolate's watchdog reads it
 * when an event never yields): the object's part of the label is made once per activation.
 */
export interface EventRecorder {
  objectLabel(namespace: string, objectId: string): Uint8Array;
  started(objectLabel: Uint8Array, method: string): void;
}

export interface ActiveObjectOptions {
  namespace: string;
  objectId: string;
  /** `namespace:objectId`, the table's key. */
  key: string;
  storage: ObjectStorage;
  /** Most events that may wait for the gate; more are refused with ERR_OVERLOADED. */
  maxQueuedEvents: number;
  /** Told which event starts. */
  recorder?: EventRecorder;
}

export class ActiveObject {
  readonly namespace: string;
  readonly objectId: string;
  readonly key: string;
  readonly storage: ObjectStorage;
  instance: DurableObject | undefined;
  /** blockConcurrencyWhile callbacks running: while > 0 the gate is held. */
  blockers = 0;
  /** Events delivered or waiting and not yet answered. */
  inFlight = 0;
  lastActive = Date.now();
  /** Set when committing this object's writes failed: the answers that waited for them fail too. */
  commitFailure: Error | undefined;
  /** The event whose synchronous part is running now (ctx.signal reads it). */
  current: ObjectEvent | undefined;
  readonly waiting = new Set<Promise<unknown>>();
  readonly #options: ActiveObjectOptions;
  /** Events waiting for the gate, in arrival order. */
  readonly #queue: ObjectEvent[] = [];
  /** An event started and the microtasks it queued have not all run yet: the next one waits. */
  #draining = false;
  /** Counts started events, so a drain notice of an earlier event cannot open the gate early. */
  #started = 0;
  #discarded = false;
  readonly #label: Uint8Array | undefined;

  constructor(options: ActiveObjectOptions) {
    this.#options = options;
    ({ namespace: this.namespace, objectId: this.objectId, key: this.key, storage: this.storage } = options);
    this.#label = options.recorder?.objectLabel(this.namespace, this.objectId);
  }

  /** Records that `method` (an event, or "constructor") starts running on this object. */
  starting(method: string): void {
    if (this.#label !== undefined) this.#options.recorder!.started(this.#label, method);
  }

  /** Events waiting for the gate. */
  get queued(): number {
    return this.#queue.length;
  }

  /** Runs `event` now if the gate is open and nothing waits before it; otherwise queues it. */
  deliver(event: ObjectEvent): void {
    if (this.#queue.length === 0 && this.#gateOpen()) {
      this.inFlight++;
      return this.#start(event);
    }
    const max = this.#options.maxQueuedEvents;
    if (this.#queue.length >= max) {
      return event.fail(
        new SourdoughError(
          ErrorCode.OVERLOADED,
          `${this.namespace}.${event.method}: Durable Object is overloaded: ${this.#queue.length} events of object ${this.objectId} are already waiting for it (maxQueuedEvents: ${max}). Retry with backoff, or spread the load over more objects.`,
          { retryable: true },
        ),
      );
    }
    this.inFlight++;
    this.#queue.push(event);
  }

  /** A blockConcurrencyWhile or transaction() callback finished: the next event may start once the code awaiting it has run. */
  gateReleased(): void {
    if (this.#queue.length > 0) afterDrain(() => this.#next());
  }

  /** Removes `event` if it is still waiting (a canceled call); false if it already started. */
  dropQueued(event: ObjectEvent): boolean {
    const index = this.#queue.indexOf(event);
    if (index < 0) return false;
    this.#queue.splice(index, 1);
    this.inFlight--;
    return true;
  }

  /** The object was reset: every waiting event fails with `error`, and none starts any more. */
  discard(error: unknown): void {
    this.#discarded = true;
    const queued = this.#queue.splice(0);
    this.inFlight -= queued.length;
    for (const event of queued) event.fail(error);
  }

  #gateOpen(): boolean {
    return !this.#draining && this.blockers === 0 && !this.storage.holdsInputGate;
  }

  #start(event: ObjectEvent): void {
    this.#draining = true;
    const started = ++this.#started;
    afterDrain(() => {
      if (this.#started !== started) return;
      this.#draining = false;
      this.#next();
    });
    this.starting(event.method);
    this.current = event;
    try {
      event.run();
    } finally {
      this.current = undefined;
    }
  }

  #next(): void {
    if (this.#discarded || this.#queue.length === 0 || !this.#gateOpen()) return;
    this.#start(this.#queue.shift()!);
  }
}

// Runs `fn` once every microtask queued so far (and every one they queue) has run: a microtask queues
// a tick, and Node runs the tick queue only when the microtask queue is empty.
function afterDrain(fn: () => void): void {
  queueMicrotask(() => process.nextTick(fn));
}
