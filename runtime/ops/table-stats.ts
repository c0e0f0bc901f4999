// What one object table counts about its own work, for /metrics, /health and the dashboard. The hot
// path only bumps plain numbers in per-(class, method) records found through two Map lookups; every
// sum, label and percentile is worked out when someone asks (snapshot()), never per call.
import { describeValue } from "../errors.ts";

/** Upper bounds (ms) of the call latency histogram buckets; the last bucket is +Inf. */
export const LATENCY_BOUNDS_MS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];
/** Distinct (class, method) and (class) records kept; past this, calls count under "(other)". */
const MAX_RECORDS = 2000;
const RECENT_RESETS = 20;

/** Timed calls per second an isolate aims at; above that rate, one call in `stride` is timed. */
const TIMED_PER_SECOND = 5000;

/**
 * Which calls are timed. Reading the clock costs more than everything else counted per call (two
 * performance.now() were ~8 % of a call at 220k calls/s on one isolate, bench/metrics.ts), so above
 * TIMED_PER_SECOND calls/s only one call in `stride` is timed, and it counts `stride` times in the
 * histogram: every call is counted, latency is sampled. Below that rate every call is timed.
 */
export class CallSampler {
  stride = 1;
  #countdown = 1;
  #calls = 0;
  #at = performance.now();

  /** True when this call is to be timed. */
  timeThis(): boolean {
    this.#calls++;
    if (--this.#countdown > 0) return false;
    this.#countdown = this.stride;
    return true;
  }

  /** Re-derives the stride from the call rate since the last retune (the isolate's gauge timer). */
  retune(): void {
    const now = performance.now();
    const rate = (this.#calls * 1000) / Math.max(1, now - this.#at);
    this.stride = Math.max(1, Math.round(rate / TIMED_PER_SECOND));
    this.#calls = 0;
    this.#at = now;
  }
}

/** Counters of one (class, method) on one table. */
export class MethodStats {
  calls = 0;
  inFlight = 0;
  sumMs = 0;
  /** Calls per latency bucket (not cumulative), LATENCY_BOUNDS_MS.length + 1 of them. */
  readonly buckets = new Array<number>(LATENCY_BOUNDS_MS.length + 1).fill(0);
  readonly errors = new Map<string, number>();
  readonly #sampler: CallSampler;
  constructor(
    readonly namespace: string,
    readonly method: string,
    sampler: CallSampler,
  ) {
    this.#sampler = sampler;
  }

  /** A call arrives; returns its start time for done(), or -1 when this call is not timed. */
  start(): number {
    this.calls++;
    this.inFlight++;
    return this.#sampler.timeThis() ? performance.now() : -1;
  }

  /** The call answered; `error` is what it failed with, if it did. */
  done(startedAt: number, error?: unknown): void {
    this.inFlight--;
    if (error !== undefined) this.failed(error);
    if (startedAt < 0) return;
    const ms = performance.now() - startedAt;
    const weight = this.#sampler.stride;
    this.sumMs += ms * weight;
    let i = 0;
    while (i < LATENCY_BOUNDS_MS.length && ms > LATENCY_BOUNDS_MS[i]!) i++;
    this.buckets[i]! += weight;
  }

  /** A call refused before it ran (unknown class, bad id, overloaded...). */
  refused(error: unknown): void {
    this.calls++;
    this.failed(error);
  }

  failed(error: unknown): void {
    const code = errorCode(error);
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
  }
}

/** Counters of one class on one table. */
export interface ClassCounters {
  activations: number;
  evictions: number;
  resets: number;
  storageBytesWritten: number;
}

export interface ResetRecord {
  at: number;
  namespace: string;
  objectId: string;
  error: string;
}

/** A table's counters as plain data (crosses threads and processes). */
export interface TableSnapshot {
  methods: Array<{ namespace: string; method: string; calls: number; inFlight: number; sumMs: number; buckets: number[]; errors: Record<string, number> }>;
  classes: Array<{ namespace: string; resident: number } & ClassCounters>;
  socketsOpen: number;
  eventsQueued: number;
  callsInFlight: number;
  objectsResident: number;
  recentResets: ResetRecord[];
}

/** What the table itself reports at snapshot time (it owns the objects and connections). */
export interface TableCensus {
  residentByClass: Map<string, number>;
  eventsQueued: number;
  socketsOpen: number;
}

export class TableStats {
  readonly #methods = new Map<string, Map<string, MethodStats>>();
  readonly #classes = new Map<string, ClassCounters>();
  #records = 0;
  readonly #resets: ResetRecord[] = [];
  /** Told of every object reset (the isolate logs it). */
  onReset: ((record: ResetRecord, error: unknown) => void) | undefined;
  readonly #perCall: boolean;
  #last: MethodStats | undefined; // calls come in runs of one method: skip the lookups
  /** Which calls are timed (retune() it from a timer). */
  readonly sampler = new CallSampler();

  /** `perCall: false` counts no call (no latency, no errors): the `metrics: false` option. */
  constructor(options: { perCall: boolean } = { perCall: true }) {
    this.#perCall = options.perCall;
  }

  /** The record of (namespace, method), made on first use; undefined when calls are not counted. */
  method(namespace: string, method: string): MethodStats | undefined {
    if (!this.#perCall) return undefined;
    const last = this.#last;
    if (last !== undefined && last.method === method && last.namespace === namespace) return last;
    return (this.#last = this.#method(namespace, method));
  }

  #method(namespace: string, method: string): MethodStats {
    let byMethod = this.#methods.get(namespace);
    if (byMethod === undefined) {
      if (this.#records >= MAX_RECORDS) return this.#method("(other)", "(other)");
      byMethod = new Map();
      this.#methods.set(namespace, byMethod);
    }
    let stats = byMethod.get(method);
    if (stats === undefined) {
      if (this.#records >= MAX_RECORDS && namespace !== "(other)") return this.#method("(other)", "(other)");
      stats = new MethodStats(namespace, method, this.sampler);
      byMethod.set(method, stats);
      this.#records++;
    }
    return stats;
  }

  #class(namespace: string): ClassCounters {
    let c = this.#classes.get(namespace);
    if (c === undefined) {
      c = { activations: 0, evictions: 0, resets: 0, storageBytesWritten: 0 };
      this.#classes.set(namespace, c);
    }
    return c;
  }

  activated(namespace: string): void {
    this.#class(namespace).activations++;
  }

  evicted(namespace: string, storageBytesWritten: number): void {
    const c = this.#class(namespace);
    c.evictions++;
    c.storageBytesWritten += storageBytesWritten;
  }

  /** An object's database closed (eviction, reset, table close): its byte count moves to the class. */
  closed(namespace: string, storageBytesWritten: number): void {
    this.#class(namespace).storageBytesWritten += storageBytesWritten;
  }

  reset(namespace: string, objectId: string, error: unknown): void {
    this.#class(namespace).resets++;
    const record: ResetRecord = { at: Date.now(), namespace, objectId, error: errorText(error) };
    this.#resets.push(record);
    if (this.#resets.length > RECENT_RESETS) this.#resets.shift();
    this.onReset?.(record, error);
  }

  /** Calls started and not answered, over every method. */
  inFlight(): number {
    let n = 0;
    for (const byMethod of this.#methods.values()) for (const m of byMethod.values()) n += m.inFlight;
    return n;
  }

  /** Plain data for the host (or the coordinator, in-process). `live` adds the bytes of open objects. */
  snapshot(census: TableCensus, liveBytes: Map<string, number>): TableSnapshot {
    const methods: TableSnapshot["methods"] = [];
    let callsInFlight = 0;
    for (const byMethod of this.#methods.values()) {
      for (const m of byMethod.values()) {
        callsInFlight += m.inFlight;
        methods.push({ namespace: m.namespace, method: m.method, calls: m.calls, inFlight: m.inFlight, sumMs: m.sumMs, buckets: [...m.buckets], errors: Object.fromEntries(m.errors) });
      }
    }
    const names = new Set([...this.#classes.keys(), ...census.residentByClass.keys()]);
    const classes = [...names].map((namespace) => {
      const c = this.#classes.get(namespace) ?? { activations: 0, evictions: 0, resets: 0, storageBytesWritten: 0 };
      return { namespace, resident: census.residentByClass.get(namespace) ?? 0, ...c, storageBytesWritten: c.storageBytesWritten + (liveBytes.get(namespace) ?? 0) };
    });
    let objectsResident = 0;
    for (const n of census.residentByClass.values()) objectsResident += n;
    return { methods, classes, socketsOpen: census.socketsOpen, eventsQueued: census.eventsQueued, callsInFlight, objectsResident, recentResets: [...this.#resets] };
  }
}

function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string" && /^[A-Z0-9_]{1,64}$/.test(code)) return code;
  if (error instanceof Error) return /^[A-Za-z]{1,64}$/.test(error.name) ? error.name : "Error";
  return "thrown";
}

function errorText(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return describeValue(error);
}
