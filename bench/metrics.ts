/**
 * Metrics overhead (issue 11): what counting calls, errors and latency per (class, method) costs RPC
 * throughput. Target: ≤ 3 % (on ÷ off ≥ 0.97× on the median).
 *
 *   node --import tsx bench/metrics.ts          7 rounds (~3 minutes)
 *   ... --quick                                 3 rounds, shorter windows
 *   npm run bench -- --only=metrics             the same through bench/all.ts
 *
 * Three coordinators of 2 hosts × 1 isolate, up side by side: `metrics: false`, `metrics: true` (the
 * default; it is also scraped — `coordinator.metrics()` — once per window, as Prometheus would), and
 * a second `metrics: false` (the A/A noise floor). Per round: `increment()` throughput with 256 calls
 * in flight on one object (the highest per-call rate, so the per-call cost shows most), then over
 * 1000 objects, then sequential round trips on one object, on each side; the order rotates per round,
 * and ratios pair the runs of one round. Writes bench/results/metrics-latest.{json,md}.
 */
import type { ClusterCoordinator, ClusterCoordinatorOptions } from "sourdough";
import { BenchRun } from "./bench-run.ts";
import { BenchCounter } from "./objects.ts";
import { bounded, callEach, rpcSequential, rpcThroughput, stats, type Stats, type Stub } from "./rpc-drivers.ts";
import { LATENCY_BOUNDS_MS } from "../runtime/ops/table-stats.ts";

const bench = new BenchRun("metrics");
const { quick, log } = bench;
const S = quick ? { rounds: 3, warmupMs: 300, windowMs: 1_000, seqCalls: 3_000, seqWarmup: 500 } : { rounds: 7, warmupMs: 500, windowMs: 3_000, seqCalls: 10_000, seqWarmup: 1_000 };
const OBJECTS = 1000;
const IN_FLIGHT = 256;

type Side = "off" | "on" | "off2";
const SIDES: Side[] = ["off", "on", "off2"];
type PerSide = Record<Side, number[]>;
const perSide = (): PerSide => ({ off: [], on: [], off2: [] });

function start(label: string, options: ClusterCoordinatorOptions): Promise<ClusterCoordinator> {
  return bench.start(label, [new URL("./objects.ts", import.meta.url)], { hostCount: 2, isolatesPerHost: 1, ...options });
}

async function measure(): Promise<{ one: PerSide; many: PerSide; p50: PerSide; p99: PerSide; scrapeMs: number[]; scrapeBytes: number }> {
  const sides = {} as Record<Side, { c: ClusterCoordinator; one: Stub[]; many: Stub[]; seq: Stub }>;
  for (const side of SIDES) {
    const c = await start(`metrics-${side}`, { metrics: side === "on" });
    const many = Array.from({ length: OBJECTS }, (_, i) => c.get(`obj-${i}`, BenchCounter));
    await bounded(`activating ${OBJECTS} objects`, 60_000, callEach(many, "increment", IN_FLIGHT));
    sides[side] = { c, one: [c.get("hot", BenchCounter)], many, seq: c.get("seq", BenchCounter) };
    await rpcThroughput(sides[side].one, "increment", IN_FLIGHT, S.warmupMs, S.windowMs); // unrecorded warm-up
    await rpcSequential(sides[side].seq, "increment", S.seqCalls, S.seqWarmup);
  }
  const out = { one: perSide(), many: perSide(), p50: perSide(), p99: perSide(), scrapeMs: [] as number[], scrapeBytes: 0 };
  // The "on" side is scraped once per window, while the window runs.
  const withScrape = async <T>(side: Side, run: Promise<T>): Promise<T> => {
    if (side !== "on") return run;
    await new Promise((r) => setTimeout(r, S.warmupMs + S.windowMs / 2));
    const t0 = performance.now();
    const text = await sides.on.c.metrics();
    out.scrapeMs.push(performance.now() - t0);
    out.scrapeBytes = text.length;
    return run;
  };
  for (let r = 0; r < S.rounds; r++) {
    const order = SIDES.map((_, i) => SIDES[(i + r) % SIDES.length] as Side);
    if (r % 2 === 1) order.reverse();
    for (const side of order) out.one[side].push((await withScrape(side, rpcThroughput(sides[side].one, "increment", IN_FLIGHT, S.warmupMs, S.windowMs))).rate);
    for (const side of order) out.many[side].push((await withScrape(side, rpcThroughput(sides[side].many, "increment", IN_FLIGHT, S.warmupMs, S.windowMs))).rate);
    for (const side of order) {
      const { p50, p99 } = await rpcSequential(sides[side].seq, "increment", S.seqCalls, S.seqWarmup);
      out.p50[side].push(p50);
      out.p99[side].push(p99);
    }
    log(`round ${r + 1}/${S.rounds} (${order.join(", ")}): one object ${SIDES.map((x) => `${x} ${out.one[x].at(-1)?.toFixed(0)}/s`).join(", ")}; 1000 objects ${SIDES.map((x) => `${x} ${out.many[x].at(-1)?.toFixed(0)}/s`).join(", ")}`);
  }
  return out;
}

const paired = (a: number[], b: number[]): number[] => a.map((x, i) => x / (b[i] as number));
const fmtRate = (x: number): string => `${Math.round(x).toLocaleString("en-US")} calls/s`;
const fmtX = (x: number): string => `${x.toFixed(3)}×`;
const fmtUs = (x: number): string => `${x.toFixed(1)} µs`;
const cell = (s: Stats, f: (x: number) => string): string => `${f(s.median)} | ${f(s.min)} – ${f(s.max)}`;
const mark = (ok: boolean): string => (ok ? "✓" : "✗ missed");

function report(o: Awaited<ReturnType<typeof measure>>, header: string, notes: string[]): string {
  const lines = [header, "", "| Scenario | Median | Min – max | Target (on the median) |", "|---|---:|---:|---|"];
  for (const [key, what] of [
    ["one", `\`increment()\` throughput, ${IN_FLIGHT} in flight on one object`],
    ["many", `\`increment()\` throughput, ${IN_FLIGHT} in flight over ${OBJECTS} objects`],
  ] as const) {
    const ratio = stats(paired(o[key].on, o[key].off));
    lines.push(
      `| Metrics off (\`metrics: false\`): ${what}, 2 hosts × 1 isolate | ${cell(stats(o[key].off), fmtRate)} |  |`,
      `| Metrics on (default, scraped once per window): the same | ${cell(stats(o[key].on), fmtRate)} |  |`,
      `| Metrics on ÷ off (paired per round; ratio of medians ${fmtX(stats(o[key].on).median / stats(o[key].off).median)}) | ${cell(ratio, fmtX)} | ≥ 0.97× (within 3 %) ${mark(ratio.median >= 0.97)} |`,
      `| A/A: a second "off" ÷ the first (the noise floor) | ${cell(stats(paired(o[key].off2, o[key].off)), fmtX)} |  |`,
    );
  }
  lines.push(
    `| Metrics off: sequential \`increment()\` p50 | ${cell(stats(o.p50.off), fmtUs)} |  |`,
    `| Metrics on: sequential \`increment()\` p50 | ${cell(stats(o.p50.on), fmtUs)} |  |`,
    `| Metrics on ÷ off, sequential p50 (paired per round) | ${cell(stats(paired(o.p50.on, o.p50.off)), fmtX)} | ≤ 1.03× ${mark(stats(paired(o.p50.on, o.p50.off)).median <= 1.03)} |`,
    `| A/A: sequential p50, second "off" ÷ first | ${cell(stats(paired(o.p50.off2, o.p50.off)), fmtX)} |  |`,
    `| One scrape (\`coordinator.metrics()\`, ${Math.round(o.scrapeBytes / 1024)} KiB of text) during load | ${cell(stats(o.scrapeMs), (x) => `${x.toFixed(1)} ms`)} |  |`,
  );
  notes.push(`- ${S.rounds} rounds; each throughput run is ${S.warmupMs} ms warm-up + ${S.windowMs} ms measured; ${S.seqCalls.toLocaleString("en-US")} sequential calls after ${S.seqWarmup} unrecorded. The three coordinators stay up for the whole run, each taking each position in turn (rotation, reversed every other round). Calls use BenchCounter's generated codecs. "On" counts per call, in the isolate: a last-method check (two Map lookups on a change of method) and a few integer bumps; above 5000 calls/s per isolate only one call in N is timed (two performance.now() and a bucket search over ${LATENCY_BOUNDS_MS.length} bounds) and weighs N in the histogram. It also runs Node's default metrics (prom-client) in the coordinator and host processes. Gauges (objects, queue, heap) are refreshed every 250 ms on both sides.`);
  return `${lines.join("\n")}\n\nNotes:\n${notes.join("\n")}`;
}

await bench.run("metrics bench", measure, (o, header, load) => ({
  md: report(o, header, [load]),
  json: { settings: { ...S, objects: OBJECTS, inFlight: IN_FLIGHT }, ...o },
}));
