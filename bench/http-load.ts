/**
 * Scenarios 4 and 5 of the benchmark: HTTP end to end.
 *
 *   4  sourdough: `serve()` (this process) running bench/http-app.ts's worker, whose
 *      `env.COUNTER.getByName(name).increment()` does one committed SQLite KV write, on 2 hosts
 *      × 1 isolate, storage in a temp dir.
 *   5  workerd via miniflare: the same worker and Durable Object (bench/peers/workerd-app.js),
 *      SQLite-backed, persisted in a temp dir.
 *
 * Both are driven by the same load generator (autocannon in a child process,
 * bench/http-load-driver.ts) with the same request pattern: `GET /increment?name=<object>` at 1
 * and 64 connections, over 1 object (`hot`) and over 1000 objects (`obj-0` … `obj-999`, one
 * shared round-robin counter, so consecutive requests name different objects). Per round and
 * case: A = workerd, then B = sourdough; the ratio sourdough ÷ workerd pairs the runs of the same
 * round. Servers start once, before round 1; every object is created (first request) and every
 * case warmed up before round 1. After the rounds, `/tally` on each server checks that the
 * 1000-object runs really reached all 1000 objects.
 *
 * bench/run.ts owns the registry and the table; this module defines and records its figures,
 * and adds notes, JSON and profile windows. Missing peers become "skipped: <reason>" rows.
 */
import { fork } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { serve } from "sourdough";
import type { ServeHandle } from "sourdough";
import { Counter, worker } from "./http-app.ts";
import type { DriverReply, LoadJob, LoadResult } from "./http-load-driver.ts";
import { ensurePeers, type PeersStatus } from "./peers-install.ts";
import { startWorkerdPeer, type WorkerdPeer } from "./workerd-peer.ts";

// ---------------------------------------------------------------------------------------------------
// Settings and the registry seam

export interface HttpCase {
  id: string;
  connections: number;
  objects: number;
}

export interface HttpSettings {
  warmupMs: number;
  measureMs: number;
  cases: HttpCase[];
  hostCount: number;
  isolatesPerHost: number;
}

const CASES: HttpCase[] = [
  { id: "c1.o1", connections: 1, objects: 1 },
  { id: "c64.o1", connections: 64, objects: 1 },
  { id: "c1.o1000", connections: 1, objects: 1000 },
  { id: "c64.o1000", connections: 64, objects: 1000 },
];

export const HTTP_QUICK: HttpSettings = { warmupMs: 300, measureMs: 1_000, cases: CASES, hostCount: 2, isolatesPerHost: 1 };
export const HTTP_FULL: HttpSettings = { warmupMs: 500, measureMs: 3_000, cases: CASES, hostCount: 2, isolatesPerHost: 1 };

export type HttpUnit = "req/s" | "µs" | "ms";

/** What bench/run.ts's Registry offers this module. */
export interface FigureSink {
  define(key: string, label: string, unit: HttpUnit, once?: boolean): void;
  record(key: string, value: number): void;
  skip(key: string, reason: string): void;
  ratio(num: string, den: string, label: string): void;
  targets: Array<{ figure: string; ratio?: string; op: "<=" | ">="; value: number; text: string }>;
}

export interface ProfileOwner {
  label: string;
  pids: number[];
  threadIds: number[][];
  sections: Array<{ title: string; windows: Array<[number, number]> }>;
}

export interface HttpOptions {
  log: (text: string) => void;
  profile: boolean;
  profilesDir: string;
}

const START_BUDGET_MS = 40_000;
const CLOSE_BUDGET_MS = 15_000;
const DRIVER_READY_MS = 20_000;
/** A load job may take this long beyond its own windows (connect, drain, autocannon start-up). */
const JOB_SLACK_MS = 30_000;
const PRIME_BUDGET_MS = 120_000;
const HOT = "hot";
const PREFIX = "obj-";
const TALLY_CHUNK = 200;

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, "..");
const driverPath = path.join(here, "http-load-driver.ts");
const appModule = new URL("./http-app.ts", import.meta.url);

type Side = "sd" | "wd";
const SIDE_TEXT: Record<Side, string> = { sd: "sourdough", wd: "workerd" };

function key(side: Side, c: HttpCase, what: "rps" | "p50" | "p99"): string {
  return `http.${side}.${c.id}.${what}`;
}

function caseText(c: HttpCase): string {
  return `${c.connections} connection${c.connections === 1 ? "" : "s"}, ${c.objects === 1 ? "1 object" : `${c.objects} objects`}`;
}

function pathsFor(c: HttpCase): string[] {
  if (c.objects === 1) return [`/increment?name=${HOT}`];
  return Array.from({ length: c.objects }, (_, i) => `/increment?name=${PREFIX}${i}`);
}

function bounded<T>(what: string, ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`bench: ${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

// ---------------------------------------------------------------------------------------------------
// CPU accounting: CPU time of the serving processes per request, to see where the cost sits.

const CLK_TCK = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** user + system CPU of a process (all threads), µs; NaN when unreadable. */
function procCpuUs(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // fields[0] is the state (field 3); utime and stime are fields 14 and 15.
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLK_TCK;
  } catch {
    return Number.NaN;
  }
}

function selfCpuUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

interface CpuSample {
  /** This process: serve() for sourdough; miniflare's Node side for workerd. */
  selfUs: number;
  /** Host processes (sourdough) or the workerd process. */
  serverUs: number;
  requests: number;
  driverShare: number;
}

// ---------------------------------------------------------------------------------------------------
// The load driver (child process)

class Driver {
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

// ---------------------------------------------------------------------------------------------------
// The scenario

interface Tally {
  objects: number;
  touched: number;
  total: number;
  min: number;
  max: number;
}

export class HttpScenarios {
  readonly #s: HttpSettings;
  readonly #o: HttpOptions;
  #peers: PeersStatus | undefined;
  #driver: Driver | undefined;
  #app: ServeHandle | undefined;
  #peer: WorkerdPeer | undefined;
  /** Why scenario 4 (and so 5) cannot run. */
  #skipAll: string | undefined;
  /** Why scenario 5 cannot run (or stopped running). */
  #skipPeer: string | undefined;
  readonly #tempDirs: string[] = [];
  #hostPids: number[] = [];
  #hostThreadIds: number[][] = [];
  readonly #windows = new Map<string, Array<[number, number]>>();
  readonly #cpu = new Map<string, CpuSample[]>();
  readonly #driverShares = new Map<string, number[]>();
  readonly #sentToObjects: Record<Side, number> = { sd: 0, wd: 0 };
  readonly #tally: Partial<Record<Side, Tally | string>> = {};
  readonly #once = new Map<string, number>();
  /** Pids kept for the after-close check (the handles are gone by then). */
  #workerdPid: number | undefined;
  #driverPid: number | undefined;
  #closing: Promise<void> | undefined;

  constructor(settings: HttpSettings, options: HttpOptions) {
    this.#s = settings;
    this.#o = options;
  }

  get #topoText(): string {
    return `${this.#s.hostCount} hosts × ${this.#s.isolatesPerHost} isolate${this.#s.isolatesPerHost === 1 ? "" : "s"}`;
  }

  /** Figures, ratios and targets, in table order. */
  define(reg: FigureSink): void {
    for (const c of this.#s.cases) {
      const ct = caseText(c);
      reg.define(key("sd", c, "rps"), `HTTP \`serve()\` → RPC \`increment()\` (1 KV write), ${ct}, ${this.#topoText}: req/s`, "req/s");
      reg.define(key("sd", c, "p50"), `HTTP \`serve()\`, ${ct}: p50`, "µs");
      reg.define(key("sd", c, "p99"), `HTTP \`serve()\`, ${ct}: p99`, "µs");
      reg.define(key("wd", c, "rps"), `HTTP workerd via miniflare, same worker and object, ${ct}: req/s`, "req/s");
      reg.define(key("wd", c, "p50"), `HTTP workerd via miniflare, ${ct}: p50`, "µs");
      reg.define(key("wd", c, "p99"), `HTTP workerd via miniflare, ${ct}: p99`, "µs");
      for (const w of ["rps", "p50", "p99"] as const) reg.ratio(key("sd", c, w), key("wd", c, w), `÷ workerd ${w === "rps" ? "req/s" : w}`);
      reg.targets.push({ figure: key("sd", c, "rps"), ratio: `${key("sd", c, "rps")}/${key("wd", c, "rps")}`, op: ">=", value: 3, text: "≥ 3× workerd (later)" });
    }
  }

  /** Installs peers if needed, starts both servers and the driver, creates every object, warms up. */
  async start(reg: FigureSink): Promise<void> {
    const log = this.#o.log;
    this.#peers = await ensurePeers(log);
    const v = this.#peers.versions;
    log(`HTTP peers: autocannon ${v.autocannon ?? "missing"}, miniflare ${v.miniflare ?? "missing"}, workerd ${v.workerd ?? "missing"}`);
    if (this.#peers.loadGeneratorMissing !== undefined) {
      this.#skipAll = this.#peers.loadGeneratorMissing;
      this.#skipPeer = this.#skipAll;
      this.#markSkipped(reg);
      return;
    }
    this.#skipPeer = this.#peers.workerdMissing;
    this.#driver = new Driver(log);
    await this.#driver.ready;

    // Scenario 4: serve() on 2 hosts.
    const storageDir = this.#tempDir("sourdough-bench-http-");
    const t0 = performance.now();
    const app = serve(worker, {
      durableObjects: { COUNTER: Counter },
      modules: [appModule],
      hostCount: this.#s.hostCount,
      isolatesPerHost: this.#s.isolatesPerHost,
      storageDir,
      output: (host, stream, text) => {
        for (const line of text.replace(/\n$/, "").split("\n")) log(`[http host ${host} ${stream}] ${line}`);
      },
      ...(this.#o.profile ? { hostExecArgv: ["--cpu-prof", `--cpu-prof-dir=${this.#o.profilesDir}`] } : {}),
    });
    this.#app = app;
    await bounded("starting serve()", START_BUDGET_MS, app.ready);
    this.#once.set("start.sd", performance.now() - t0);
    this.#hostPids = app.coordinator.hosts.map((h) => h.pid ?? -1);
    this.#hostThreadIds = app.coordinator.hosts.map((h) => h.threadIds);
    log(`HTTP serve(): ${app.url}, ${this.#topoText} (pids ${this.#hostPids.join(", ")}), ready in ${(performance.now() - t0).toFixed(0)} ms`);

    // Scenario 5: workerd via miniflare.
    if (this.#skipPeer === undefined) {
      try {
        this.#peer = await bounded(
          "starting miniflare",
          START_BUDGET_MS,
          startWorkerdPeer({ persistDir: this.#tempDir("sourdough-bench-workerd-"), output: (line) => log(`[workerd] ${line}`), workerdVersion: v.workerd ?? "" }),
        );
        this.#once.set("start.wd", this.#peer.startMs);
        log(`HTTP workerd: ${this.#peer.url} (pid ${String(this.#peer.pid)}), ready in ${this.#peer.startMs.toFixed(0)} ms`);
      } catch (error) {
        this.#skipPeer = `miniflare did not start: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}`;
        log(`HTTP workerd skipped: ${this.#skipPeer}`);
      }
    }
    this.#markSkipped(reg);

    // Create every object (first request each: activation and its SQLite file), then warm up.
    const many = this.#s.cases.find((c) => c.objects > 1);
    for (const side of this.#sides()) {
      await this.#guard(reg, side, async (driver, url) => {
        const first = await driver.run({ url, paths: [`/increment?name=${HOT}`], connections: 1, warmupMs: 0, measureMs: 0, amount: 1 }, PRIME_BUDGET_MS);
        this.#check(side, first, "first request");
        if (many === undefined) return;
        const r = await driver.run({ url, paths: pathsFor(many), connections: 64, warmupMs: 0, measureMs: 0, amount: many.objects }, PRIME_BUDGET_MS);
        this.#check(side, r, "creating the objects");
        this.#sentToObjects[side] += r.total;
        this.#once.set(`prime.${side}`, r.elapsedMs);
        log(`HTTP ${SIDE_TEXT[side]}: first request on ${many.objects} objects (creates their SQLite files) in ${r.elapsedMs.toFixed(0)} ms`);
      });
    }
    log("HTTP warm-up pass (not recorded)");
    for (const c of this.#s.cases) {
      for (const side of this.#sides()) {
        await this.#guard(reg, side, async (driver, url) => {
          const r = await driver.run({ url, paths: pathsFor(c), connections: c.connections, warmupMs: 0, measureMs: this.#s.warmupMs * 2 }, this.#s.warmupMs * 2 + JOB_SLACK_MS);
          this.#check(side, r, `warm-up ${c.id}`);
          if (c.objects > 1) this.#sentToObjects[side] += r.total;
        });
      }
    }
  }

  /**
   * Runs `fn` against one side. A failure of sourdough fails the bench; a failure of the peer
   * stops the peer and turns its remaining figures into "skipped: <reason>".
   */
  async #guard<T>(reg: FigureSink, side: Side, fn: (driver: Driver, url: string) => Promise<T>): Promise<T | undefined> {
    try {
      return await fn(this.#driver as Driver, this.#url(side));
    } catch (error) {
      if (side === "sd") throw error;
      this.#skipPeer = `workerd failed: ${error instanceof Error ? error.message : String(error)}`;
      this.#o.log(`HTTP ${this.#skipPeer}`);
      this.#workerdPid = this.#peer?.pid;
      await this.#peer?.close().catch(() => undefined);
      this.#peer = undefined;
      this.#markSkipped(reg);
      return undefined;
    }
  }

  /** One round: per case, A = workerd, B = sourdough. */
  async round(reg: FigureSink): Promise<void> {
    if (this.#driver === undefined || this.#skipAll !== undefined) return;
    for (const c of this.#s.cases) {
      for (const side of ["wd", "sd"] as const) {
        if (side === "wd" && this.#peer === undefined) continue;
        const r = await this.#guard(reg, side, () => this.#measure(side, c));
        if (r === undefined) continue;
        reg.record(key(side, c, "rps"), Math.round(r.rps));
        reg.record(key(side, c, "p50"), Math.round(r.p50Us * 10) / 10);
        reg.record(key(side, c, "p99"), Math.round(r.p99Us * 10) / 10);
        this.#o.log(`  http ${SIDE_TEXT[side]} ${c.id}: ${Math.round(r.rps).toLocaleString("en-US")} req/s, p50 ${r.p50Us.toFixed(0)} µs, p99 ${r.p99Us.toFixed(0)} µs (load generator ${(r.driverCpuShare * 100).toFixed(0)}% of a core)`);
      }
    }
  }

  async #measure(side: Side, c: HttpCase): Promise<LoadResult> {
    const driver = this.#driver as Driver;
    const serverPids = side === "sd" ? this.#hostPids : this.#peer?.pid !== undefined ? [this.#peer.pid] : [];
    const self0 = selfCpuUs();
    const server0 = serverPids.reduce((a, p) => a + procCpuUs(p), 0);
    const r = await driver.run({ url: this.#url(side), paths: pathsFor(c), connections: c.connections, warmupMs: this.#s.warmupMs, measureMs: this.#s.measureMs }, this.#s.warmupMs + this.#s.measureMs + JOB_SLACK_MS);
    this.#check(side, r, c.id);
    const cpu: CpuSample = {
      selfUs: selfCpuUs() - self0,
      serverUs: serverPids.reduce((a, p) => a + procCpuUs(p), 0) - server0,
      requests: r.total,
      driverShare: r.driverCpuShare,
    };
    const k = `${side}.${c.id}`;
    this.#cpu.set(k, [...(this.#cpu.get(k) ?? []), cpu]);
    const w = this.#windows.get(k) ?? [];
    w.push([r.windowStartUs, r.windowEndUs]);
    this.#windows.set(k, w);
    if (c.objects > 1) this.#sentToObjects[side] += r.total;
    return r;
  }

  /** After the rounds: did the 1000-object runs reach every object? (`/tally`, outside the windows.) */
  async verify(): Promise<void> {
    const many = this.#s.cases.find((c) => c.objects > 1);
    if (many === undefined || this.#driver === undefined) return;
    for (const side of this.#sides()) {
      try {
        const parts: Tally[] = [];
        for (let from = 0; from < many.objects; from += TALLY_CHUNK) {
          const to = Math.min(many.objects, from + TALLY_CHUNK);
          const res = await bounded("tally", 30_000, fetch(`${this.#url(side)}/tally?prefix=${PREFIX}&from=${from}&to=${to}`));
          if (!res.ok) throw new Error(`/tally answered ${res.status}: ${await res.text()}`);
          parts.push((await res.json()) as Tally);
        }
        this.#tally[side] = {
          objects: parts.reduce((a, t) => a + t.objects, 0),
          touched: parts.reduce((a, t) => a + t.touched, 0),
          total: parts.reduce((a, t) => a + t.total, 0),
          min: Math.min(...parts.map((t) => t.min)),
          max: Math.max(...parts.map((t) => t.max)),
        };
      } catch (error) {
        this.#tally[side] = error instanceof Error ? error.message : String(error);
      }
    }
  }

  /** Once-figures (start-up, object creation). */
  recordOnce(reg: FigureSink): void {
    const many = this.#s.cases.find((c) => c.objects > 1)?.objects ?? 0;
    const rows: Array<[string, string]> = [
      ["start.sd", `HTTP: \`serve()\` start to ready, ${this.#topoText}`],
      ["start.wd", "HTTP: miniflare start to ready (workerd)"],
      ["prime.sd", `HTTP: first request on ${many} objects, 64 connections (creates their SQLite files), sourdough`],
      ["prime.wd", `HTTP: first request on ${many} objects, 64 connections (creates their SQLite files), workerd`],
    ];
    for (const [k, label] of rows) {
      const v = this.#once.get(k);
      if (v === undefined) continue;
      reg.define(`http.${k}`, label, "ms", true);
      reg.record(`http.${k}`, Math.round(v * 10) / 10);
    }
  }

  notes(): string[] {
    const out: string[] = [];
    const v = this.#peers?.versions ?? {};
    const cases = this.#s.cases.map((c) => `${c.connections}×${c.objects}`).join(", ");
    out.push(
      `- HTTP (scenarios 4 and 5): load from autocannon ${v.autocannon ?? "(missing)"} in its own process (bench/http-load-driver.ts), \`GET /increment?name=…\`, keep-alive, cases (connections × objects) ${cases}; ` +
        `per round and case workerd runs first, then sourdough; ${this.#s.warmupMs} ms warm-up + ${this.#s.measureMs} ms window per run; p50/p99 from every response time of the window (µs). ` +
        `Objects: 1 = always \`hot\`; 1000 = \`obj-0\`…\`obj-999\` in turn, one counter shared by all connections (64 requests in flight name 64 different objects). ` +
        `Peer: miniflare ${v.miniflare ?? "(missing)"}, workerd ${v.workerd ?? "(missing)"} (one process), SQLite-backed Durable Object (\`useSQLite\`), persisted in a temp dir; ` +
        `sourdough: \`serve()\` in the bench process, ${this.#topoText}, storage in a temp dir. Ratios are sourdough ÷ workerd, same round (latency ratios: lower is better).`,
    );
    if (this.#skipAll !== undefined) out.push(`- HTTP skipped: ${this.#skipAll}.`);
    else if (this.#skipPeer !== undefined) out.push(`- HTTP workerd skipped: ${this.#skipPeer}.`);
    const tallyText = (side: Side): string => {
      const t = this.#tally[side];
      if (t === undefined) return "not checked";
      if (typeof t === "string") return `check failed (${t})`;
      return `${t.touched} of ${t.objects} objects reached, ${t.total.toLocaleString("en-US")} increments stored (the load generator saw ${this.#sentToObjects[side].toLocaleString("en-US")} responses), per object ${t.min}–${t.max}`;
    };
    if (this.#tally.sd !== undefined || this.#tally.wd !== undefined) {
      out.push(`- HTTP spread check after the rounds (\`/tally\`): sourdough ${tallyText("sd")}; workerd ${this.#peer === undefined && this.#tally.wd === undefined ? "not run" : tallyText("wd")}.`);
    }
    const cpuParts: string[] = [];
    for (const c of this.#s.cases) {
      const part = (side: Side): string | undefined => {
        const samples = this.#cpu.get(`${side}.${c.id}`);
        if (samples === undefined || samples.length === 0) return undefined;
        const self = median(samples.map((s) => s.selfUs / s.requests));
        const server = median(samples.map((s) => s.serverUs / s.requests));
        const gen = median(samples.map((s) => s.driverShare));
        return side === "sd"
          ? `sourdough ${(self + server).toFixed(0)} µs (front ${self.toFixed(0)} + hosts ${server.toFixed(0)}), generator ${(gen * 100).toFixed(0)}%`
          : `workerd ${server.toFixed(0)} µs (+ miniflare's Node side ${self.toFixed(0)}), generator ${(gen * 100).toFixed(0)}%`;
      };
      const parts = [part("sd"), part("wd")].filter((p): p is string => p !== undefined);
      if (parts.length > 0) cpuParts.push(`${c.connections}×${c.objects}: ${parts.join("; ")}`);
    }
    if (cpuParts.length > 0) {
      out.push(`- HTTP CPU per request (median over rounds; whole run incl. warm-up; µs of CPU summed over the serving processes) and the load generator's CPU (share of one core over the window): ${cpuParts.join(" · ")}. On ${os.availableParallelism()} cores the load generator competes with the servers for CPU.`);
    }
    return out;
  }

  json(): unknown {
    const cpu: Record<string, CpuSample[]> = {};
    for (const [k, v] of this.#cpu) cpu[k] = v;
    return {
      settings: this.#s,
      peers: this.#peers ?? null,
      skipped: this.#skipAll ?? null,
      workerdSkipped: this.#skipPeer ?? null,
      tally: this.#tally,
      responsesToManyObjects: this.#sentToObjects,
      cpu,
    };
  }

  /** Profile attribution: serve()'s hosts, and this process's HTTP windows. */
  profileOwner(): ProfileOwner | undefined {
    if (this.#app === undefined) return undefined;
    return { label: `HTTP serve() ${this.#topoText}`, pids: this.#hostPids, threadIds: this.#hostThreadIds, sections: this.selfSections() };
  }

  /** Sections (measurement windows) of the sourdough HTTP runs, one per case. */
  selfSections(): Array<{ title: string; windows: Array<[number, number]> }> {
    return this.#s.cases.map((c) => ({ title: `HTTP serve() ${caseText(c)}`, windows: this.#windows.get(`sd.${c.id}`) ?? [] }));
  }

  /** Processes this scenario started that are still alive (should be none after close). */
  leftoverPids(): number[] {
    const pids = [...this.#hostPids, ...(this.#workerdPid !== undefined ? [this.#workerdPid] : []), ...(this.#driverPid !== undefined ? [this.#driverPid] : [])];
    return pids.filter((pid) => pid > 0 && alive(pid));
  }

  /** Stops the driver, miniflare (workerd) and serve() (hosts); removes the temp dirs. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#workerdPid ??= this.#peer?.pid;
      this.#driverPid = this.#driver?.pid;
      const steps: Array<[string, Promise<void> | undefined]> = [
        ["stopping the load driver", this.#driver?.close()],
        ["disposing miniflare", this.#peer?.close()],
        ["closing serve()", this.#app?.close()],
      ];
      const results = await Promise.allSettled(steps.map(([what, p]) => (p === undefined ? Promise.resolve() : bounded(what, CLOSE_BUDGET_MS, p))));
      for (const r of results) if (r.status === "rejected") this.#o.log(`HTTP cleanup: ${r.reason instanceof Error ? r.reason.message : String(r.reason)}`);
      for (const dir of this.#tempDirs) fs.rmSync(dir, { recursive: true, force: true });
    })();
    return this.#closing;
  }

  #sides(): Side[] {
    return this.#peer === undefined ? ["sd"] : ["wd", "sd"];
  }

  #url(side: Side): string {
    if (side === "sd") return (this.#app as ServeHandle).url;
    return (this.#peer as WorkerdPeer).url;
  }

  #check(side: Side, r: LoadResult, what: string): void {
    const bad = r.non2xx + r.errors + r.timeouts;
    if (bad > 0 || r.total === 0) {
      throw new Error(`HTTP ${SIDE_TEXT[side]} ${what}: ${r.total} responses, ${r.non2xx} non-2xx, ${r.errors} errors, ${r.timeouts} timeouts`);
    }
  }

  #markSkipped(reg: FigureSink): void {
    for (const c of this.#s.cases) {
      for (const w of ["rps", "p50", "p99"] as const) {
        if (this.#skipAll !== undefined) reg.skip(key("sd", c, w), this.#skipAll);
        if (this.#skipPeer !== undefined) reg.skip(key("wd", c, w), this.#skipPeer);
      }
    }
  }

  #tempDir(prefix: string): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    this.#tempDirs.push(dir);
    return dir;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
