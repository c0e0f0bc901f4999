// bench/run.ts's scenarios: the coordinators it starts (one per topology), the figures each
// scenario defines, and the rounds that measure them (raw echo, typed RPC, the input gate).
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ClusterCoordinator } from "sourdough";
import type { HttpScenarios } from "../http-load.ts";
import { BenchMsgpackCounter } from "../msgpack-objects.ts";
import { BenchCounter } from "../objects.ts";
import { measureRawEcho } from "../raw-echo.ts";
import {
  DRAIN_BUDGET_MS,
  SEQUENTIAL_BUDGET_BASE_MS,
  SEQUENTIAL_BUDGET_US_PER_CALL,
  bounded,
  callEach,
  checkNumber,
  round,
  rpcSequential,
  rpcThroughput,
  type BenchMethod,
  type Stub,
} from "../rpc-drivers.ts";
import { generated } from "../sourdough.gen/index.ts";
import { log, nowUs, type Registry } from "./measure.ts";
import { ACTIVATE_BUDGET_MS, CLOSE_BUDGET_MS, ECHO_IN_FLIGHT, START_BUDGET_MS, profilesDir, type GateMethod, type Settings, type Topology } from "./settings.ts";


export interface Cluster {
  topo: Topology;
  coordinator: ClusterCoordinator;
  storageDir: string;
  stubs: Stub[];
  /** One object, for the throughput variants that load a single object. */
  oneStub: Stub[];
  /** The msgpack-path objects (a class without generated codecs), on the topologies that measure it. */
  msgpackStubs: Stub[];
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
export function databaseCount(c: Cluster, s: Settings): number {
  const writes = c.topo.throughput.includes("incrementStored");
  let n = writes ? s.objects : 0;
  if (s.rpc && c.topo.sequential.includes("incrementStored")) n++; // seq-kv
  if (s.rpc && writes && variantsOf(c.topo).some((v) => v.oneObject)) n++; // thr-one
  if (s.gate && c.topo.gate) n++; // gate
  return n;
}


export function addWindow(c: Cluster, key: string, start: number, end: number): void {
  let list = c.windows.get(key);
  if (list === undefined) c.windows.set(key, (list = []));
  list.push([start, end]);
}

export const clusters: Cluster[] = [];
export const tempDirs: string[] = [];
/** How long each coordinator took to close (ms), by topology id. */
export const closeMs = new Map<string, number>();
let cleaning: Promise<void> | undefined;

export async function closeCluster(c: Cluster): Promise<void> {
  const t0 = performance.now();
  await bounded(`closing ${c.topo.label}`, CLOSE_BUDGET_MS, c.coordinator.close());
  closeMs.set(c.topo.id, performance.now() - t0);
}

/** Closes the HTTP scenarios (when they ran) and every coordinator, one at a time; removes the temp dirs. Idempotent. */
export function cleanup(http: HttpScenarios | undefined): Promise<void> {
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


export async function startCluster(topo: Topology, settings: Settings, profile: boolean, reg: Registry): Promise<Cluster> {
  const storageDir = fs.mkdtempSync(path.join(os.tmpdir(), `sourdough-bench-${topo.id}-`));
  tempDirs.push(storageDir);
  const t0 = performance.now();
  const coordinator = new ClusterCoordinator({
    hostCount: topo.hostCount,
    isolatesPerHost: topo.isolatesPerHost,
    generated, // BenchCounter's sourdough-gen codecs: calls carry Cap'n Proto Params/Results, not msgpack
    modules: [new URL("../msgpack-objects.ts", import.meta.url)], // BenchMsgpackCounter: no codecs, msgpack path
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
    msgpackStubs: [],
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
  if (settings.rpc && measuresMsgpack(topo)) {
    // Same method and shape as BenchCounter.increment(); the stub type differs only in the methods it lacks.
    for (let i = 0; i < settings.objects; i++) cluster.msgpackStubs.push(coordinator.get(`mp-${i}`, BenchMsgpackCounter) as unknown as Stub);
    await bounded(`activating ${settings.objects} msgpack-path objects on ${topo.label}`, ACTIVATE_BUDGET_MS, callEach(cluster.msgpackStubs, "increment", settings.inFlight));
  }
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

export const METHOD_TEXT: Record<BenchMethod, string> = {
  increment: "`increment()` (no storage)",
  incrementStored: "`incrementStored()` (1 KV write)",
};
export const METHOD_ID: Record<BenchMethod, string> = { increment: "mem", incrementStored: "kv" };

export function seqKey(topo: Topology, method: BenchMethod): string {
  return `rpc.seq.${METHOD_ID[method]}.${topo.id}`;
}
export function thrKey(topo: Topology, method: BenchMethod, v: ThroughputVariant = MAIN_VARIANT): string {
  return `rpc.thr.${METHOD_ID[method]}.${topo.id}${v.suffix}`;
}

/**
 * The msgpack call path (classes sourdough-gen has not seen): `increment()` of BenchMsgpackCounter,
 * 256 in flight over the objects, on 2 hosts × 1 isolate only (the topology of the main targets).
 */
export function measuresMsgpack(topo: Topology): boolean {
  return topo.hostCount === 2 && topo.isolatesPerHost === 1;
}
export function msgpackKey(topo: Topology): string {
  return `rpc.thr.msgpack.${topo.id}`;
}

/** Throughput is measured at 256 and 16 calls in flight, over all the objects and over one. */
export interface ThroughputVariant {
  suffix: string;
  inFlight: number;
  oneObject: boolean;
}
export const MAIN_VARIANT: ThroughputVariant = { suffix: "", inFlight: 256, oneObject: false };
export const THROUGHPUT_VARIANTS: ThroughputVariant[] = [
  MAIN_VARIANT,
  { suffix: ".f16", inFlight: 16, oneObject: false },
  { suffix: ".o1", inFlight: 256, oneObject: true },
  { suffix: ".f16.o1", inFlight: 16, oneObject: true },
];
// Every variant on the topologies that compare hostCount 1 and 2; the main one elsewhere.
export function variantsOf(topo: Topology): ThroughputVariant[] {
  return topo.isolatesPerHost === 1 ? THROUGHPUT_VARIANTS : [MAIN_VARIANT];
}
export function stubsFor(c: Cluster, v: ThroughputVariant): Stub[] {
  return v.oneObject ? c.oneStub : c.stubs;
}

export function defineFigures(reg: Registry, s: Settings): void {
  if (s.rpc) {
    reg.define("echo.seq.p50", "Raw echo: sequential round trip p50", "µs");
    reg.define("echo.seq.p99", "Raw echo: sequential round trip p99", "µs");
  }
  if (s.rpc || s.gate) for (const k of ECHO_IN_FLIGHT) reg.define(`echo.pipe.${k}`, `Raw echo: pipelined, ${k} in flight`, "frames/s");
  if (s.rpc) defineRpcFigures(reg, s);
  if (s.gate) defineGateFigures(reg, s);
}

export function defineRpcFigures(reg: Registry, s: Settings): void {
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
    if (measuresMsgpack(topo) && topo.throughput.includes("increment")) {
      const key = msgpackKey(topo);
      reg.define(key, `RPC throughput \`increment()\` (no storage), msgpack path (a class without generated codecs), ${MAIN_VARIANT.inFlight} in flight over ${s.objects} objects, ${topo.label}`, "calls/s");
      reg.ratio(key, thrKey(topo, "increment"), "÷ generated codecs");
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// The input gate under load: the same read-modify-write of one counter through the sync KV API and
// through the promise API, 256 calls in flight on one object. Only the input gate keeps the promise
// variant correct (the calls beside an awaited `storage.get` wait). The gate holds both variants
// alike (the runtime cannot tell which API a method will use), so async ÷ sync is the cost of the
// awaits under the gate; the gate's own cost shows in these rows against a run of an earlier commit.

export const GATE_IN_FLIGHT = 256;
/** Per round: the sync variant (the baseline), then the async one. */
export const GATE_METHODS: GateMethod[] = ["incrementStored", "incrementStoredAsync"];
export const GATE_TEXT: Record<GateMethod, string> = {
  incrementStored: "sync API (`kv.get` + `kv.put`)",
  incrementStoredAsync: "async API (`await storage.get` + `await storage.put`)",
};

export function gateKey(topo: Topology, m: GateMethod): string {
  return `gate.${m === "incrementStored" ? "sync" : "async"}.${topo.id}`;
}

export function defineGateFigures(reg: Registry, s: Settings): void {
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
export function gateRun(c: Cluster, m: GateMethod, warmupMs: number, measureMs: number): Promise<{ rate: number; calls: number }> {
  const budget = warmupMs + measureMs + DRAIN_BUDGET_MS + 5_000;
  return bounded(`input gate ${m}() on ${c.topo.label}`, budget, rpcThroughput([c.gate.stub], m, GATE_IN_FLIGHT, warmupMs, measureMs));
}

/**
 * After every gate run: the stored counter must equal every call made on the gate object so far
 * (each call adds one). Less means two calls read the same value: a lost update, which fails the run.
 */
export async function checkGate(c: Cluster, m: GateMethod, calls: number): Promise<void> {
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
export async function warmUpRound(s: Settings): Promise<void> {
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
    if (c.msgpackStubs.length > 0) {
      const budget = s.throughputWarmupMs * 2 + DRAIN_BUDGET_MS + 5_000;
      await bounded(`warm-up throughput msgpack-path increment() on ${c.topo.label}`, budget, rpcThroughput(c.msgpackStubs, "increment", MAIN_VARIANT.inFlight, 0, s.throughputWarmupMs * 2));
    }
  }
}

export async function runRounds(s: Settings, reg: Registry, echoDir: string, http: HttpScenarios | undefined): Promise<void> {
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
export async function rpcRound(s: Settings, reg: Registry, echoDir: string): Promise<void> {
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

export async function rpcSequentialPhase(s: Settings, reg: Registry, echoDir: string): Promise<void> {
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

export async function rpcThroughputPhase(s: Settings, reg: Registry): Promise<void> {
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
    if (c.msgpackStubs.length > 0) {
      const budget = s.throughputWarmupMs + s.throughputMs + DRAIN_BUDGET_MS + 5_000;
      const key = msgpackKey(c.topo);
      const w0 = nowUs();
      const { rate } = await bounded(`throughput msgpack-path increment() on ${c.topo.label}`, budget, rpcThroughput(c.msgpackStubs, "increment", MAIN_VARIANT.inFlight, s.throughputWarmupMs, s.throughputMs));
      addWindow(c, key, w0, nowUs());
      reg.record(key, Math.round(rate));
      log(`  ${c.topo.id} throughput msgpack-path increment: ${Math.round(rate).toLocaleString("en-US")} calls/s`);
    }
  }
}

