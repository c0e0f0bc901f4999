// Figures an isolate publishes for its host's main thread in a SharedArrayBuffer (like the watchdog's
// isolate-monitor.ts): objects resident, events queued, calls in flight, sockets open, heap used and
// limit. The isolate refreshes them from a timer, so reading them costs no message and works even
// while the isolate is busy or stuck.
const OBJECTS = 0;
const QUEUED = 1;
const IN_FLIGHT = 2;
const SOCKETS = 3;
const HEAP_USED = 4;
const HEAP_LIMIT = 5;
const UPDATED_AT = 6;
const FIELDS = 7;

/** How often an isolate refreshes its gauges (isolate-main.ts). */
export const GAUGE_INTERVAL_MS = 250;

export interface IsolateGaugeValues {
  objectsResident: number;
  eventsQueued: number;
  callsInFlight: number;
  socketsOpen: number;
  heapUsedBytes: number;
  heapLimitBytes: number;
  /** Date.now() of the last refresh (0: never). */
  updatedAt: number;
}

export class IsolateGauges {
  readonly #values: Float64Array;
  constructor(readonly buffer: SharedArrayBuffer) {
    this.#values = new Float64Array(buffer, 0, FIELDS);
  }

  static create(): IsolateGauges {
    return new IsolateGauges(new SharedArrayBuffer(FIELDS * 8));
  }

  /** Written by the isolate. Plain stores: a reader may see a mix of two refreshes, which is fine for gauges. */
  write(v: Omit<IsolateGaugeValues, "updatedAt">): void {
    const a = this.#values;
    a[OBJECTS] = v.objectsResident;
    a[QUEUED] = v.eventsQueued;
    a[IN_FLIGHT] = v.callsInFlight;
    a[SOCKETS] = v.socketsOpen;
    a[HEAP_USED] = v.heapUsedBytes;
    a[HEAP_LIMIT] = v.heapLimitBytes;
    a[UPDATED_AT] = Date.now();
  }

  read(): IsolateGaugeValues {
    const a = this.#values;
    return { objectsResident: a[OBJECTS]!, eventsQueued: a[QUEUED]!, callsInFlight: a[IN_FLIGHT]!, socketsOpen: a[SOCKETS]!, heapUsedBytes: a[HEAP_USED]!, heapLimitBytes: a[HEAP_LIMIT]!, updatedAt: a[UPDATED_AT]! };
  }
}
