// What an isolate shares with its host's main thread through one SharedArrayBuffer, so the main
// thread can watch it without any message on the call path: a heartbeat its event loop bumps, its
// memory use, and the event it started last. The main thread's watchdog (host-main.ts) reads it; a
// stuck or bloated isolate cannot answer messages, but its shared memory stays readable.

import type { EventRecorder } from "../object/active-object.ts";

const BEAT = 0; // Int32 slots
const HEAP_MB = 1;
const EXTERNAL_MB = 2;
const LABEL_LENGTH = 3;
const HEADER_INTS = 4;
const LABEL_BYTES = 384; // namespace + 64-hex id + method, truncated if longer

/** How often an isolate's event loop beats (isolate-main.ts). */
export const BEAT_INTERVAL_MS = 20;

/** Bytes of the SharedArrayBuffer an isolate monitor needs. */
export const MONITOR_BYTES = HEADER_INTS * 4 + LABEL_BYTES;

/** The event an isolate started last: the likely culprit when it is stuck or out of memory. */
export interface EventLabel {
  namespace: string;
  objectId: string;
  method: string;
}

export class IsolateMonitor implements EventRecorder {
  readonly #ints: Int32Array;
  readonly #label: Uint8Array;
  readonly #encoder = new TextEncoder();
  readonly #methods = new Map<string, Uint8Array>();

  constructor(readonly buffer: SharedArrayBuffer) {
    this.#ints = new Int32Array(buffer, 0, HEADER_INTS);
    this.#label = new Uint8Array(buffer, HEADER_INTS * 4, LABEL_BYTES);
  }

  static create(): IsolateMonitor {
    return new IsolateMonitor(new SharedArrayBuffer(MONITOR_BYTES));
  }

  // ---- written by the isolate ----

  /** Called from a timer of the isolate's event loop: it stops while user code spins. */
  beat(): void {
    Atomics.add(this.#ints, BEAT, 1);
  }

  reportMemory(heapBytes: number, externalBytes: number): void {
    Atomics.store(this.#ints, HEAP_MB, Math.min(heapBytes / 1048576, 0x7fffffff) | 0);
    Atomics.store(this.#ints, EXTERNAL_MB, Math.min(externalBytes / 1048576, 0x7fffffff) | 0);
  }

  /** An object's part of its events' labels, made once when it is activated. */
  objectLabel(namespace: string, objectId: string): Uint8Array {
    return this.#encoder.encode(`${namespace}\n${objectId}\n`);
  }

  /**
   * Records the event about to run. Called at every event start, so it only copies bytes: the
   * object's label, made at activation, and the method's, encoded once per name.
   */
  started(objectLabel: Uint8Array, method: string): void {
    let name = this.#methods.get(method);
    if (name === undefined) {
      name = this.#encoder.encode(method);
      if (this.#methods.size < 10_000) this.#methods.set(method, name);
    }
    const length = objectLabel.length + name.length;
    if (length > LABEL_BYTES) {
      const { written } = this.#encoder.encodeInto(`${new TextDecoder().decode(objectLabel)}${method}`, this.#label);
      Atomics.store(this.#ints, LABEL_LENGTH, written);
      return;
    }
    this.#label.set(objectLabel, 0);
    this.#label.set(name, objectLabel.length);
    Atomics.store(this.#ints, LABEL_LENGTH, length);
  }

  // ---- read by the host's main thread ----

  get beats(): number {
    return Atomics.load(this.#ints, BEAT);
  }

  /** Heap and memory outside the heap (Buffers, typed arrays), in MiB, as last reported. */
  get memoryMb(): { heap: number; external: number } {
    return { heap: Atomics.load(this.#ints, HEAP_MB), external: Atomics.load(this.#ints, EXTERNAL_MB) };
  }

  get lastEvent(): EventLabel | undefined {
    const length = Atomics.load(this.#ints, LABEL_LENGTH);
    if (length === 0) return undefined;
    const [namespace = "", objectId = "", method = ""] = new TextDecoder().decode(this.#label.slice(0, length)).split("\n");
    return { namespace, objectId, method };
  }
}
