/**
 * The HTTP load generator of scenarios 4 and 5, in its own process so that load generation never
 * shares the server's event loop. Both ends live here: `Driver` (used by bench/http-load.ts) forks
 * this file (`node --import tsx … --driver`) and sends it one job at a time over the IPC channel;
 * the child drives autocannon (installed in bench/peers/) and answers with the rate and the
 * latency percentiles of the measured window.
 *
 * Requests cycle through `paths` with one counter shared by all connections, so consecutive
 * requests (on any connection) name consecutive objects: with 1000 paths and 64 connections, the
 * 64 requests in flight go to 64 different objects.
 *
 * autocannon's own latency histogram has 1 ms resolution; this driver keeps every response time
 * of the window (autocannon reports them as float ms) and computes p50/p99 in µs itself.
 */
import { fork } from "node:child_process";
import type { ChildProcess } from "node:child_process";
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
  sampleInt: number;
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
const repoRoot = path.resolve(here, "..");
const driverPath = fileURLToPath(import.meta.url);
const DRIVER_READY_MS = 20_000;
const peersRequire = createRequire(path.join(here, "peers", "package.json"));
/** A response slower than this counts as a timeout (s): generous, creating objects on a busy disk is slow. */
const REQUEST_TIMEOUT_S = 30;
/**
 * autocannon ends a run (and reports) only on its sampling tick, 1 s by default: a run would go
 * on loading the server for up to a second after its window, and `amount` runs would end on a
 * whole second. 100 ms bounds that tail.
 */
const SAMPLE_INTERVAL_MS = 100;

function bounded<T>(what: string, ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`bench: ${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

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
        sampleInt: SAMPLE_INTERVAL_MS,
        requests: [{ method: "GET", setupRequest }],
        ...(job.amount !== undefined ? { amount: job.amount } : { duration: (job.warmupMs + job.measureMs) / 1000 + 0.05 }),
      },
      (error, result) => {
        for (const t of timers) clearTimeout(t);
        if (error !== null && error !== undefined) return reject(error instanceof Error ? error : new Error(String(error)));
        if (job.amount !== undefined && windowMs === 0) {
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
          elapsedMs: job.amount !== undefined ? windowMs : performance.now() - t0,
        });
      },
    );
    instance.on("response", (_client, statusCode, _bytes, responseTimeMs) => {
      total++;
      if (total === job.amount) {
        // The last response of an `amount` run: its end, not autocannon's next tick.
        windowEndUs = nowUs();
        cpuEnd = cpuUs();
        windowMs = performance.now() - t0;
      }
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

// ---------------------------------------------------------------------------------------------------
// The parent's end: forks this file and sends it one job at a time.

export class Driver {
  readonly #child: ChildProcess;
  readonly #pending = new Map<number, { resolve: (r: LoadResult) => void; reject: (e: Error) => void }>();
  #nextId = 1;
  #exited: string | undefined;
  readonly ready: Promise<void>;

  constructor(log: (text: string) => void) {
    this.#child = fork(driverPath, ["--driver"], {
      cwd: repoRoot, // so that `--import tsx` resolves against this package's node_modules
      execArgv: ["--import", "tsx"],
      stdio: ["ignore", "pipe", "pipe", "ipc"],
    });
    for (const stream of [this.#child.stdout, this.#child.stderr]) {
      stream?.setEncoding("utf8");
      stream?.on("data", (text: string) => {
        for (const line of text.replace(/\n$/, "").split("\n")) log(`[load driver] ${line}`);
      });
    }
    this.ready = bounded(
      "starting the load driver",
      DRIVER_READY_MS,
      new Promise<void>((resolve, reject) => {
        this.#child.once("error", reject);
        this.#child.once("exit", (code, signal) => reject(new Error(`load driver exited before ready (code ${String(code)}, signal ${String(signal)})`)));
        this.#child.once("message", () => resolve());
      }),
    );
    this.#child.on("message", (message: unknown) => {
      const reply = message as DriverReply;
      const waiter = this.#pending.get(reply.id);
      if (waiter === undefined) return;
      this.#pending.delete(reply.id);
      if (reply.ok) waiter.resolve(reply.result);
      else waiter.reject(new Error(`load driver: ${reply.error}`));
    });
    this.#child.on("exit", (code, signal) => {
      this.#exited = `load driver exited (code ${String(code)}, signal ${String(signal)})`;
      for (const w of this.#pending.values()) w.reject(new Error(this.#exited));
      this.#pending.clear();
    });
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  run(job: Omit<LoadJob, "id">, budgetMs: number): Promise<LoadResult> {
    if (this.#exited !== undefined) return Promise.reject(new Error(this.#exited));
    const id = this.#nextId++;
    const result = new Promise<LoadResult>((resolve, reject) => this.#pending.set(id, { resolve, reject }));
    this.#child.send({ ...job, id } satisfies LoadJob);
    return bounded(`load job (${job.connections} connections on ${job.url})`, budgetMs, result);
  }

  async close(): Promise<void> {
    if (this.#exited !== undefined || this.#child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => this.#child.once("exit", () => resolve()));
    this.#child.kill("SIGTERM");
    await bounded("stopping the load driver", 5_000, exited).catch(() => {
      this.#child.kill("SIGKILL");
    });
  }
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
