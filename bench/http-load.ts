/**
 * Scenarios 4 and 5 of the benchmark: HTTP end to end.
 *
 *   4  sourdough: `serve()` (this process) running bench/http-app.ts's worker, whose
 *      `env.COUNTER.getByName(name).increment()` does one committed SQLite KV write, on 2 hosts
 *      × 1 isolate, storage in a temp dir.
 *   5  workerd via miniflare: the same worker and Durable Object (bench/peers/workerd-app.js),
 *      SQLite-backed, twice: persisted on the same disk as sourdough's storage, and on tmpfs
 *      (workerd fsyncs every commit on its one thread; tmpfs takes the device out of it).
 *
 * Both are driven by the same load generator (autocannon in a child process,
 * bench/http-load-driver.ts) with the same request pattern: `GET /increment?name=<object>` at 1
 * and 64 connections, over 1 object (`hot`) and over 1000 objects (`obj-0` … `obj-999`, one
 * shared round-robin counter, so consecutive requests name different objects). Per round and
 * case: A = workerd (disk, then tmpfs), then B = sourdough; each ratio sourdough ÷ workerd pairs
 * the runs of the same round. Servers start once, before round 1; every object is created (first
 * request) and every case warmed up before round 1. After the rounds, `/tally` on each server
 * checks that the 1000-object runs really reached all 1000 objects.
 *
 * bench/run.ts owns the registry and the table; this module defines and records its figures,
 * and adds notes, JSON and profile windows. Missing peers become "skipped: <reason>" rows.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { serve } from "sourdough";
import type { ServeHandle } from "sourdough";
import { Counter, worker } from "./http-app.ts";
import { Driver, type LoadResult } from "./http-load-driver.ts";
import { ensurePeers, type PeersStatus } from "./peers-install.ts";
import { machineBusyUs, procCpuUs, selfCpuUs } from "./proc-cpu.ts";
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

export const HTTP_QUICK: HttpSettings = { warmupMs: 250, measureMs: 750, cases: CASES, hostCount: 2, isolatesPerHost: 1 };
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
/** A load job may take this long beyond its own windows (connect, drain, autocannon start-up). */
const JOB_SLACK_MS = 30_000;
const PRIME_BUDGET_MS = 120_000;
const HOT = "hot";
const PREFIX = "obj-";
const TALLY_CHUNK = 200;

const appModule = new URL("./http-app.ts", import.meta.url);

/**
 * sd = sourdough; wd = workerd with its Durable Objects persisted on the same disk as sourdough's
 * (/tmp); wdm = workerd persisting to tmpfs (/dev/shm). workerd fsyncs every commit and runs
 * SQLite on its one event-loop thread, so on disk it waits for the device once per request,
 * which sourdough (WAL, synchronous=NORMAL: fsync only at checkpoints) does not: wdm takes the
 * device out and compares the runtimes alone.
 */
type Side = "sd" | "wd" | "wdm";
type PeerSide = Exclude<Side, "sd">;
const PEER_SIDES: PeerSide[] = ["wd", "wdm"];
const SIDE_TEXT: Record<Side, string> = { sd: "sourdough", wd: "workerd", wdm: "workerd (tmpfs)" };
const TMPFS = "/dev/shm";

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

interface CpuSample {
  /** This process: serve() for sourdough; miniflare's Node side for workerd. */
  selfUs: number;
  /** Host processes (sourdough) or the workerd process. */
  serverUs: number;
  requests: number;
  driverShare: number;
  /** CPU used by processes other than this bench's, as a share of all cores over the run. */
  foreignShare: number;
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
  #peersStatus: PeersStatus | undefined;
  #driver: Driver | undefined;
  #app: ServeHandle | undefined;
  readonly #peers = new Map<PeerSide, WorkerdPeer>();
  /** Why scenario 4 (and so 5) cannot run. */
  #skipAll: string | undefined;
  /** Why a peer cannot run (or stopped running). */
  readonly #skipPeer: Partial<Record<PeerSide, string>> = {};
  readonly #tempDirs: string[] = [];
  #hostPids: number[] = [];
  #hostThreadIds: number[][] = [];
  readonly #windows = new Map<string, Array<[number, number]>>();
  readonly #cpu = new Map<string, CpuSample[]>();
  readonly #sentToObjects: Record<Side, number> = { sd: 0, wd: 0, wdm: 0 };
  readonly #tally: Partial<Record<Side, Tally | string>> = {};
  readonly #once = new Map<string, number>();
  /** Pids kept for the after-close check (the handles are gone by then). */
  readonly #peerPids: number[] = [];
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
      reg.define(key("wd", c, "rps"), `HTTP workerd via miniflare, same worker and object, storage on disk, ${ct}: req/s`, "req/s");
      reg.define(key("wd", c, "p50"), `HTTP workerd, storage on disk, ${ct}: p50`, "µs");
      reg.define(key("wd", c, "p99"), `HTTP workerd, storage on disk, ${ct}: p99`, "µs");
      reg.define(key("wdm", c, "rps"), `HTTP workerd via miniflare, storage on tmpfs (no device wait), ${ct}: req/s`, "req/s");
      reg.define(key("wdm", c, "p50"), `HTTP workerd, storage on tmpfs, ${ct}: p50`, "µs");
      reg.define(key("wdm", c, "p99"), `HTTP workerd, storage on tmpfs, ${ct}: p99`, "µs");
      for (const peer of PEER_SIDES) {
        const on = peer === "wd" ? "workerd" : "workerd on tmpfs";
        for (const w of ["rps", "p50", "p99"] as const) reg.ratio(key("sd", c, w), key(peer, c, w), `÷ ${on}${w === "rps" ? "" : ` ${w}`}`);
        reg.targets.push({ figure: key("sd", c, "rps"), ratio: `${key("sd", c, "rps")}/${key(peer, c, "rps")}`, op: ">=", value: 3, text: `≥ 3× ${on} (later)` });
      }
    }
  }

  /** Installs peers if needed, starts the servers and the driver, creates every object, warms up. */
  async start(reg: FigureSink): Promise<void> {
    const log = this.#o.log;
    this.#peersStatus = await ensurePeers(log);
    const v = this.#peersStatus.versions;
    log(`HTTP peers: autocannon ${v.autocannon ?? "missing"}, miniflare ${v.miniflare ?? "missing"}, workerd ${v.workerd ?? "missing"}`);
    if (this.#peersStatus.loadGeneratorMissing !== undefined) {
      this.#skipAll = this.#peersStatus.loadGeneratorMissing;
      for (const peer of PEER_SIDES) this.#skipPeer[peer] = this.#skipAll;
      this.#markSkipped(reg);
      return;
    }
    const workerdMissing = this.#peersStatus.workerdMissing;
    if (workerdMissing !== undefined) for (const peer of PEER_SIDES) this.#skipPeer[peer] = workerdMissing;
    if (!fs.existsSync(TMPFS)) this.#skipPeer.wdm ??= `${TMPFS} does not exist here`;
    this.#driver = new Driver(log);
    await this.#driver.ready;

    // Scenario 4: serve() on 2 hosts.
    const storageDir = this.#tempDir(os.tmpdir(), "sourdough-bench-http-");
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

    // Scenario 5: workerd via miniflare, persisting on disk and on tmpfs.
    for (const peer of PEER_SIDES) {
      if (this.#skipPeer[peer] !== undefined) continue;
      try {
        const persistDir = this.#tempDir(peer === "wd" ? os.tmpdir() : TMPFS, `sourdough-bench-${peer}-`);
        const started = await bounded(
          `starting miniflare (${SIDE_TEXT[peer]})`,
          START_BUDGET_MS,
          startWorkerdPeer({ persistDir, output: (line) => log(`[${SIDE_TEXT[peer]}] ${line}`), workerdVersion: v.workerd ?? "" }),
        );
        this.#peers.set(peer, started);
        if (started.pid !== undefined) this.#peerPids.push(started.pid);
        this.#once.set(`start.${peer}`, started.startMs);
        log(`HTTP ${SIDE_TEXT[peer]}: ${started.url} (pid ${String(started.pid)}, storage in ${persistDir}), ready in ${started.startMs.toFixed(0)} ms`);
      } catch (error) {
        this.#skipPeer[peer] = `miniflare did not start: ${error instanceof Error ? (error.message.split("\n")[0] ?? "") : String(error)}`;
        log(`HTTP ${SIDE_TEXT[peer]} skipped: ${this.#skipPeer[peer]}`);
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
        const r = await driver.run({ url, paths: pathsFor(many), connections: Math.min(64, many.objects), warmupMs: 0, measureMs: 0, amount: many.objects }, PRIME_BUDGET_MS);
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

  /** One round: per case, A = workerd (disk, then tmpfs), B = sourdough. */
  async round(reg: FigureSink): Promise<void> {
    if (this.#driver === undefined || this.#skipAll !== undefined) return;
    for (const c of this.#s.cases) {
      for (const side of this.#sides()) {
        const r = await this.#guard(reg, side, () => this.#measure(side, c));
        if (r === undefined) continue;
        reg.record(key(side, c, "rps"), Math.round(r.rps));
        reg.record(key(side, c, "p50"), Math.round(r.p50Us * 10) / 10);
        reg.record(key(side, c, "p99"), Math.round(r.p99Us * 10) / 10);
        this.#o.log(`  http ${SIDE_TEXT[side]} ${c.id}: ${Math.round(r.rps).toLocaleString("en-US")} req/s, p50 ${r.p50Us.toFixed(0)} µs, p99 ${r.p99Us.toFixed(0)} µs (load generator ${(r.driverCpuShare * 100).toFixed(0)}% of a core)`);
      }
    }
  }

  /**
   * Runs `fn` against one side. A failure of sourdough fails the bench; a failure of a peer
   * stops that peer and turns its remaining figures into "skipped: <reason>".
   */
  async #guard<T>(reg: FigureSink, side: Side, fn: (driver: Driver, url: string) => Promise<T>): Promise<T | undefined> {
    try {
      return await fn(this.#driver as Driver, this.#url(side));
    } catch (error) {
      if (side === "sd") throw error;
      this.#skipPeer[side] = `${SIDE_TEXT[side]} failed: ${error instanceof Error ? error.message : String(error)}`;
      this.#o.log(`HTTP ${this.#skipPeer[side]}`);
      const peer = this.#peers.get(side);
      this.#peers.delete(side);
      await peer?.close().catch(() => undefined);
      this.#markSkipped(reg);
      return undefined;
    }
  }

  async #measure(side: Side, c: HttpCase): Promise<LoadResult> {
    const driver = this.#driver as Driver;
    if (c.objects > 1) {
      // Both runtimes evict idle objects (sourdough after 60 s, workerd sooner) and a full round
      // takes longer than that: touch every object once first, so the window measures resident
      // objects (cold activation is scenario 6's subject), not re-activation.
      const touch = await driver.run({ url: this.#url(side), paths: pathsFor(c), connections: Math.min(64, c.objects), warmupMs: 0, measureMs: 0, amount: c.objects }, PRIME_BUDGET_MS);
      this.#check(side, touch, `touching the ${c.objects} objects`);
      this.#sentToObjects[side] += touch.total;
    }
    const peerPid = side === "sd" ? undefined : this.#peers.get(side)?.pid;
    const serverPids = side === "sd" ? this.#hostPids : peerPid !== undefined ? [peerPid] : [];
    const driverPid = driver.pid ?? -1;
    const self0 = selfCpuUs();
    const server0 = serverPids.reduce((a, p) => a + procCpuUs(p), 0);
    const driver0 = procCpuUs(driverPid);
    const machine0 = machineBusyUs();
    const t0 = performance.now();
    const r = await driver.run({ url: this.#url(side), paths: pathsFor(c), connections: c.connections, warmupMs: this.#s.warmupMs, measureMs: this.#s.measureMs }, this.#s.warmupMs + this.#s.measureMs + JOB_SLACK_MS);
    this.#check(side, r, c.id);
    const selfUs = selfCpuUs() - self0;
    const serverUs = serverPids.reduce((a, p) => a + procCpuUs(p), 0) - server0;
    const oursUs = selfUs + serverUs + (procCpuUs(driverPid) - driver0);
    const foreignShare = Math.max(0, machineBusyUs() - machine0 - oursUs) / ((performance.now() - t0) * 1000 * os.availableParallelism());
    const cpu: CpuSample = { selfUs, serverUs, requests: r.total, driverShare: r.driverCpuShare, foreignShare };
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
      ["start.wd", "HTTP: miniflare start to ready (workerd, storage on disk)"],
      ["start.wdm", "HTTP: miniflare start to ready (workerd, storage on tmpfs)"],
    ];
    for (const side of ["sd", "wd", "wdm"] as const) {
      rows.push([`prime.${side}`, `HTTP: first request on ${many} objects, 64 connections (creates their SQLite files), ${SIDE_TEXT[side]}`]);
    }
    for (const [k, label] of rows) {
      const v = this.#once.get(k);
      if (v === undefined) continue;
      reg.define(`http.${k}`, label, "ms", true);
      reg.record(`http.${k}`, Math.round(v * 10) / 10);
    }
  }

  notes(): string[] {
    const out: string[] = [];
    const v = this.#peersStatus?.versions ?? {};
    const cases = this.#s.cases.map((c) => `${c.connections}×${c.objects}`).join(", ");
    out.push(
      `- HTTP (scenarios 4 and 5): load from autocannon ${v.autocannon ?? "(missing)"} in its own process (bench/http-load-driver.ts), \`GET /increment?name=…\`, keep-alive, cases (connections × objects) ${cases}; ` +
        `per round and case: workerd on disk, workerd on tmpfs, then sourdough; ${this.#s.warmupMs} ms warm-up + ${this.#s.measureMs} ms window per run; p50/p99 from every response time of the window. ` +
        `Objects: 1 = always \`hot\`; 1000 = \`obj-0\`…\`obj-999\` in turn, one counter shared by all connections (64 requests in flight name 64 different objects); before each 1000-object run, one request to each object (unrecorded), since both runtimes evict idle objects between rounds. ` +
        `sourdough: \`serve()\` in the bench process, ${this.#topoText}, storage in a temp dir on ${os.tmpdir()}. ` +
        `Peer: miniflare ${v.miniflare ?? "(missing)"}, workerd ${v.workerd ?? "(missing)"} (one process, one event-loop thread), SQLite-backed Durable Object (\`useSQLite\`), persisted in a temp dir on ${os.tmpdir()} ("on disk") or ${TMPFS} ("on tmpfs"). ` +
        `Ratios are sourdough ÷ workerd, same round (for latencies lower is better).`,
    );
    out.push(
      `- HTTP durability differs: workerd fsyncs every commit (strace: one fsync per request) on its event-loop thread, so on disk each request waits for the device; sourdough commits in WAL with synchronous=NORMAL (fsync only at checkpoints, every ~256 pages of one object's WAL: visible in the 1-object p99). ` +
        `"On tmpfs" removes the device from workerd's side: that ratio compares the runtimes, the on-disk ratio compares them as they ship.`,
    );
    if (this.#skipAll !== undefined) out.push(`- HTTP skipped: ${this.#skipAll}.`);
    for (const peer of PEER_SIDES) if (this.#skipAll === undefined && this.#skipPeer[peer] !== undefined) out.push(`- HTTP ${SIDE_TEXT[peer]} skipped: ${this.#skipPeer[peer]}.`);
    const tallyText = (side: Side): string => {
      const t = this.#tally[side];
      if (t === undefined) return "not checked";
      if (typeof t === "string") return `check failed (${t})`;
      return `${t.touched} of ${t.objects} objects reached, ${t.total.toLocaleString("en-US")} increments stored (load generator: ${this.#sentToObjects[side].toLocaleString("en-US")} responses), per object ${t.min}–${t.max}`;
    };
    const checked = (["sd", "wd", "wdm"] as const).filter((side) => this.#tally[side] !== undefined);
    if (checked.length > 0) out.push(`- HTTP spread check after the rounds (\`/tally\` over the 1000 objects): ${checked.map((side) => `${SIDE_TEXT[side]}: ${tallyText(side)}`).join("; ")}.`);
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
          : `${SIDE_TEXT[side]} ${server.toFixed(0)} µs (+ miniflare's Node side ${self.toFixed(0)}), generator ${(gen * 100).toFixed(0)}%`;
      };
      const parts = (["sd", "wd", "wdm"] as const).map(part).filter((p): p is string => p !== undefined);
      if (parts.length > 0) cpuParts.push(`${c.connections}×${c.objects}: ${parts.join("; ")}`);
    }
    const foreign = [...this.#cpu.values()].flat().map((x) => x.foreignShare).filter(Number.isFinite);
    if (foreign.length > 0) {
      out.push(
        `- HTTP other load: processes outside this bench used a median ${(median(foreign) * 100).toFixed(0)}% (max ${(Math.max(...foreign) * 100).toFixed(0)}%) of the machine's CPU during the HTTP runs` +
          `${Math.max(...foreign) > 0.1 ? ": figures from runs that shared the machine are distorted" : ""}.`,
      );
    }
    if (cpuParts.length > 0) {
      out.push(
        `- HTTP CPU per request (median over rounds, whole run incl. warm-up, summed over the serving processes; "front" = the \`serve()\` process) and the load generator's CPU (share of one core over the window): ${cpuParts.join(" · ")}. ` +
          `On ${os.availableParallelism()} cores the load generator competes with the servers for CPU.`,
      );
    }
    return out;
  }

  json(): unknown {
    const cpu: Record<string, CpuSample[]> = {};
    for (const [k, v] of this.#cpu) cpu[k] = v;
    return {
      settings: this.#s,
      peers: this.#peersStatus ?? null,
      skipped: this.#skipAll ?? null,
      peersSkipped: this.#skipPeer,
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
    const pids = [...this.#hostPids, ...this.#peerPids, ...(this.#driverPid !== undefined ? [this.#driverPid] : [])];
    return pids.filter((pid) => pid > 0 && alive(pid));
  }

  /** Stops the driver, miniflare (workerd) and serve() (hosts); removes the temp dirs. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#driverPid = this.#driver?.pid;
      const steps: Array<[string, Promise<void> | undefined]> = [
        ["stopping the load driver", this.#driver?.close()],
        ...[...this.#peers].map(([side, peer]): [string, Promise<void>] => [`disposing miniflare (${SIDE_TEXT[side]})`, peer.close()]),
        ["closing serve()", this.#app?.close()],
      ];
      const results = await Promise.allSettled(steps.map(([what, p]) => (p === undefined ? Promise.resolve() : bounded(what, CLOSE_BUDGET_MS, p))));
      for (const r of results) if (r.status === "rejected") this.#o.log(`HTTP cleanup: ${r.reason instanceof Error ? r.reason.message : String(r.reason)}`);
      for (const dir of this.#tempDirs) fs.rmSync(dir, { recursive: true, force: true });
    })();
    return this.#closing;
  }

  /** Sides that run, in the order of a round: the peers (A) first, then sourdough (B). */
  #sides(): Side[] {
    return [...PEER_SIDES.filter((p) => this.#peers.has(p)), "sd"];
  }

  #url(side: Side): string {
    if (side === "sd") return (this.#app as ServeHandle).url;
    const peer = this.#peers.get(side);
    if (peer === undefined) throw new Error(`${SIDE_TEXT[side]} is not running`);
    return peer.url;
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
        for (const peer of PEER_SIDES) {
          const why = this.#skipPeer[peer];
          if (why !== undefined) reg.skip(key(peer, c, w), why);
        }
      }
    }
  }

  #tempDir(parent: string, prefix: string): string {
    const dir = fs.mkdtempSync(path.join(parent, prefix));
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
