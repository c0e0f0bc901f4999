/**
 * sourdough benchmark: typed RPC beside the raw Unix-socket echo baseline, in one process tree and
 * one sitting.
 *
 *   node --import tsx bench/run.ts      full: 5 rounds, ~8 minutes (npm run bench runs this and more: bench/all.ts)
 *   ... --quick                         3 rounds, shorter windows, ~2 minutes
 *   npm run bench -- --profile          also write .cpuprofile files (hosts, isolates and this
 *                                       process) to bench/results/profiles and summarize them
 *   npm run bench -- --runs=7           override the number of rounds
 *   npm run bench -- --topologies=h2i1,h1i2
 *                                       only these topologies (h2i1, h2i2, h1i2, h1i1 =
 *                                       hosts × isolates per host; default: quick h2i1,h2i2,h1i2,
 *                                       full all four)
 *   npm run bench -- --scenarios=http   only these scenario groups: rpc (raw echo + typed RPC),
 *                                       http (HTTP end to end vs workerd), gate (the input gate's
 *                                       cost, with the pipelined echo beside it); default all three
 *
 * What runs, per round (A = baseline, B = scenarios; rounds repeat A B A B ...):
 *   A  raw echo, sequential round trips (bench/raw-echo.ts, fresh echo server process)
 *   B  typed RPC, sequential `await stub.increment()` on one object, per topology
 *   A  raw echo, pipelined frames/s at 1, 16 and 256 in flight (fresh echo server process)
 *   B  typed RPC throughput: exactly 256 calls in flight over 1000 objects for a fixed window,
 *      without storage (`increment`) and with one committed SQLite KV write per call
 *      (`incrementStored`), per topology (hosts × isolates per host)
 *   A  RPC read-modify-write with the sync KV API (`kv.get` + `kv.put`), then B  the same with the
 *      promise API (`await storage.get` + `await storage.put`, which only the input gate keeps
 *      correct): 256 in flight on one object, 2 hosts × 1 isolate; after every run the stored
 *      counter must equal the calls made, or the run fails (a lost update)
 *   A  HTTP on workerd via miniflare, then B  HTTP on `serve()`, per case: 1 and 64 connections
 *      over 1 and 1000 objects, one KV write per request (bench/http-load.ts; autocannon in a
 *      child process, installed on demand in bench/peers/)
 * Every RPC figure is also reported as a ratio to the echo figure measured in the same round
 * (median, min and max over rounds), so both sides of a ratio saw the same machine conditions;
 * every HTTP figure of sourdough as a ratio to workerd's in the same round.
 *
 * Coordinators (one per topology) start once, before round 1, and stay up for the whole run: each
 * round measures the steady state of the same processes. All 1000 objects are activated, and their
 * SQLite files created, before round 1. Every phase is bounded in time; coordinators are closed and
 * temporary directories removed in `finally`, and the process exits by itself.
 *
 * Output: a Markdown table on stdout (progress goes to stderr), bench/results/latest.json and
 * bench/results/latest.md. With --profile the numbers are distorted by the profiler, so they go
 * to bench/results/profile-latest.{json,md} instead, with the profile summaries.
 * To profile only this (caller) process, not the hosts:
 *   node --cpu-prof --cpu-prof-dir=bench/results/profiles --import tsx bench/run.ts --quick
 * then `node --import tsx bench/profile-summary.ts bench/results/profiles/CPU.*.cpuprofile`.
 */
import * as fs from "node:fs";
import { Session } from "node:inspector/promises";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { ClusterCoordinator } from "sourdough";
import { HTTP_FULL, HTTP_QUICK, HttpScenarios, type ProfileOwner } from "./http-load.ts";
import { BenchCounter } from "./objects.ts";
import { generated } from "./sourdough.gen/index.ts";
import { formatSummary, summarizeProfile } from "./profile-summary.ts";
import { measureRawEcho } from "./raw-echo.ts";
import { codeVersion, distIsStale } from "./code-version.ts";
import {
  DRAIN_BUDGET_MS,
  SEQUENTIAL_BUDGET_BASE_MS,
  SEQUENTIAL_BUDGET_US_PER_CALL,
  bounded,
  callEach,
  checkNumber,
  machineBusy,
  percentile,
  round,
  rpcSequential,
  rpcThroughput,
  stats,
  type BenchMethod,
  type Stats,
  type Stub,
  type ThroughputMethod,
} from "./rpc-drivers.ts";

// ---------------------------------------------------------------------------------------------------
// Settings

interface Topology {
  id: string;
  label: string;
  hostCount: number;
  isolatesPerHost: number;
  /** Which sequential scenarios run on this topology. */
  sequential: BenchMethod[];
  /** Which throughput scenarios run on this topology. */
  throughput: BenchMethod[];
  /** Whether the input-gate scenario (sync vs async read-modify-write on one object) runs here. */
  gate: boolean;
}

/** The input-gate scenario's two variants: the same read-modify-write, sync and promise KV API. */
type GateMethod = "incrementStored" | "incrementStoredAsync";

interface Settings {
  rounds: number;
  echoSequentialCalls: number;
  echoPipelinedMs: number;
  rpcSequentialCalls: number;
  rpcSequentialWarmup: number;
  throughputWarmupMs: number;
  throughputMs: number;
  inFlight: number;
  objects: number;
  topologies: Topology[];
  /** The whole run must finish within this, or it is aborted (coordinators closed, exit code 1). */
  totalBudgetMs: number;
  /** Scenario groups: rpc = raw echo + typed RPC; http = HTTP end to end vs workerd; gate = input gate. */
  rpc: boolean;
  http: boolean;
  gate: boolean;
}

const BOTH: BenchMethod[] = ["increment", "incrementStored"];
const TOPO_2x1: Topology = { id: "h2i1", label: "2 hosts × 1 isolate", hostCount: 2, isolatesPerHost: 1, sequential: BOTH, throughput: BOTH, gate: true };
const TOPO_2x2: Topology = { id: "h2i2", label: "2 hosts × 2 isolates", hostCount: 2, isolatesPerHost: 2, sequential: [], throughput: BOTH, gate: false };
const TOPO_1x2: Topology = { id: "h1i2", label: "1 host × 2 isolates", hostCount: 1, isolatesPerHost: 2, sequential: ["increment"], throughput: BOTH, gate: false };
const TOPO_1x1: Topology = { id: "h1i1", label: "1 host × 1 isolate", hostCount: 1, isolatesPerHost: 1, sequential: ["increment"], throughput: BOTH, gate: false };

const QUICK: Settings = {
  rounds: 3,
  echoSequentialCalls: 5_000,
  echoPipelinedMs: 500,
  rpcSequentialCalls: 3_000,
  rpcSequentialWarmup: 500,
  throughputWarmupMs: 300,
  throughputMs: 1_000,
  inFlight: 256,
  objects: 1000,
  topologies: [TOPO_2x1, TOPO_2x2, TOPO_1x2],
  totalBudgetMs: 360_000,
  rpc: true,
  http: true,
  gate: true,
};

const FULL: Settings = {
  rounds: 5,
  echoSequentialCalls: 20_000,
  echoPipelinedMs: 1_500,
  rpcSequentialCalls: 10_000,
  rpcSequentialWarmup: 1_000,
  throughputWarmupMs: 500,
  throughputMs: 3_000,
  inFlight: 256,
  objects: 1000,
  topologies: [TOPO_2x1, TOPO_2x2, TOPO_1x2, TOPO_1x1],
  totalBudgetMs: 1_200_000,
  rpc: true,
  http: true,
  gate: true,
};

const ECHO_IN_FLIGHT = [1, 16, 256] as const;
const START_BUDGET_MS = 40_000;
const CLOSE_BUDGET_MS = 15_000;
const ACTIVATE_BUDGET_MS = 60_000;

const here = path.dirname(fileURLToPath(import.meta.url));
const resultsDir = path.join(here, "results");
const profilesDir = path.join(resultsDir, "profiles");

interface Args {
  quick: boolean;
  profile: boolean;
  rounds: number | undefined;
  /** Topology ids to run (default: all of the mode's). */
  topologies: string[] | undefined;
  /** Scenario groups to run (default: all). */
  scenarios: string[] | undefined;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { quick: false, profile: false, rounds: undefined, topologies: undefined, scenarios: undefined };
  for (const a of argv) {
    if (a === "--quick") args.quick = true;
    else if (a === "--profile") args.profile = true;
    else if (/^--runs=\d+$/.test(a)) args.rounds = Number(a.slice("--runs=".length));
    else if (a.startsWith("--topologies=")) args.topologies = a.slice("--topologies=".length).split(",").filter((t) => t !== "");
    else if (a.startsWith("--scenarios=")) args.scenarios = a.slice("--scenarios=".length).split(",").filter((t) => t !== "");
    else if (a === "--help" || a === "-h") {
      process.stdout.write("usage: npm run bench [-- --quick] [--profile] [--runs=N] [--topologies=h2i1,h2i2,h1i2,h1i1] [--scenarios=rpc,http,gate]\n");
      process.exit(0);
    } else throw new Error(`unknown argument ${a} (expected --quick, --profile, --runs=N, --topologies=ids, --scenarios=rpc,http,gate)`);
  }
  if (args.rounds !== undefined && args.rounds < 1) throw new Error("--runs must be at least 1");
  return args;
}

// ---------------------------------------------------------------------------------------------------
// Figures and statistics

type Unit = "µs" | "frames/s" | "calls/s" | "req/s" | "ms" | "×" | "count" | "MiB";

interface Figure {
  key: string;
  label: string;
  unit: Unit;
  runs: number[];
  /** Informational figures are measured once (not alternated) and have no ratio. */
  once?: boolean;
  /** Why this figure was not measured (the table shows "skipped: <reason>"). */
  skipped?: string;
}

interface Ratio {
  key: string;
  /** Figure keys: numerator (RPC) and denominator (raw echo, same round). */
  num: string;
  den: string;
  label: string;
}

interface Target {
  figure: string;
  /** Compared against the figure's median (or the ratio's median, for ratio targets). */
  ratio?: string;
  op: "<=" | ">=";
  value: number;
  text: string;
}


class Registry {
  readonly figures = new Map<string, Figure>();
  readonly ratios: Ratio[] = [];
  readonly targets: Target[] = [];

  define(key: string, label: string, unit: Unit, once = false): void {
    if (!this.figures.has(key)) this.figures.set(key, { key, label, unit, runs: [], ...(once ? { once } : {}) });
  }

  record(key: string, value: number): void {
    const f = this.figures.get(key);
    if (f === undefined) throw new Error(`bench: figure ${key} was not defined`);
    f.runs.push(value);
  }

  skip(key: string, reason: string): void {
    const f = this.figures.get(key);
    if (f === undefined) throw new Error(`bench: figure ${key} was not defined`);
    f.skipped = reason;
  }

  ratio(num: string, den: string, label: string): void {
    this.ratios.push({ key: `${num}/${den}`, num, den, label });
  }

  /** Paired ratios: run i of the numerator over run i of the denominator (same round). */
  pairedRatios(r: Ratio): number[] {
    const a = this.figures.get(r.num)?.runs ?? [];
    const b = this.figures.get(r.den)?.runs ?? [];
    const out: number[] = [];
    for (let i = 0; i < Math.min(a.length, b.length); i++) out.push((a[i] as number) / (b[i] as number));
    return out;
  }
}

// ---------------------------------------------------------------------------------------------------
// Helpers

function log(text: string): void {
  process.stderr.write(`[bench] ${text}\n`);
}

// ---------------------------------------------------------------------------------------------------
// Cluster lifetime

interface Cluster {
  topo: Topology;
  coordinator: ClusterCoordinator;
  storageDir: string;
  stubs: Stub[];
  /** One object, for the throughput variants that load a single object. */
  oneStub: Stub[];
  seqStubs: Record<BenchMethod, Stub>;
  /** The input-gate scenario's object, the calls made on it so far, and its counter as last read. */
  gate: { stub: Stub; calls: number; stored: number };
  /** Host pids, recorded once ready (to attribute profiles, and to check that they are gone). */
  pids: number[];
  /** Per host: the worker thread ids of its isolates (to attribute profiles). */
  threadIds: number[][];
  /** Measurement windows (µs, monotonic clock) per scenario figure key, for windowed profiles. */
  windows: Map<string, Array<[number, number]>>;
}

/** SQLite databases a cluster's objects created: the 1000 objects, and each single object that wrote. */
function databaseCount(c: Cluster, s: Settings): number {
  const writes = c.topo.throughput.includes("incrementStored");
  let n = writes ? s.objects : 0;
  if (s.rpc && c.topo.sequential.includes("incrementStored")) n++; // seq-kv
  if (s.rpc && writes && variantsOf(c.topo).some((v) => v.oneObject)) n++; // thr-one
  if (s.gate && c.topo.gate) n++; // gate
  return n;
}

function nowUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

function addWindow(c: Cluster, key: string, start: number, end: number): void {
  let list = c.windows.get(key);
  if (list === undefined) c.windows.set(key, (list = []));
  list.push([start, end]);
}

const clusters: Cluster[] = [];
const tempDirs: string[] = [];
/** Scenarios 4 and 5 (HTTP), when they run; closed by cleanup(). */
let http: HttpScenarios | undefined;
/** How long each coordinator took to close (ms), by topology id. */
const closeMs = new Map<string, number>();
let cleaning: Promise<void> | undefined;

async function closeCluster(c: Cluster): Promise<void> {
  const t0 = performance.now();
  await bounded(`closing ${c.topo.label}`, CLOSE_BUDGET_MS, c.coordinator.close());
  closeMs.set(c.topo.id, performance.now() - t0);
}

function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    await http?.close();
    // One at a time, so each close time is its own (closing commits and closes every database).
    const results: PromiseSettledResult<void>[] = [];
    for (const c of clusters) results.push(...(await Promise.allSettled([closeCluster(c)])));
    for (const r of results) if (r.status === "rejected") log(`cleanup: ${r.reason instanceof Error ? r.reason.message : String(r.reason)}`);
    for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
  })();
  return cleaning;
}

/** Bytes of all files under `dir`, and of the SQLite WAL files among them. */
function storageBytes(dir: string): { total: number; wal: number } {
  let total = 0;
  let wal = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      const sub = storageBytes(p);
      total += sub.total;
      wal += sub.wal;
    } else if (entry.isFile()) {
      // Objects evicted while idle close their databases, and SQLite removes the -wal/-shm files.
      const size = fs.statSync(p, { throwIfNoEntry: false })?.size ?? 0;
      total += size;
      if (entry.name.endsWith("-wal")) wal += size;
    }
  }
  return { total, wal };
}

/** Open file descriptors of a process (Linux /proc), or undefined where that cannot be read. */
function openFds(pid: number): number | undefined {
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return undefined;
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

async function startCluster(topo: Topology, settings: Settings, profile: boolean, reg: Registry): Promise<Cluster> {
  const storageDir = fs.mkdtempSync(path.join(os.tmpdir(), `sourdough-bench-${topo.id}-`));
  tempDirs.push(storageDir);
  const t0 = performance.now();
  const coordinator = new ClusterCoordinator({
    hostCount: topo.hostCount,
    isolatesPerHost: topo.isolatesPerHost,
    generated, // BenchCounter's sourdough-gen codecs: calls carry Cap'n Proto Params/Results, not msgpack
    storageDir,
    // Host output goes to stderr with a prefix, so stdout carries only the results table.
    output: (host, stream, text) => {
      const lines = text.replace(/\n$/, "").split("\n");
      for (const line of lines) process.stderr.write(`[${topo.id} host ${host} ${stream}] ${line}\n`);
    },
    ...(profile ? { hostExecArgv: ["--cpu-prof", `--cpu-prof-dir=${profilesDir}`] } : {}),
  });
  const cluster: Cluster = {
    topo,
    coordinator,
    storageDir,
    stubs: [],
    oneStub: [coordinator.get("thr-one", BenchCounter)],
    seqStubs: { increment: coordinator.get("seq-mem", BenchCounter), incrementStored: coordinator.get("seq-kv", BenchCounter) },
    gate: { stub: coordinator.get("gate", BenchCounter), calls: 0, stored: 0 },
    pids: [],
    threadIds: [],
    windows: new Map(),
  };
  clusters.push(cluster);
  await bounded(`starting ${topo.label}`, START_BUDGET_MS, coordinator.ready);
  const startMs = performance.now() - t0;
  cluster.pids = coordinator.hosts.map((h) => h.pid ?? -1);
  cluster.threadIds = coordinator.hosts.map((h) => h.threadIds);
  for (let i = 0; i < settings.objects; i++) cluster.stubs.push(coordinator.get(`obj-${i}`, BenchCounter));
  const activateMs = await bounded(`activating ${settings.objects} objects on ${topo.label}`, ACTIVATE_BUDGET_MS, callEach(cluster.stubs, "increment", settings.inFlight));
  let firstWriteMs = Number.NaN;
  if (topo.throughput.includes("incrementStored")) {
    firstWriteMs = await bounded(`first writes on ${topo.label}`, ACTIVATE_BUDGET_MS, callEach(cluster.stubs, "incrementStored", settings.inFlight));
  }
  reg.define(`start.${topo.id}`, `Coordinator start to ready, ${topo.label}`, "ms", true);
  reg.record(`start.${topo.id}`, round(startMs, 1));
  reg.define(`activate.${topo.id}`, `Activate ${settings.objects} objects (first call each), ${topo.label}`, "ms", true);
  reg.record(`activate.${topo.id}`, round(activateMs, 1));
  if (!Number.isNaN(firstWriteMs)) {
    reg.define(`firstwrite.${topo.id}`, `First KV write on ${settings.objects} objects (creates their SQLite files), ${topo.label}`, "ms", true);
    reg.record(`firstwrite.${topo.id}`, round(firstWriteMs, 1));
  }
  log(`${topo.label}: ready in ${startMs.toFixed(0)} ms (pids ${cluster.pids.join(", ")}); activated ${settings.objects} objects in ${activateMs.toFixed(0)} ms${Number.isNaN(firstWriteMs) ? "" : `, first writes in ${firstWriteMs.toFixed(0)} ms`}`);
  return cluster;
}

// ---------------------------------------------------------------------------------------------------
// Scenario keys and labels

const METHOD_TEXT: Record<BenchMethod, string> = {
  increment: "`increment()` (no storage)",
  incrementStored: "`incrementStored()` (1 KV write)",
};
const METHOD_ID: Record<BenchMethod, string> = { increment: "mem", incrementStored: "kv" };

function seqKey(topo: Topology, method: BenchMethod): string {
  return `rpc.seq.${METHOD_ID[method]}.${topo.id}`;
}
function thrKey(topo: Topology, method: BenchMethod, v: ThroughputVariant = MAIN_VARIANT): string {
  return `rpc.thr.${METHOD_ID[method]}.${topo.id}${v.suffix}`;
}

/** Throughput is measured at 256 and 16 calls in flight, over all the objects and over one. */
interface ThroughputVariant {
  suffix: string;
  inFlight: number;
  oneObject: boolean;
}
const MAIN_VARIANT: ThroughputVariant = { suffix: "", inFlight: 256, oneObject: false };
const THROUGHPUT_VARIANTS: ThroughputVariant[] = [
  MAIN_VARIANT,
  { suffix: ".f16", inFlight: 16, oneObject: false },
  { suffix: ".o1", inFlight: 256, oneObject: true },
  { suffix: ".f16.o1", inFlight: 16, oneObject: true },
];
// Every variant on the topologies that compare hostCount 1 and 2; the main one elsewhere.
function variantsOf(topo: Topology): ThroughputVariant[] {
  return topo.isolatesPerHost === 1 ? THROUGHPUT_VARIANTS : [MAIN_VARIANT];
}
function stubsFor(c: Cluster, v: ThroughputVariant): Stub[] {
  return v.oneObject ? c.oneStub : c.stubs;
}

function defineFigures(reg: Registry, s: Settings): void {
  if (s.rpc) {
    reg.define("echo.seq.p50", "Raw echo: sequential round trip p50", "µs");
    reg.define("echo.seq.p99", "Raw echo: sequential round trip p99", "µs");
  }
  if (s.rpc || s.gate) for (const k of ECHO_IN_FLIGHT) reg.define(`echo.pipe.${k}`, `Raw echo: pipelined, ${k} in flight`, "frames/s");
  if (s.rpc) defineRpcFigures(reg, s);
  if (s.gate) defineGateFigures(reg, s);
}

function defineRpcFigures(reg: Registry, s: Settings): void {
  for (const topo of s.topologies) {
    for (const m of topo.sequential) {
      const key = seqKey(topo, m);
      reg.define(`${key}.p50`, `RPC sequential ${METHOD_TEXT[m]}, ${topo.label}: p50`, "µs");
      reg.define(`${key}.p99`, `RPC sequential ${METHOD_TEXT[m]}, ${topo.label}: p99`, "µs");
      reg.ratio(`${key}.p50`, "echo.seq.p50", "÷ echo p50");
      reg.ratio(`${key}.p99`, "echo.seq.p99", "÷ echo p99");
      if (m === "increment") {
        reg.targets.push({ figure: `${key}.p50`, ratio: `${key}.p50/echo.seq.p50`, op: "<=", value: 3, text: "≤ 3× echo p50 (issue 2)" });
        reg.targets.push({ figure: `${key}.p50`, ratio: `${key}.p50/echo.seq.p50`, op: "<=", value: 2, text: "≤ 2× echo p50 (issue 5)" });
      }
    }
  }
  for (const topo of s.topologies) {
    for (const v of variantsOf(topo)) {
      for (const m of topo.throughput) {
        const key = thrKey(topo, m, v);
        const over = v.oneObject ? "1 object" : `${s.objects} objects`;
        reg.define(key, `RPC throughput ${METHOD_TEXT[m]}, ${v.inFlight} in flight over ${over}, ${topo.label}`, "calls/s");
        reg.ratio(key, `echo.pipe.${v.inFlight}`, `÷ echo @${v.inFlight}`);
        if (v !== MAIN_VARIANT || topo.hostCount !== 2) continue;
        if (m === "increment") {
          reg.targets.push({ figure: key, op: ">=", value: 50_000, text: "≥ 50 000/s" });
          reg.targets.push({ figure: key, op: ">=", value: 150_000, text: "≥ 150 000/s" });
          if (topo.isolatesPerHost === 1) reg.targets.push({ figure: key, ratio: `${key}/echo.pipe.256`, op: ">=", value: 0.2, text: "≥ 20% of echo @256" });
        }
        if (m === "incrementStored") reg.targets.push({ figure: key, op: ">=", value: 60_000, text: "≥ 60 000/s" });
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// The input gate under load: the same read-modify-write of one counter through the sync KV API and
// through the promise API, 256 calls in flight on one object. Only the input gate keeps the promise
// variant correct (the calls beside an awaited `storage.get` wait). The gate holds both variants
// alike (the runtime cannot tell which API a method will use), so async ÷ sync is the cost of the
// awaits under the gate; the gate's own cost shows in these rows against a run of an earlier commit.

const GATE_IN_FLIGHT = 256;
/** Per round: the sync variant (the baseline), then the async one. */
const GATE_METHODS: GateMethod[] = ["incrementStored", "incrementStoredAsync"];
const GATE_TEXT: Record<GateMethod, string> = {
  incrementStored: "sync API (`kv.get` + `kv.put`)",
  incrementStoredAsync: "async API (`await storage.get` + `await storage.put`)",
};

function gateKey(topo: Topology, m: GateMethod): string {
  return `gate.${m === "incrementStored" ? "sync" : "async"}.${topo.id}`;
}

function defineGateFigures(reg: Registry, s: Settings): void {
  for (const topo of s.topologies) {
    if (!topo.gate) continue;
    for (const m of GATE_METHODS) {
      reg.define(gateKey(topo, m), `Input gate: RPC read-modify-write of one counter, ${GATE_TEXT[m]}, ${GATE_IN_FLIGHT} in flight on 1 object, ${topo.label}`, "calls/s");
    }
    const sync = gateKey(topo, "incrementStored");
    reg.ratio(sync, `echo.pipe.${GATE_IN_FLIGHT}`, `÷ echo @${GATE_IN_FLIGHT}`);
    reg.ratio(gateKey(topo, "incrementStoredAsync"), sync, "÷ sync API");
  }
}

/** One run of a gate variant on the cluster's gate object: calls/s, and the calls made. */
function gateRun(c: Cluster, m: GateMethod, warmupMs: number, measureMs: number): Promise<{ rate: number; calls: number }> {
  const budget = warmupMs + measureMs + DRAIN_BUDGET_MS + 5_000;
  return bounded(`input gate ${m}() on ${c.topo.label}`, budget, rpcThroughput([c.gate.stub], m, GATE_IN_FLIGHT, warmupMs, measureMs));
}

/**
 * After every gate run: the stored counter must equal every call made on the gate object so far
 * (each call adds one). Less means two calls read the same value: a lost update, which fails the run.
 */
async function checkGate(c: Cluster, m: GateMethod, calls: number): Promise<void> {
  c.gate.calls += calls;
  const stored = checkNumber(await bounded(`reading the gate counter on ${c.topo.label}`, DRAIN_BUDGET_MS, c.gate.stub.stored()), "stored()");
  c.gate.stored = stored;
  if (stored === c.gate.calls) return;
  const made = c.gate.calls.toLocaleString("en-US");
  throw new Error(
    `bench: input gate on ${c.topo.label}: the counter is ${stored.toLocaleString("en-US")} after ${made} read-modify-write calls ` +
      `(this run: ${calls.toLocaleString("en-US")} of ${m}(), ${GATE_IN_FLIGHT} in flight): ${(c.gate.calls - stored).toLocaleString("en-US")} updates lost. ` +
      `Calls delivered while another call awaits storage must wait for it (the input gate, runtime/object/object-table.ts).`,
  );
}

// ---------------------------------------------------------------------------------------------------
// The run

/**
 * An unrecorded pass over every RPC scenario before round 1: the first thousands of calls after
 * start-up and object activation run while JIT tiers up and the activation garbage is collected
 * (their p99 reached ~1.5 ms), which would penalize round 1 only.
 */
async function warmUpRound(s: Settings): Promise<void> {
  log("warm-up pass (not recorded)");
  for (const c of clusters) {
    if (s.gate && c.topo.gate) {
      for (const m of GATE_METHODS) await checkGate(c, m, (await gateRun(c, m, 0, s.throughputWarmupMs * 2)).calls);
    }
    if (!s.rpc) continue;
    for (const m of c.topo.sequential) {
      const calls = s.rpcSequentialCalls + s.rpcSequentialWarmup;
      const budget = SEQUENTIAL_BUDGET_BASE_MS * 2 + (calls * SEQUENTIAL_BUDGET_US_PER_CALL) / 1000;
      await bounded(`warm-up sequential ${m}() on ${c.topo.label}`, budget, rpcSequential(c.seqStubs[m], m, calls, 0));
    }
    for (const v of variantsOf(c.topo)) {
      for (const m of c.topo.throughput) {
        const budget = s.throughputWarmupMs * 2 + DRAIN_BUDGET_MS + 5_000;
        await bounded(`warm-up throughput ${m}() on ${c.topo.label}`, budget, rpcThroughput(stubsFor(c, v), m, v.inFlight, 0, s.throughputWarmupMs * 2));
      }
    }
  }
}

async function runRounds(s: Settings, reg: Registry, echoDir: string, http: HttpScenarios | undefined): Promise<void> {
  await warmUpRound(s);
  for (let r = 0; r < s.rounds; r++) {
    log(`round ${r + 1}/${s.rounds}`);
    if (s.rpc || s.gate) await rpcRound(s, reg, echoDir);
    // A: HTTP on workerd, B: HTTP on serve(), per case.
    await http?.round(reg);
  }
}

/**
 * One round of scenarios 1 and 2 and the input gate: echo sequential → RPC sequential → echo
 * pipelined → RPC throughput → gate sync → gate async (each part only when its group runs).
 */
async function rpcRound(s: Settings, reg: Registry, echoDir: string): Promise<void> {
  if (s.rpc) await rpcSequentialPhase(s, reg, echoDir);

  // A: raw echo, pipelined (fresh echo server; its sequential phase is a 1-call formality).
  const ep = await measureRawEcho({ runDir: echoDir, sequentialCalls: 1, pipelinedMs: s.echoPipelinedMs, inFlight: [...ECHO_IN_FLIGHT] });
  for (const k of ECHO_IN_FLIGHT) reg.record(`echo.pipe.${k}`, ep.throughput[k] ?? Number.NaN);
  log(`  echo pipelined ${ECHO_IN_FLIGHT.map((k) => `${k}: ${(ep.throughput[k] ?? 0).toLocaleString("en-US")}/s`).join(", ")}`);

  if (s.rpc) await rpcThroughputPhase(s, reg);

  // A: read-modify-write with the sync KV API, B: the same with the promise API, per topology.
  if (!s.gate) return;
  for (const c of clusters) {
    if (!c.topo.gate) continue;
    for (const m of GATE_METHODS) {
      const key = gateKey(c.topo, m);
      const w0 = nowUs();
      const { rate, calls } = await gateRun(c, m, s.throughputWarmupMs, s.throughputMs);
      addWindow(c, key, w0, nowUs());
      reg.record(key, Math.round(rate));
      log(`  ${c.topo.id} input gate ${m}: ${Math.round(rate).toLocaleString("en-US")} calls/s`);
      await checkGate(c, m, calls);
    }
  }
}

async function rpcSequentialPhase(s: Settings, reg: Registry, echoDir: string): Promise<void> {
  // A: raw echo, sequential (fresh echo server).
  const es = await measureRawEcho({ runDir: echoDir, sequentialCalls: s.echoSequentialCalls, inFlight: [] });
  reg.record("echo.seq.p50", es.rttP50Us);
  reg.record("echo.seq.p99", es.rttP99Us);
  log(`  echo sequential p50 ${es.rttP50Us} µs, p99 ${es.rttP99Us} µs`);

  // B: typed RPC, sequential.
  for (const c of clusters) {
    for (const m of c.topo.sequential) {
      const budget = SEQUENTIAL_BUDGET_BASE_MS * 2 + ((s.rpcSequentialCalls + s.rpcSequentialWarmup) * SEQUENTIAL_BUDGET_US_PER_CALL) / 1000;
      const w0 = nowUs();
      const res = await bounded(`sequential ${m}() on ${c.topo.label}`, budget, rpcSequential(c.seqStubs[m], m, s.rpcSequentialCalls, s.rpcSequentialWarmup));
      const key = seqKey(c.topo, m);
      addWindow(c, key, w0, nowUs());
      reg.record(`${key}.p50`, round(res.p50, 2));
      reg.record(`${key}.p99`, round(res.p99, 2));
      log(`  ${c.topo.id} sequential ${m}: p50 ${res.p50.toFixed(1)} µs, p99 ${res.p99.toFixed(1)} µs`);
    }
  }
}

async function rpcThroughputPhase(s: Settings, reg: Registry): Promise<void> {
  // B: typed RPC throughput.
  for (const c of clusters) {
    for (const v of variantsOf(c.topo)) {
      for (const m of c.topo.throughput) {
        const budget = s.throughputWarmupMs + s.throughputMs + DRAIN_BUDGET_MS + 5_000;
        const key = thrKey(c.topo, m, v);
        const w0 = nowUs();
        const { rate } = await bounded(`throughput ${m}() on ${c.topo.label}`, budget, rpcThroughput(stubsFor(c, v), m, v.inFlight, s.throughputWarmupMs, s.throughputMs));
        addWindow(c, key, w0, nowUs());
        reg.record(key, Math.round(rate));
        log(`  ${c.topo.id}${v.suffix} throughput ${m}: ${Math.round(rate).toLocaleString("en-US")} calls/s`);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Reporting

function fmt(value: number, unit: Unit): string {
  if (!Number.isFinite(value)) return "n/a";
  switch (unit) {
    case "µs":
      return `${value.toFixed(1)} µs`;
    case "ms":
      return `${value.toFixed(0)} ms`;
    case "count":
      return value.toLocaleString("en-US");
    case "MiB":
      return `${Math.round(value).toLocaleString("en-US")} MiB`;
    case "×":
      return `${value >= 0.1 ? value.toFixed(2) : value.toPrecision(2)}×`;
    case "frames/s":
    case "calls/s":
    case "req/s":
      return `${Math.round(value).toLocaleString("en-US")}/s`;
  }
}

function fmtRange(st: Stats, unit: Unit): string {
  return `${fmt(st.min, unit)} – ${fmt(st.max, unit)}`;
}

function targetMet(t: Target, reg: Registry): boolean | undefined {
  let v: number;
  if (t.ratio !== undefined) {
    const r = reg.ratios.find((x) => x.key === t.ratio);
    if (r === undefined) return undefined;
    v = stats(reg.pairedRatios(r)).median;
  } else {
    v = stats(reg.figures.get(t.figure)?.runs ?? []).median;
  }
  if (!Number.isFinite(v)) return undefined;
  return t.op === "<=" ? v <= t.value : v >= t.value;
}

function markdownTable(reg: Registry, s: Settings, extraNotes: string[]): string {
  const lines: string[] = [];
  lines.push("| Scenario | Median | Min – max | Ratio to the baseline of the same round (raw echo; workerd for HTTP; sync API for the input gate): median (min – max) | Target (on the median) |");
  lines.push("|---|---:|---:|---|---|");
  for (const f of reg.figures.values()) {
    if (f.once === true) continue;
    if (f.skipped !== undefined && f.runs.length === 0) {
      lines.push(`| ${f.label} | skipped: ${f.skipped} | — | — | |`);
      continue;
    }
    const st = stats(f.runs);
    const ratios = reg.ratios.filter((r) => r.num === f.key && reg.pairedRatios(r).length > 0);
    const ratioText = ratios
      .map((r) => {
        const rs = stats(reg.pairedRatios(r));
        const ofMedians = st.median / stats(reg.figures.get(r.den)?.runs ?? []).median;
        return `${fmt(rs.median, "×")} ${r.label} (${fmt(rs.min, "×")} – ${fmt(rs.max, "×")}; ratio of medians ${fmt(ofMedians, "×")})`;
      })
      .join("; ");
    const targets = reg.targets
      .filter((t) => t.figure === f.key)
      .map((t) => {
        const met = targetMet(t, reg);
        return `${t.text} ${met === undefined ? "?" : met ? "✓" : "✗"}`;
      })
      .join("; ");
    lines.push(`| ${f.label} | ${fmt(st.median, f.unit)} | ${fmtRange(st, f.unit)} | ${ratioText === "" ? "—" : ratioText} | ${targets} |`);
  }
  const once = [...reg.figures.values()].filter((f) => f.once === true);
  if (once.length > 0) {
    lines.push("");
    lines.push("Measured once, not alternated (set-up before round 1; file descriptors, disk and close after the last round):");
    lines.push("");
    lines.push("| Setup | Value |");
    lines.push("|---|---:|");
    for (const f of once) lines.push(`| ${f.label} | ${fmt(f.runs[0] ?? Number.NaN, f.unit)} |`);
  }
  lines.push("");
  const echoRuns = reg.figures.get("echo.seq.p50")?.runs ?? [];
  const echoPipe = reg.figures.get(`echo.pipe.${s.inFlight}`)?.runs ?? [];
  lines.push(`Notes:`);
  if (s.rpc) {
    lines.push(
      `- ${s.rounds} rounds, alternating baseline and scenarios within each round: echo sequential → every RPC sequential scenario → echo pipelined → every RPC throughput scenario. ` +
        `Ratios pair each RPC run with the echo run of the same round; "Min – max" is over rounds.`,
    );
    lines.push(
      `- Before round 1, every coordinator started, activated all objects and created their SQLite files, then ran one unrecorded warm-up pass of every RPC scenario. Sequential: ${s.echoSequentialCalls.toLocaleString("en-US")} echo round trips / ${s.rpcSequentialCalls.toLocaleString("en-US")} RPC calls per run after warm-up, one object. ` +
        `Throughput: exactly 256 (or 16) calls in flight, round-robin over ${s.objects} objects (or on one object), ${s.throughputWarmupMs} ms warm-up + ${s.throughputMs} ms window per run; echo pipelined ${s.echoPipelinedMs} ms per level.`,
    );
    lines.push(
      `- Raw echo p50 per round: ${echoRuns.map((v) => v.toFixed(1)).join(", ")} µs; echo @${s.inFlight} per round: ${echoPipe.map((v) => Math.round(v / 1000).toLocaleString("en-US") + "k").join(", ")}/s. ` +
        `On this VM cross-core wake-ups are expensive and the echo baseline is bimodal (≈ 60 µs typical, ≈ 18 µs when the scheduler packs both processes on one core); paired ratios compare runs that saw the same conditions.`,
    );
    lines.push(`- KV writes: one \`ctx.storage.kv.put\` per call, committed (SQLite WAL, synchronous=NORMAL) before the reply leaves, each call to a different object than the calls beside it (no group commit); every commit appends a page to that object's WAL, so storage grows during the run (see "Storage on disk"); storage in a temp dir on ${os.tmpdir()}.`);
  } else if (s.gate) {
    lines.push(`- ${s.rounds} rounds; raw echo sequential and typed RPC scenarios not run (--scenarios); echo pipelined ${s.echoPipelinedMs} ms per level, beside the input gate.`);
  } else {
    lines.push(`- ${s.rounds} rounds; raw echo and typed RPC not run (--scenarios).`);
  }
  if (s.gate) lines.push(gateNote(s));
  lines.push(...extraNotes);
  return lines.join("\n");
}

function gateNote(s: Settings): string {
  const checked = clusters
    .filter((c) => c.topo.gate)
    .map((c) =>
      c.gate.stored === c.gate.calls
        ? `${c.gate.calls.toLocaleString("en-US")} calls, counter ${c.gate.stored.toLocaleString("en-US")}, on ${c.topo.label}`
        : `LOST UPDATES on ${c.topo.label}: counter ${c.gate.stored.toLocaleString("en-US")} after ${c.gate.calls.toLocaleString("en-US")} calls`,
    )
    .join("; ");
  return (
    `- Input gate: one object (\`gate\`), one counter, every call \`n = get("n") + 1; put("n", n)\` with ${GATE_IN_FLIGHT} calls in flight; per round the sync API run, then the async API run on the same object, ` +
    `each ${s.throughputWarmupMs} ms warm-up + ${s.throughputMs} ms window, one commit per call (output gate). With the async API each call awaits storage twice; the input gate makes the object's other calls wait meanwhile, so no two calls read the same \`n\`. ` +
    `The gate holds the sync variant too (the runtime cannot tell which API a method uses): the ratio is the cost of the awaits under the gate, and the gate's own cost shows in the one-object rows against an earlier commit. ` +
    `After every run (warm-up pass included) the bench reads the stored counter, which must equal the calls made so far, or the run fails (a lost update): ${checked === "" ? "not run" : checked}.`
  );
}

interface JsonFigure {
  label: string;
  unit: Unit;
  runs: number[];
  median: number;
  min: number;
  max: number;
  once?: boolean;
}

function jsonResults(reg: Registry, s: Settings, args: Args, command: string, date: string, extra: Record<string, unknown>): unknown {
  const figures: Record<string, JsonFigure> = {};
  for (const f of reg.figures.values()) figures[f.key] = { label: f.label, unit: f.unit, runs: f.runs, ...stats(f.runs), ...(f.once === true ? { once: true } : {}) };
  const ratios: Record<string, unknown> = {};
  for (const r of reg.ratios) {
    const paired = reg.pairedRatios(r).map((v) => round(v, 4));
    const st = stats(paired);
    const num = stats(reg.figures.get(r.num)?.runs ?? []).median;
    const den = stats(reg.figures.get(r.den)?.runs ?? []).median;
    ratios[r.key] = { numerator: r.num, denominator: r.den, pairing: "same round", runs: paired, ...st, ratioOfMedians: round(num / den, 4) };
  }
  const targets = reg.targets.map((t) => ({ figure: t.figure, ratio: t.ratio, op: t.op, value: t.value, text: t.text, met: targetMet(t, reg) ?? null }));
  return {
    machine: {
      cpuModel: os.cpus()[0]?.model ?? "unknown",
      cores: os.availableParallelism(),
      platform: `${os.type()} ${os.release()} ${os.arch()}`,
      memoryGiB: round(os.totalmem() / 2 ** 30, 1),
      node: process.version,
    },
    date,
    quick: args.quick,
    profile: args.profile,
    command,
    settings: { ...s, topologies: s.topologies.map((t) => ({ id: t.id, label: t.label, hostCount: t.hostCount, isolatesPerHost: t.isolatesPerHost, sequential: t.sequential, throughput: t.throughput })) },
    figures,
    ratios,
    targets,
    ...extra,
  };
}

function commandLine(argv: string[]): string {
  if (process.env["npm_lifecycle_event"] === "bench") return `npm run bench${argv.length > 0 ? ` -- ${argv.join(" ")}` : ""}`;
  return `node --import tsx bench/run.ts${argv.length > 0 ? ` ${argv.join(" ")}` : ""}`;
}

// ---------------------------------------------------------------------------------------------------
// Profiles

async function startSelfProfile(): Promise<Session> {
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.start");
  return session;
}

async function stopSelfProfile(session: Session): Promise<string> {
  const { profile } = await session.post("Profiler.stop");
  session.disconnect();
  const file = path.join(profilesDir, `bench-main.${new Date().toISOString().replace(/[:.]/g, "-")}.${process.pid}.cpuprofile`);
  fs.writeFileSync(file, JSON.stringify(profile));
  return file;
}

const PROFILE_TOP = 12;
/** A thread whose busy time is below this share of the windows gets a one-line note, not a table. */
const PROFILE_IDLE_SHARE = 0.03;

interface Section {
  title: string;
  windows: Array<[number, number]>;
}

/**
 * Summaries of the profiles written during this run, restricted to measurement windows (start-up,
 * object activation and shutdown left out): per isolate thread, one table per throughput scenario
 * of its topology; for the bench process, one table per throughput scenario of the first topology.
 */
function summarizeProfiles(before: Set<string>, selfFile: string | undefined, httpOwner: ProfileOwner | undefined): string {
  const out: string[] = [];
  const files = fs
    .readdirSync(profilesDir)
    .filter((f) => f.endsWith(".cpuprofile") && !before.has(f))
    .map((f) => path.join(profilesDir, f))
    .sort();
  if (files.length === 0) return "No profiles were written.";
  const scenarioWindows = (c: Cluster, kind: "thr" | "all"): Section[] => {
    const sections: Section[] = [];
    if (kind === "thr") {
      for (const m of c.topo.throughput) sections.push({ title: `throughput ${m}()`, windows: c.windows.get(thrKey(c.topo, m)) ?? [] });
      if (c.topo.gate) for (const m of GATE_METHODS) sections.push({ title: `input gate ${m}()`, windows: c.windows.get(gateKey(c.topo, m)) ?? [] });
    } else {
      sections.push({ title: "all measurement windows of this topology", windows: [...c.windows.values()].flat() });
    }
    return sections;
  };
  const emit = (file: string, title: string, sections: Section[]): void => {
    for (const sec of sections) {
      if (sec.windows.length === 0) continue;
      const heading = `${title} — ${sec.title}`;
      try {
        const summary = summarizeProfile(file, PROFILE_TOP, sec.windows);
        if (summary.totalMs > 0 && (summary.busyMs + summary.gcMs) / summary.totalMs < PROFILE_IDLE_SHARE) {
          out.push(`#### ${heading}\n\n\`${path.basename(file)}\`: idle (${summary.busyMs + summary.gcMs} ms busy of ${summary.totalMs} ms sampled).`);
        } else {
          out.push(formatSummary(summary, heading));
        }
      } catch (error) {
        out.push(`#### ${heading}\n\n${error instanceof Error ? error.message : String(error)}`);
      }
    }
  };
  for (const file of files) {
    const base = path.basename(file);
    if (file === selfFile) {
      const first = clusters[0];
      if (first !== undefined) emit(file, `bench process (caller) while ${first.topo.label} ran`, scenarioWindows(first, "thr"));
      if (httpOwner !== undefined) emit(file, "bench process (the serve() front: node:http, fetch adapter, worker, RPC caller)", httpOwner.sections);
      continue;
    }
    // --cpu-prof names files CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile
    const m = /^CPU\.\d+\.\d+\.(\d+)\.(\d+)\.\d+\.cpuprofile$/.exec(base);
    const pid = Number(m?.[1] ?? -1);
    const tid = Number(m?.[2] ?? -1);
    const owner = clusters.find((c) => c.pids.includes(pid));
    if (owner === undefined && httpOwner?.pids.includes(pid) === true) {
      const host = httpOwner.pids.indexOf(pid);
      const isolate = httpOwner.threadIds[host]?.indexOf(tid) ?? -1;
      const who = tid === 0 ? "main thread (supervisor)" : isolate >= 0 ? `isolate ${isolate} (thread ${tid})` : `thread ${tid} (not an isolate)`;
      const sections = isolate >= 0 ? httpOwner.sections : [{ title: "all HTTP windows", windows: httpOwner.sections.flatMap((x) => x.windows) }];
      emit(file, `${httpOwner.label}, host ${host} (pid ${pid}), ${who}`, sections);
      continue;
    }
    if (owner === undefined) {
      out.push(`#### ${base}\n\nnot attributed to a host of this run.`);
      continue;
    }
    const host = owner.pids.indexOf(pid);
    const isolate = owner.threadIds[host]?.indexOf(tid) ?? -1;
    const who =
      tid === 0 ? "main thread (supervisor)" : isolate >= 0 ? `isolate ${isolate} (thread ${tid})` : `thread ${tid} (not an isolate: the module-hooks thread tsx registers)`;
    const title = `${owner.topo.label}, host ${host} (pid ${pid}), ${who}`;
    emit(file, title, isolate >= 0 ? scenarioWindows(owner, "thr") : scenarioWindows(owner, "all"));
  }
  return out.join("\n\n");
}

// ---------------------------------------------------------------------------------------------------
// Main

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const args = parseArgs(argv);
  const base = args.quick ? QUICK : FULL;
  const known = [TOPO_2x1, TOPO_2x2, TOPO_1x2, TOPO_1x1];
  for (const id of args.topologies ?? []) {
    if (!known.some((t) => t.id === id)) throw new Error(`unknown topology ${id} (known: ${known.map((t) => t.id).join(", ")})`);
  }
  for (const id of args.scenarios ?? []) {
    if (id !== "rpc" && id !== "http" && id !== "gate") throw new Error(`unknown scenario group ${id} (known: rpc, http, gate)`);
  }
  const rpc = args.scenarios?.includes("rpc") ?? base.rpc;
  const withHttp = args.scenarios?.includes("http") ?? base.http;
  const gate = args.scenarios?.includes("gate") ?? base.gate;
  const chosen = args.topologies === undefined ? base.topologies : known.filter((t) => args.topologies?.includes(t.id));
  // Without the rpc group, only the topologies the gate scenario runs on are started.
  const topologies = rpc ? chosen : gate ? chosen.filter((t) => t.gate) : [];
  if (gate && !topologies.some((t) => t.gate)) log("note: the input-gate scenario runs on h2i1 only, which is not among the topologies; it is skipped");
  const settings: Settings = { ...base, rounds: args.rounds ?? base.rounds, topologies, rpc, http: withHttp, gate };
  const command = commandLine(argv);
  const version = codeVersion();
  if (distIsStale()) log("warning: runtime/ has sources newer than dist/; run `npm run build` first, or the bench measures old code");
  const date = new Date().toISOString();
  const reg = new Registry();
  defineFigures(reg, settings);
  if (settings.http) {
    http = new HttpScenarios(args.quick ? HTTP_QUICK : HTTP_FULL, { log, profile: args.profile, profilesDir });
    http.define(reg);
  }

  fs.mkdirSync(resultsDir, { recursive: true });
  let profileSession: Session | undefined;
  let profilesBefore = new Set<string>();
  if (args.profile) {
    fs.mkdirSync(profilesDir, { recursive: true });
    profilesBefore = new Set(fs.readdirSync(profilesDir));
    profileSession = await startSelfProfile();
  }

  // Whole-run watchdog: a wedged phase must not keep the machine busy forever.
  const watchdog = setTimeout(() => {
    log(`aborting: the run exceeded its budget of ${settings.totalBudgetMs / 1000} s`);
    process.exitCode = 1;
    void bounded("cleanup", CLOSE_BUDGET_MS, cleanup()).finally(() => process.exit(1));
  }, settings.totalBudgetMs);
  watchdog.unref();
  process.once("SIGINT", () => {
    log("interrupted; closing coordinators");
    void bounded("cleanup", CLOSE_BUDGET_MS, cleanup()).finally(() => process.exit(130));
  });

  const loadStart = os.loadavg();
  const busyBefore = await machineBusy(1000);
  if (busyBefore > 0.1) log(`warning: the machine is ${(busyBefore * 100).toFixed(0)}% busy before the run starts; figures will be distorted`);
  const t0 = performance.now();
  log(`${args.quick ? "quick" : "full"} run: ${settings.rounds} rounds; ${os.cpus()[0]?.model ?? "?"} × ${os.availableParallelism()}, Node ${process.version}`);
  const echoDir = fs.mkdtempSync(path.join(os.tmpdir(), "sourdough-bench-echo-"));
  tempDirs.push(echoDir);
  let failed: unknown;
  let leftover: number[] = [];
  try {
    for (const topo of settings.topologies) await startCluster(topo, settings, args.profile, reg);
    await http?.start(reg);
    await runRounds(settings, reg, echoDir, http);
    await http?.verify();
    for (const c of clusters) {
      const fds = c.pids.map(openFds);
      if (fds.some((n) => n === undefined)) continue;
      reg.define(`fds.${c.topo.id}`, `Open file descriptors per host process after the rounds (objects stay active), ${c.topo.label}`, "count", true);
      reg.record(`fds.${c.topo.id}`, Math.max(...fds.map((n) => n ?? 0)));
    }
    for (const c of clusters) {
      if (!c.topo.throughput.includes("incrementStored")) continue;
      const bytes = storageBytes(c.storageDir);
      reg.define(`disk.${c.topo.id}`, `Storage on disk after the rounds (of which WAL: ${(bytes.wal / 2 ** 20).toFixed(0)} MiB), ${c.topo.label}`, "MiB", true);
      reg.record(`disk.${c.topo.id}`, round(bytes.total / 2 ** 20, 1));
    }
  } catch (error) {
    failed = error;
  } finally {
    await cleanup();
    leftover = [...clusters.flatMap((c) => c.pids).filter((pid) => pid > 0 && alive(pid)), ...(http?.leftoverPids() ?? [])];
    clearTimeout(watchdog);
  }
  for (const c of clusters) {
    const ms = closeMs.get(c.topo.id);
    if (ms === undefined) continue;
    const dbs = c.topo.throughput.includes("incrementStored") ? ` (commits and closes ${databaseCount(c, settings)} SQLite databases)` : "";
    reg.define(`close.${c.topo.id}`, `Coordinator close, ${c.topo.label}${dbs}`, "ms", true);
    reg.record(`close.${c.topo.id}`, round(ms, 1));
  }
  http?.recordOnce(reg);
  const loadEnd = os.loadavg();
  const elapsedS = (performance.now() - t0) / 1000;
  if (failed !== undefined) {
    log(`FAILED: ${failed instanceof Error ? (failed.stack ?? failed.message) : String(failed)}`);
    process.exitCode = 1;
  }
  if (leftover.length > 0) {
    log(`processes still alive after close (hosts, workerd, load driver): ${leftover.join(", ")}`);
    process.exitCode = 1;
  }

  let selfProfile: string | undefined;
  if (profileSession !== undefined) selfProfile = await stopSelfProfile(profileSession);

  const load =
    `- Other load: the machine was ${(busyBefore * 100).toFixed(0)}% busy in the second before the run (all cores); ` +
    `load average (1 min) ${loadStart[0]?.toFixed(2)} at start, ${loadEnd[0]?.toFixed(2)} at end (includes this run).`;
  const table = `${markdownTable(reg, settings, http?.notes() ?? [])}\n${load}`;
  const header =
    `sourdough bench — ${os.cpus()[0]?.model ?? "unknown CPU"} (${os.availableParallelism()} cores), Node ${process.version}, ${date}, ` +
    `\`${command}\`${args.quick ? " (quick)" : ""}, commit ${version.commit} (dist built ${version.distBuilt})${args.profile ? " — PROFILER ON: figures are distorted" : ""}; ${elapsedS.toFixed(0)} s` +
    `${failed !== undefined ? " — RUN FAILED, partial results" : ""}`;
  process.stdout.write(`${header}\n\n${table}\n`);

  let profileText = "";
  if (args.profile) {
    profileText = summarizeProfiles(profilesBefore, selfProfile, http?.profileOwner());
    process.stdout.write(`\n### CPU profiles (self time, top functions)\n\n${profileText}\n`);
  }

  const stem = args.profile ? "profile-latest" : "latest";
  const json = jsonResults(reg, settings, args, command, date, {
    elapsedSeconds: round(elapsedS, 1),
    code: version,
    failed: failed === undefined ? null : failed instanceof Error ? failed.message : String(failed),
    leftoverHostPids: leftover,
    loadAverage: { start: loadStart, end: loadEnd },
    machineBusyBeforeStart: round(busyBefore, 3),
    http: http?.json() ?? null,
    inputGate: settings.gate ? Object.fromEntries(clusters.filter((c) => c.topo.gate).map((c) => [c.topo.id, { object: "gate", calls: c.gate.calls, counter: c.gate.stored, lostUpdates: c.gate.calls - c.gate.stored }])) : null,
  });
  fs.writeFileSync(path.join(resultsDir, `${stem}.json`), `${JSON.stringify(json, null, 2)}\n`);
  fs.writeFileSync(path.join(resultsDir, `${stem}.md`), `${header}\n\n${table}\n${profileText === "" ? "" : `\n### CPU profiles (self time, top functions)\n\n${profileText}\n`}`);
  log(`wrote ${path.relative(process.cwd(), path.join(resultsDir, `${stem}.json`))} and ${stem}.md`);
}

try {
  await main();
} catch (error) {
  // Bad arguments and other failures before any process was started.
  log(error instanceof Error ? error.message : String(error));
  process.exitCode = 2;
}
