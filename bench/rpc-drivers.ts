// The drivers every RPC benchmark shares (bench/run.ts, bench/containment.ts): sequential round
// trips, a fixed number of calls in flight for a fixed window, and the statistics over rounds.
// Each script owns its clusters, rounds and tables.
import * as os from "node:os";
import type { DurableObjectStub } from "sourdough";
import type { BenchCounter } from "./objects.ts";

export type BenchMethod = "increment" | "incrementStored";
/** Every BenchCounter method that takes no argument and returns a number. */
export type ThroughputMethod = BenchMethod | "incrementStoredAsync" | "stored";
export type Stub = DurableObjectStub<BenchCounter>;

/** After a throughput window closes, the calls still in flight must come back within this. */
export const DRAIN_BUDGET_MS = 10_000;
/** Sequential phases: a fixed allowance plus this much per call. */
export const SEQUENTIAL_BUDGET_BASE_MS = 10_000;
export const SEQUENTIAL_BUDGET_US_PER_CALL = 2_000;

export interface Stats {
  median: number;
  min: number;
  max: number;
}

export function stats(values: number[]): Stats {
  if (values.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN };
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
  return { median, min: s[0] as number, max: s[s.length - 1] as number };
}

export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[idx] as number;
}

export function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

export function bounded<T>(what: string, ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`bench: ${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export function checkNumber(value: unknown, where: string): number {
  if (typeof value !== "number" || !Number.isFinite(value)) throw new Error(`bench: ${where} returned ${String(value)}, expected a number`);
  return value;
}

// ---------------------------------------------------------------------------------------------------
// RPC drivers

/** `await stub[method]()` one at a time; RTT samples in µs (warm-up excluded). */
export async function rpcSequential(stub: Stub, method: BenchMethod, calls: number, warmup: number): Promise<{ p50: number; p99: number }> {
  const deadline = performance.now() + SEQUENTIAL_BUDGET_BASE_MS + ((calls + warmup) * SEQUENTIAL_BUDGET_US_PER_CALL) / 1000;
  const where = `sequential ${method}()`;
  let last = checkNumber(await stub[method](), where);
  for (let i = 0; i < warmup; i++) {
    const v = checkNumber(await stub[method](), where);
    if (v !== last + 1) throw new Error(`bench: ${where}: expected ${last + 1}, got ${v}`);
    last = v;
  }
  const samples = new Float64Array(calls);
  for (let i = 0; i < calls; i++) {
    const t0 = process.hrtime.bigint();
    const v = await stub[method]();
    const t1 = process.hrtime.bigint();
    samples[i] = Number(t1 - t0) / 1000;
    if (v !== last + 1) throw new Error(`bench: ${where}: expected ${last + 1}, got ${String(v)}`);
    last = v;
    if ((i & 1023) === 0 && performance.now() > deadline) throw new Error(`bench: ${where} is too slow (over its time budget)`);
  }
  samples.sort();
  return { p50: percentile(samples, 0.5), p99: percentile(samples, 0.99) };
}

/**
 * Keeps exactly `inFlight` calls outstanding, round-robin over `stubs` (a new call starts whenever
 * one resolves), for `warmupMs` + `measureMs`; returns the calls completed per second in the
 * measured window, and how many calls were made in all (warm-up and drain included: every one
 * completed). Any failed call fails the run.
 */
export function rpcThroughput(stubs: Stub[], method: ThroughputMethod, inFlight: number, warmupMs: number, measureMs: number): Promise<{ rate: number; calls: number }> {
  return new Promise<{ rate: number; calls: number }>((resolve, reject) => {
    let cursor = 0;
    let outstanding = 0;
    let calls = 0;
    let measuring = false;
    let stopping = false;
    let settled = false;
    let count = 0;
    let tStart = 0n;
    let rate = 0;
    const timers: NodeJS.Timeout[] = [];
    const finish = (error: Error | undefined): void => {
      if (settled) return;
      settled = true;
      stopping = true;
      for (const t of timers) clearTimeout(t);
      if (error !== undefined) reject(error);
      else resolve({ rate, calls });
    };
    const onResult = (value: number): void => {
      outstanding--;
      if (settled) return;
      if (typeof value !== "number") return finish(new Error(`bench: ${method}() returned ${String(value)}`));
      if (measuring) count++;
      if (!stopping) issue();
      else if (outstanding === 0) finish(undefined);
    };
    const onError = (error: unknown): void => {
      outstanding--;
      finish(error instanceof Error ? error : new Error(String(error)));
    };
    const issue = (): void => {
      const stub = stubs[cursor] as Stub;
      cursor = cursor + 1 === stubs.length ? 0 : cursor + 1;
      outstanding++;
      calls++;
      stub[method]().then(onResult, onError);
    };
    timers.push(
      setTimeout(() => {
        measuring = true;
        count = 0;
        tStart = process.hrtime.bigint();
        timers.push(
          setTimeout(() => {
            const elapsed = Number(process.hrtime.bigint() - tStart) / 1e9;
            measuring = false;
            stopping = true;
            rate = count / elapsed;
            if (outstanding === 0) finish(undefined);
            else timers.push(setTimeout(() => finish(new Error(`bench: ${outstanding} ${method}() calls still in flight ${DRAIN_BUDGET_MS} ms after the window closed`)), DRAIN_BUDGET_MS));
          }, measureMs),
        );
      }, warmupMs),
    );
    for (let k = 0; k < inFlight; k++) issue();
  });
}

/** Calls `method` once on every stub, at most `inFlight` at a time; resolves with the elapsed ms. */
export async function callEach(stubs: Stub[], method: BenchMethod, inFlight: number): Promise<number> {
  const t0 = performance.now();
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < stubs.length) {
      const stub = stubs[next++] as Stub;
      checkNumber(await stub[method](), `${method}()`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, stubs.length) }, lane));
  return performance.now() - t0;
}

/** Share of all cores' time that was busy (anything but idle/iowait) over `ms`: other load on the machine. */
export async function machineBusy(ms: number): Promise<number> {
  const sample = (): { busy: number; total: number } => {
    let busy = 0;
    let total = 0;
    for (const c of os.cpus()) {
      const t = c.times;
      busy += t.user + t.nice + t.sys + t.irq;
      total += t.user + t.nice + t.sys + t.irq + t.idle;
    }
    return { busy, total };
  };
  const a = sample();
  await new Promise((r) => setTimeout(r, ms));
  const b = sample();
  return b.total > a.total ? (b.busy - a.busy) / (b.total - a.total) : Number.NaN;
}
