/**
 * The HTTP load generator of scenarios 4 and 5, in its own process so that load generation never
 * shares the server's event loop. bench/http-load.ts forks it (`node --import tsx`) and sends it
 * one job at a time over the IPC channel; it drives autocannon (installed in bench/peers/) and
 * answers with the rate and the latency percentiles of the measured window.
 *
 * Requests cycle through `paths` with one counter shared by all connections, so consecutive
 * requests (on any connection) name consecutive objects: with 1000 paths and 64 connections, the
 * 64 requests in flight go to 64 different objects.
 *
 * autocannon's own latency histogram has 1 ms resolution; this driver keeps every response time
 * of the window (autocannon reports them as float ms) and computes p50/p99 in µs itself.
 */
import { createRequire } from "node:module";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

export interface LoadJob {
  id: number;
  /** Origin, e.g. http://127.0.0.1:8787 */
  url: string;
  /** Request paths, used round-robin (one counter for all connections). */
  paths: string[];
  connections: number;
  warmupMs: number;
  measureMs: number;
  /** When set: send exactly this many requests (no window), e.g. to create every object once. */
  amount?: number;
}

export interface LoadResult {
  /** 2xx responses per second in the measured window (with `amount`: over the whole run). */
  rps: number;
  p50Us: number;
  p99Us: number;
  /** 2xx responses in the measured window. */
  measured: number;
  /** Responses over the whole run (warm-up included), any status. */
  total: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  /** The measured window, µs of the monotonic clock (process.hrtime), for windowed profiles. */
  windowStartUs: number;
  windowEndUs: number;
  /** CPU time of this process over the window ÷ the window's length: 1 = one core saturated. */
  driverCpuShare: number;
  elapsedMs: number;
}

export type DriverReply = { id: number; ok: true; result: LoadResult } | { id: number; ok: false; error: string };

/** The subset of autocannon's API this driver uses (it ships no types). */
interface AutocannonRequest {
  method?: string;
  path?: string;
  setupRequest?: (req: { path?: string; method?: string }) => { path?: string; method?: string };
}
interface AutocannonOptions {
  url: string;
  connections: number;
  duration?: number;
  amount?: number;
  timeout: number;
  requests: AutocannonRequest[];
}
interface AutocannonResult {
  errors: number;
  timeouts: number;
}
interface AutocannonInstance {
  on(event: "response", listener: (client: unknown, statusCode: number, resBytes: number, responseTimeMs: number) => void): void;
  on(event: "reqError", listener: (error: unknown) => void): void;
  stop(): void;
}
type Autocannon = (opts: AutocannonOptions, done: (error: unknown, result: AutocannonResult) => void) => AutocannonInstance;

const here = path.dirname(fileURLToPath(import.meta.url));
const peersRequire = createRequire(path.join(here, "peers", "package.json"));
/** A response slower than this counts as a timeout (s). */
const REQUEST_TIMEOUT_S = 10;

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[idx] as number;
}

function nowUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

function cpuUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

export function runLoad(job: LoadJob): Promise<LoadResult> {
  const autocannon = peersRequire("autocannon") as Autocannon;
  return new Promise<LoadResult>((resolve, reject) => {
    const paths = job.paths;
    if (paths.length === 0) return reject(new Error("no request paths"));
    let cursor = 0;
    const setupRequest = (req: { path?: string; method?: string }): { path?: string; method?: string } => {
      req.path = paths[cursor] as string;
      cursor = cursor + 1 === paths.length ? 0 : cursor + 1;
      return req;
    };
    let samples = new Float64Array(1 << 16);
    let measured = 0;
    let total = 0;
    let non2xx = 0;
    let reqErrors = 0;
    let measuring = job.amount !== undefined;
    const t0 = performance.now();
    let windowStartUs = nowUs();
    let windowEndUs = 0;
    let cpuStart = cpuUs();
    let cpuEnd = 0;
    let windowMs = 0;
    const timers: NodeJS.Timeout[] = [];
    const instance = autocannon(
      {
        url: job.url,
        connections: job.connections,
        timeout: REQUEST_TIMEOUT_S,
        requests: [{ method: "GET", setupRequest }],
        ...(job.amount !== undefined ? { amount: job.amount } : { duration: (job.warmupMs + job.measureMs) / 1000 + 0.05 }),
      },
      (error, result) => {
        for (const t of timers) clearTimeout(t);
        if (error !== null && error !== undefined) return reject(error instanceof Error ? error : new Error(String(error)));
        if (job.amount !== undefined) {
          windowEndUs = nowUs();
          cpuEnd = cpuUs();
          windowMs = performance.now() - t0;
        }
        const sorted = samples.subarray(0, measured).sort();
        resolve({
          rps: windowMs > 0 ? (measured * 1000) / windowMs : Number.NaN,
          p50Us: percentile(sorted, 0.5),
          p99Us: percentile(sorted, 0.99),
          measured,
          total,
          non2xx,
          errors: Math.max(result.errors, reqErrors),
          timeouts: result.timeouts,
          windowStartUs,
          windowEndUs,
          driverCpuShare: windowMs > 0 ? (cpuEnd - cpuStart) / 1000 / windowMs : Number.NaN,
          elapsedMs: performance.now() - t0,
        });
      },
    );
    instance.on("response", (_client, statusCode, _bytes, responseTimeMs) => {
      total++;
      if (statusCode < 200 || statusCode > 299) {
        non2xx++;
        return;
      }
      if (!measuring) return;
      if (measured === samples.length) {
        const grown = new Float64Array(samples.length * 2);
        grown.set(samples);
        samples = grown;
      }
      samples[measured++] = responseTimeMs * 1000;
    });
    instance.on("reqError", () => {
      reqErrors++;
    });
    if (job.amount === undefined) {
      let tStart = 0;
      timers.push(
        setTimeout(() => {
          measuring = true;
          tStart = performance.now();
          windowStartUs = nowUs();
          cpuStart = cpuUs();
          timers.push(
            setTimeout(() => {
              measuring = false;
              windowMs = performance.now() - tStart;
              windowEndUs = nowUs();
              cpuEnd = cpuUs();
            }, job.measureMs),
          );
        }, job.warmupMs),
      );
    }
  });
}

// Child-process entry: one job at a time from the parent over IPC.
if (process.send !== undefined && process.argv.includes("--driver")) {
  const send = process.send.bind(process);
  process.on("message", (message: unknown) => {
    const job = message as LoadJob;
    runLoad(job).then(
      (result) => send({ id: job.id, ok: true, result } satisfies DriverReply),
      (error: unknown) => send({ id: job.id, ok: false, error: error instanceof Error ? error.message : String(error) } satisfies DriverReply),
    );
  });
  // The parent going away (crash, kill) ends the driver too.
  process.on("disconnect", () => process.exit(0));
  send({ ready: true });
}
