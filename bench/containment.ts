/**
 * Containment (issue 8, "Measured"): what the CPU and memory watchdog costs on the hot path, and how
 * fast a runaway event is stopped.
 *
 *   node --import tsx bench/containment.ts            9 rounds / 7 runaway events (~3 minutes)
 *   ... --quick                                       3 rounds / 3 events, shorter windows
 *   npm run bench -- --only=containment [--readme]    the same through bench/all.ts
 *
 * 1. Watchdog overhead: three coordinators of 2 hosts × 1 isolate, up side by side: the watchdog at
 *    its defaults (cpuLimitMs 30 000, isolateHeapMb 1024), off (both 0), and off again (the A/A
 *    noise floor). Per round: `increment()` throughput with 256 calls in flight over 1000 objects,
 *    then sequential round trips on one object, on each; the order rotates per round, and ratios
 *    pair the runs of one round. Also timed in-process: the watchdog's only per-event work.
 * 2. CPU limit: one coordinator of 2 hosts × 2 isolates with cpuLimitMs 500. Per event, a
 *    `BenchRunaway.spin()` (a loop that never yields; it first writes when it began to a file) on
 *    host 0 isolate 0, while a neighbour on the same isolate is called in a loop (retrying failed
 *    calls) and one object on each other isolate is called sequentially. Measured: the limit's
 *    expiry (loop start + cpuLimitMs) to the caller's ERR_CPU_LIMIT, to the neighbour's first answer
 *    after it, and the other isolates' p99 during the event against the same length of time just
 *    before it.
 *
 * Writes bench/results/containment-latest.{json,md}; progress on stderr.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import type { ClusterCoordinator, ClusterCoordinatorOptions, DurableObject, DurableObjectClass } from "sourdough";
import { BenchRun } from "./bench-run.ts";
import { IsolateMonitor } from "../runtime/host/isolate-monitor.ts";
import { BenchRunaway } from "./containment-objects.ts";
import { BenchCounter } from "./objects.ts";
import { bounded, callEach, round, rpcSequential, rpcThroughput, stats, type Stats, type Stub } from "./rpc-drivers.ts";

const bench = new BenchRun("containment");
const { quick, log } = bench;
const S = quick
  ? { rounds: 3, warmupMs: 300, windowMs: 1_000, seqCalls: 3_000, seqWarmup: 500, events: 3, quietMs: 1_000, settleMs: 1_000 }
  : { rounds: 9, warmupMs: 500, windowMs: 3_000, seqCalls: 10_000, seqWarmup: 1_000, events: 7, quietMs: 1_000, settleMs: 1_500 };
const OBJECTS = 1000;
const IN_FLIGHT = 256;
const CPU_LIMIT_MS = 500;
const EVENT_BUDGET_MS = 15_000;

const wallMs = (): number => performance.timeOrigin + performance.now();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function start(label: string, options: ClusterCoordinatorOptions): Promise<ClusterCoordinator> {
  return bench.start(label, [new URL("./containment-objects.ts", import.meta.url)], options);
}

// ---------------------------------------------------------------------------------------------------
// 1. Watchdog overhead

type Side = "off" | "on" | "off2";
const SIDES: Side[] = ["off", "on", "off2"];
interface Overhead {
  throughput: Record<Side, number[]>;
  p50: Record<Side, number[]>;
  p99: Record<Side, number[]>;
  /** ns per event of the watchdog's only per-event work (the isolate labels the event it starts), in-process. */
  perEventNs: number[];
}

/** The watchdog's only work per event, timed in a loop in this process: ns per event, per repetition. */
function perEventCost(): number[] {
  const monitor = IsolateMonitor.create();
  const id = "0123456789abcdef".repeat(4); // an object id is 64 hex digits
  const out: number[] = [];
  for (let r = 0; r < 5; r++) {
    const n = 1_000_000;
    const t0 = process.hrtime.bigint();
    const label = monitor.objectLabel("BenchCounter", id); // made once per activation
    for (let i = 0; i < n; i++) monitor.started(label, (i & 1) === 0 ? "increment" : "incrementStored");
    out.push(Number(process.hrtime.bigint() - t0) / n);
  }
  return out;
}

async function measureOverhead(): Promise<Overhead> {
  const sides: Record<Side, { stubs: Stub[]; seq: Stub }> = {} as Record<Side, { stubs: Stub[]; seq: Stub }>;
  for (const [side, options] of [
    ["off", { cpuLimitMs: 0, isolateHeapMb: 0 }],
    ["on", {}], // the defaults: cpuLimitMs 30 000, isolateHeapMb 1024
    ["off2", { cpuLimitMs: 0, isolateHeapMb: 0 }], // a second "off": the A/A noise floor
  ] as const) {
    const c = await start(`watchdog-${side}`, { hostCount: 2, isolatesPerHost: 1, ...options });
    const stubs = Array.from({ length: OBJECTS }, (_, i) => c.get(`obj-${i}`, BenchCounter));
    await bounded(`activating ${OBJECTS} objects`, 60_000, callEach(stubs, "increment", IN_FLIGHT));
    const seq = c.get("seq", BenchCounter);
    sides[side] = { stubs, seq };
    // Unrecorded warm-up pass of both scenarios.
    await rpcThroughput(stubs, "increment", IN_FLIGHT, S.warmupMs, S.windowMs);
    await rpcSequential(seq, "increment", S.seqCalls, S.seqWarmup);
  }
  const out: Overhead = { throughput: { off: [], on: [], off2: [] }, p50: { off: [], on: [], off2: [] }, p99: { off: [], on: [], off2: [] }, perEventNs: perEventCost() };
  for (let r = 0; r < S.rounds; r++) {
    // Each side takes each position in turn; odd rounds run the rotation backwards.
    const order = SIDES.map((_, i) => SIDES[(i + r) % SIDES.length] as Side);
    if (r % 2 === 1) order.reverse();
    for (const side of order) out.throughput[side].push((await rpcThroughput(sides[side].stubs, "increment", IN_FLIGHT, S.warmupMs, S.windowMs)).rate);
    for (const side of order) {
      const { p50, p99 } = await rpcSequential(sides[side].seq, "increment", S.seqCalls, S.seqWarmup);
      out.p50[side].push(p50);
      out.p99[side].push(p99);
    }
    log(`round ${r + 1}/${S.rounds} (${order.join(", ")}): throughput ${SIDES.map((x) => `${x} ${out.throughput[x].at(-1)?.toFixed(0)}/s`).join(", ")}; p50 ${SIDES.map((x) => `${x} ${out.p50[x].at(-1)?.toFixed(1)} µs`).join(", ")}`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// 2. CPU limit

interface EventRun {
  /** Call start to the loop's first iteration (ms). */
  callToLoopMs: number;
  /** Expiry (loop start + cpuLimitMs) to the caller's rejection. */
  toRejectionMs: number;
  /** Expiry to the neighbour's first answer after it. */
  toNeighbourMs: number;
  code: string;
  neighbourErrors: string[];
  /** p99 (µs) of calls to objects on other isolates: just before the event, and during it. */
  quietP99: Record<string, number>;
  eventP99: Record<string, number>;
  /** The control: p99 while a plain Node process outside sourdough spins for as long as the event took. */
  hogQuietP99: Record<string, number>;
  hogP99: Record<string, number>;
  samples: { quiet: number; event: number };
  /** Loop start to the later of the rejection and the neighbour's answer. */
  durationMs: number;
}

/** Names whose objects of `Class` land on the given slot: the first `count` of `prefix-0`, `prefix-1`, … */
function namesOn<T extends DurableObject>(c: ClusterCoordinator, Class: DurableObjectClass<T>, host: number, isolate: number, prefix: string, count: number): string[] {
  const ns = c.namespace(Class);
  const names: string[] = [];
  for (let i = 0; names.length < count && i < 10_000; i++) {
    const at = c.locate(Class, ns.idFromName(`${prefix}-${i}`));
    if (at?.host === host && at.isolate === isolate) names.push(`${prefix}-${i}`);
  }
  if (names.length < count) throw new Error(`bench: no ${count} names of ${Class.name} land on host ${host} isolate ${isolate}`);
  return names;
}

/** Sequential calls on one stub until `stop()`; completion time (wall ms) and latency (µs) of each. */
function probe(stub: Stub, until: { stop: boolean }): { done: Promise<void>; at: number[]; us: number[] } {
  const at: number[] = [];
  const us: number[] = [];
  const done = (async () => {
    while (!until.stop) {
      const t0 = performance.now();
      await stub.increment();
      const t1 = performance.now();
      at.push(performance.timeOrigin + t1);
      us.push((t1 - t0) * 1000);
    }
  })();
  return { done, at, us };
}

function p99Between(p: { at: number[]; us: number[] }, from: number, to: number): { p99: number; n: number } {
  const xs = p.us.filter((_, i) => (p.at[i] as number) >= from && (p.at[i] as number) < to).sort((a, b) => a - b);
  return { p99: xs[Math.min(xs.length - 1, Math.max(0, Math.ceil(0.99 * xs.length) - 1))] ?? Number.NaN, n: xs.length };
}

async function runawayEvent(c: ClusterCoordinator, k: number, runawayName: string, neighbour: Stub, others: Record<string, Stub>, markerDir: string): Promise<EventRun> {
  const until = { stop: false };
  const probes = Object.fromEntries(Object.entries(others).map(([label, stub]) => [label, probe(stub, until)]));
  await sleep(S.quietMs);
  const marker = path.join(markerDir, `loop-${k}`);
  const callStart = wallMs();
  const call = c
    .get(runawayName, BenchRunaway)
    .spin(marker)
    .then(
      () => ({ at: wallMs(), code: "resolved" }),
      (error: unknown) => ({ at: wallMs(), code: String((error as { code?: unknown }).code ?? (error instanceof Error ? error.name : error)) }),
    );
  // The neighbour: called in a loop from now on; the first answer after the expiry is the one served again.
  const neighbourErrors: string[] = [];
  let neighbourBack = Number.NaN;
  let expiry = Number.POSITIVE_INFINITY;
  const neighbourLoop = (async () => {
    while (Number.isNaN(neighbourBack)) {
      try {
        await neighbour.increment();
        if (wallMs() > expiry) neighbourBack = wallMs();
      } catch (error) {
        neighbourErrors.push(String((error as { code?: unknown }).code ?? error));
        await sleep(1);
      }
    }
  })();
  const settled = await bounded(`runaway event ${k}`, EVENT_BUDGET_MS, call);
  const loopStart = Number(fs.readFileSync(marker, "utf8"));
  expiry = loopStart + CPU_LIMIT_MS;
  await bounded(`neighbour after event ${k}`, EVENT_BUDGET_MS, neighbourLoop);
  until.stop = true;
  await Promise.all(Object.values(probes).map((p) => p.done));
  const end = Math.max(settled.at, neighbourBack);
  const quietP99: Record<string, number> = {};
  const eventP99: Record<string, number> = {};
  const samples = { quiet: 0, event: 0 };
  for (const [label, p] of Object.entries(probes)) {
    const q = p99Between(p, loopStart - (end - loopStart), loopStart);
    const e = p99Between(p, loopStart, end);
    quietP99[label] = q.p99;
    eventP99[label] = e.p99;
    samples.quiet += q.n;
    samples.event += e.n;
  }
  return { callToLoopMs: loopStart - callStart, toRejectionMs: settled.at - expiry, toNeighbourMs: neighbourBack - expiry, code: settled.code, neighbourErrors, quietP99, eventP99, hogQuietP99: {}, hogP99: {}, samples, durationMs: end - loopStart };
}

/**
 * The control for the other isolates' latency: the same probes while a separate Node process (no
 * sourdough in it) spins for `ms`, so the machine loses a core as it does to a runaway isolate.
 */
async function hogEvent(others: Record<string, Stub>, ms: number): Promise<{ quiet: Record<string, number>; hog: Record<string, number> }> {
  const until = { stop: false };
  const probes = Object.fromEntries(Object.entries(others).map(([label, stub]) => [label, probe(stub, until)]));
  await sleep(S.quietMs);
  const child = spawn(process.execPath, ["-e", `process.stdout.write("go");const t=Date.now()+${Math.round(ms)};while(Date.now()<t);`], { stdio: ["ignore", "pipe", "inherit"] });
  const began = await bounded("the control hog's start", 10_000, new Promise<number>((resolve) => child.stdout.once("data", () => resolve(wallMs()))));
  await bounded("the control hog", EVENT_BUDGET_MS, new Promise((resolve) => child.once("exit", resolve)));
  const end = began + ms;
  until.stop = true;
  await Promise.all(Object.values(probes).map((p) => p.done));
  const quiet: Record<string, number> = {};
  const hog: Record<string, number> = {};
  for (const [label, p] of Object.entries(probes)) {
    quiet[label] = p99Between(p, began - ms, began).p99;
    hog[label] = p99Between(p, began, end).p99;
  }
  return { quiet, hog };
}

const OTHER = { sameHost: "host 0 isolate 1 (same host)", otherHost0: "host 1 isolate 0", otherHost1: "host 1 isolate 1" };

async function measureCpuLimit(): Promise<EventRun[]> {
  const c = await start("cpu-limit", { hostCount: 2, isolatesPerHost: 2, cpuLimitMs: CPU_LIMIT_MS });
  const neighbour = c.get(namesOn(c, BenchCounter, 0, 0, "neighbour", 1)[0] as string, BenchCounter);
  const others: Record<string, Stub> = {
    [OTHER.sameHost]: c.get(namesOn(c, BenchCounter, 0, 1, "other", 1)[0] as string, BenchCounter),
    [OTHER.otherHost0]: c.get(namesOn(c, BenchCounter, 1, 0, "other", 1)[0] as string, BenchCounter),
    [OTHER.otherHost1]: c.get(namesOn(c, BenchCounter, 1, 1, "other", 1)[0] as string, BenchCounter),
  };
  const runaways = namesOn(c, BenchRunaway, 0, 0, "runaway", S.events);
  for (const stub of [neighbour, ...Object.values(others)]) await stub.increment();
  const markerDir = bench.tempDir("sourdough-bench-markers-");
  const runs: EventRun[] = [];
  for (let k = 0; k < S.events; k++) {
    const run = await runawayEvent(c, k, runaways[k] as string, neighbour, others, markerDir);
    runs.push(run);
    log(`event ${k + 1}/${S.events}: ${run.code} ${run.toRejectionMs.toFixed(0)} ms after the expiry, neighbour back after ${run.toNeighbourMs.toFixed(0)} ms (its errors: ${run.neighbourErrors.join(", ") || "none"})`);
    if (run.code !== "ERR_CPU_LIMIT") throw new Error(`bench: the runaway call ended with ${run.code}, expected ERR_CPU_LIMIT`);
    await sleep(S.settleMs);
    const control = await hogEvent(others, run.durationMs);
    run.hogQuietP99 = control.quiet;
    run.hogP99 = control.hog;
    await sleep(S.settleMs);
  }
  return runs;
}

// ---------------------------------------------------------------------------------------------------
// Report

const fmtRate = (x: number): string => `${Math.round(x).toLocaleString("en-US")}/s`;
const fmtUs = (x: number): string => `${x.toFixed(1)} µs`;
const fmtMs = (x: number): string => `${x.toFixed(0)} ms`;
const fmtX = (x: number): string => `${x.toFixed(3)}×`;
const cell = (st: Stats, f: (x: number) => string): string => `${f(st.median)} | ${f(st.min)} – ${f(st.max)}`;
const paired = (a: number[], b: number[]): number[] => a.map((x, i) => x / (b[i] as number));
const mark = (ok: boolean): string => (ok ? "✓" : "✗");

function report(o: Overhead, runs: EventRun[], header: string, notes: string[]): string {
  const lines = [header, "", "| Scenario | Median | Min – max | Target (on the median) |", "|---|---:|---:|---|"];
  const thr = paired(o.throughput.on, o.throughput.off);
  const p50 = paired(o.p50.on, o.p50.off);
  const p99 = paired(o.p99.on, o.p99.off);
  const ofMedians = (a: number[], b: number[]): string => `ratio of medians ${fmtX(stats(a).median / stats(b).median)}`;
  lines.push(
    `| Watchdog off (\`cpuLimitMs: 0, isolateHeapMb: 0\`): \`increment()\` throughput, ${IN_FLIGHT} in flight over ${OBJECTS} objects, 2 hosts × 1 isolate | ${cell(stats(o.throughput.off), fmtRate)} |  |`,
    `| Watchdog on (defaults: \`cpuLimitMs\` 30 000, \`isolateHeapMb\` 1024): the same | ${cell(stats(o.throughput.on), fmtRate)} |  |`,
    `| Watchdog on ÷ off, throughput (paired per round; ${ofMedians(o.throughput.on, o.throughput.off)}) | ${cell(stats(thr), fmtX)} | ≥ 0.97× (within 3 %) ${mark(stats(thr).median >= 0.97)} |`,
    `| Watchdog off: sequential \`increment()\` p50 | ${cell(stats(o.p50.off), fmtUs)} |  |`,
    `| Watchdog on: sequential \`increment()\` p50 | ${cell(stats(o.p50.on), fmtUs)} |  |`,
    `| Watchdog on ÷ off, sequential p50 (paired per round; ${ofMedians(o.p50.on, o.p50.off)}) | ${cell(stats(p50), fmtX)} | ≤ 1.03× (within 3 %) ${mark(stats(p50).median <= 1.03)} |`,
    `| A/A: a second coordinator with the watchdog off ÷ the first, throughput (paired per round; ${ofMedians(o.throughput.off2, o.throughput.off)}): the noise floor | ${cell(stats(paired(o.throughput.off2, o.throughput.off)), fmtX)} |  |`,
    `| A/A: the same, sequential p50 (paired per round; ${ofMedians(o.p50.off2, o.p50.off)}) | ${cell(stats(paired(o.p50.off2, o.p50.off)), fmtX)} |  |`,
    `| Watchdog on ÷ off, sequential p99 (paired per round; ${ofMedians(o.p99.on, o.p99.off)}) | ${cell(stats(p99), fmtX)} |  |`,
    `| Watchdog's only per-event work (\`IsolateMonitor.eventStarted\`: the isolate labels each event it starts), timed in-process, no RPC | ${cell(stats(o.perEventNs), (x) => `${x.toFixed(0)} ns`)} |  |`,
    `| The same ÷ the time per call at the off throughput (1 ÷ median calls/s): its share of the cluster's time per call, were it all on the critical path | ${cell(stats(o.perEventNs.map((ns) => (ns * stats(o.throughput.off).median) / 1e9)), (x) => `${(x * 100).toFixed(2)} %`)} | ≤ 3 % ${mark((stats(o.perEventNs).median * stats(o.throughput.off).median) / 1e9 <= 0.03)} |`,
  );
  const toRej = stats(runs.map((r) => r.toRejectionMs));
  const toNb = stats(runs.map((r) => r.toNeighbourMs));
  lines.push(
    `| CPU limit (\`cpuLimitMs: ${CPU_LIMIT_MS}\`), 2 hosts × 2 isolates: call start to the loop's start | ${cell(stats(runs.map((r) => r.callToLoopMs)), fmtMs)} |  |`,
    `| CPU limit: expiry (loop start + ${CPU_LIMIT_MS} ms) to the caller's ERR_CPU_LIMIT | ${cell(toRej, fmtMs)} | ≤ 250 ms ${mark(toRej.median <= 250)} |`,
    `| CPU limit: expiry to the first answer of a neighbour on the same isolate | ${cell(toNb, fmtMs)} | ≤ 1000 ms ${mark(toNb.median <= 1000)} |`,
  );
  for (const label of Object.values(OTHER)) {
    const q = runs.map((r) => r.quietP99[label] ?? Number.NaN);
    const e = runs.map((r) => r.eventP99[label] ?? Number.NaN);
    lines.push(
      `| CPU limit: sequential calls to an object on ${label}, p99 just before the event | ${cell(stats(q), fmtUs)} |  |`,
      `| CPU limit: the same, p99 during the event (loop start to the neighbour's answer) | ${cell(stats(e), fmtUs)} |  |`,
      `| CPU limit: ${label}, p99 during ÷ before (paired per event) | ${cell(stats(paired(e, q)), fmtX)} |  |`,
    );
    const hq = runs.map((r) => r.hogQuietP99[label] ?? Number.NaN);
    const h = runs.map((r) => r.hogP99[label] ?? Number.NaN);
    const added = paired(paired(e, q), paired(h, hq));
    lines.push(
      `| Control: ${label}, p99 while a plain Node process spins as long as the event took ÷ before it | ${cell(stats(paired(h, hq)), fmtX)} |  |`,
      `| CPU limit: ${label}, the event's p99 ratio ÷ the control's (paired per event): latency the runaway adds beyond the lost core | ${cell(stats(added), fmtX)} | no added latency (≤ 1.1×) ${mark(stats(added).median <= 1.1)} |`,
    );
  }
  const codes = new Map<string, number>();
  for (const r of runs) for (const code of r.neighbourErrors) codes.set(code, (codes.get(code) ?? 0) + 1);
  notes.push(
    `- Watchdog overhead: ${S.rounds} rounds; per round throughput (${S.warmupMs} ms warm-up + ${S.windowMs} ms window) on both coordinators, then ${S.seqCalls.toLocaleString("en-US")} sequential calls on one object on both (after ${S.seqWarmup} unrecorded); three coordinators (off, on, and a second off for the A/A row), each taking each position in turn (rotation, reversed every other round); all three stay up for the whole phase (the idle ones' timers are the only other load they add). Isolates beat every 20 ms and report their memory whether the watchdog is on or off; "on" adds the event label written as each event starts (the in-process row), the host's check every 50 ms, and V8's own heap limit on each isolate (\`resourceLimits\`). Calls use BenchCounter's generated codecs. Throughput per round, ${SIDES.map((x) => `${x}: ${o.throughput[x].map((v) => Math.round(v / 1000)).join(", ")}k/s`).join("; ")}.`,
    `- CPU limit: ${runs.length} events on host 0 isolate 0, a new \`BenchRunaway\` object each (msgpack path), ${S.settleMs} ms apart; the runaway caller got ${[...new Set(runs.map((r) => r.code))].join(", ")} every time. The neighbour's calls that failed meanwhile: ${codes.size === 0 ? "none" : [...codes].map(([c, n]) => `${c} × ${n}`).join(", ")} (retried after 1 ms). "Before" is a window of the same length as "during", ending at the loop's start; each other isolate has one caller looping on one object (${runs.reduce((s, r) => s + r.samples.quiet, 0).toLocaleString("en-US")} calls before, ${runs.reduce((s, r) => s + r.samples.event, 0).toLocaleString("en-US")} during, over all events). Timestamps are wall-clock ms (the isolate writes Date.now() as the loop begins). With 2 cores, the spinning isolate holds one of them for ${CPU_LIMIT_MS} ms and the others share the second, so their latency rises whoever spins: after each event (and ${S.settleMs} ms), the control runs the same probes while a separate \`node -e\` process (no sourdough in it) spins for as long as that event took (loop start to the later of the rejection and the neighbour's answer), and the last row of each group divides the two ratios.`,
  );
  return `${lines.join("\n")}\n\nNotes:\n${notes.join("\n")}`;
}

await bench.run(
  "containment bench",
  async () => {
    const overhead = await measureOverhead();
    await bench.closeCoordinators();
    return { overhead, runs: await measureCpuLimit() };
  },
  ({ overhead, runs }, header, load) => ({
    md: report(overhead, runs, header, [load]),
    json: { settings: { ...S, objects: OBJECTS, inFlight: IN_FLIGHT, cpuLimitMs: CPU_LIMIT_MS }, overhead, events: runs },
  }),
);
