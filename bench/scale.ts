/**
 * Activation and scale (issue 5, scenario 6): time to first call on a cold object, memory per
 * resident object, and 100 000 distinct objects touched once each (throughput and peak RSS of every
 * process), on 2 hosts.
 *
 *   node --import tsx bench/scale.ts             100 000 objects
 *   node --import tsx bench/scale.ts --quick     20 000 objects
 *
 * Writes bench/results/scale-latest.{json,md}.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ClusterCoordinator } from "sourdough";
import { BenchCounter } from "./objects.ts";

const quick = process.argv.includes("--quick");
const OBJECTS = quick ? 20_000 : 100_000;
const COLD_SAMPLES = quick ? 300 : 1000;
const IN_FLIGHT = 256;

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;
const fmt = (n: number, digits = 0) => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** Resident and peak resident memory of a process, in MiB, from /proc. */
function memory(pid: number): { rss: number; peak: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) => Number(/\d+/.exec(status.split("\n").find((l) => l.startsWith(field)) ?? "0")?.[0] ?? 0);
  return { rss: kb("VmRSS:") / 1024, peak: kb("VmHWM:") / 1024 };
}

async function coldCalls(coordinator: ClusterCoordinator, prefix: string, method: "increment" | "incrementStored"): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < COLD_SAMPLES; i++) {
    const stub = coordinator.get(`${prefix}-${i}`, BenchCounter);
    const t = process.hrtime.bigint();
    await stub[method]();
    times.push(Number(process.hrtime.bigint() - t) / 1000);
  }
  return times;
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sourdough-bench-scale-"));
  const coordinator = new ClusterCoordinator({
    hostCount: 2,
    isolatesPerHost: 1,
    storageDir: dir,
    modules: [new URL("./objects.ts", import.meta.url)],
    output: (host, stream, text) => void process.stderr.write(`[host ${host}] ${text}`),
  });
  try {
    await coordinator.ready;
    const pids = coordinator.hosts.map((h) => h.pid!);
    // Warm: activate the reference objects first, so the reference calls below hit active objects.
    for (let i = 0; i < COLD_SAMPLES; i++) await coordinator.get(`warm-${i}`, BenchCounter).increment();
    const warmTimes = await coldCalls(coordinator, "warm", "increment");
    const inProcess = await inProcessCalls();
    const cold = await coldCalls(coordinator, "cold", "increment");
    const coldStored = await coldCalls(coordinator, "cold-stored", "incrementStored");
    const before = pids.map(memory);
    const t = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (next < OBJECTS) await coordinator.get(`scale-${next++}`, BenchCounter).increment();
      }),
    );
    const seconds = (performance.now() - t) / 1000;
    const after = pids.map(memory);
    const self = memory(process.pid);
    const perObjectKiB = (after.reduce((s, m) => s + m.rss, 0) - before.reduce((s, m) => s + m.rss, 0)) * 1024 / OBJECTS;
    const lines = [
      `sourdough scale bench — ${os.cpus()[0]?.model ?? "cpu"} (${os.cpus().length} cores), Node ${process.version}, ${new Date().toISOString()}, \`node --import tsx bench/scale.ts${quick ? " --quick" : ""}\`, 2 hosts × 1 isolate`,
      "",
      "| Scenario | p50 | p99 |",
      "|---|---:|---:|",
      `| In-process \`await obj.increment()\`, no RPC (the upper bound) | ${fmt(pct(inProcess, 0.5), 3)} µs | ${fmt(pct(inProcess, 0.99), 3)} µs |`,
      `| Call on an active object, a new stub each call (reference for the cold rows) | ${fmt(pct(warmTimes, 0.5), 1)} µs | ${fmt(pct(warmTimes, 0.99), 1)} µs |`,
      `| First call on a cold object (activation, no storage) | ${fmt(pct(cold, 0.5), 1)} µs | ${fmt(pct(cold, 0.99), 1)} µs |`,
      `| First call on a cold object that writes (creates its SQLite file) | ${fmt(pct(coldStored, 0.5), 1)} µs | ${fmt(pct(coldStored, 0.99), 1)} µs |`,
      "",
      "| Scale | Value |",
      "|---|---:|",
      `| ${fmt(OBJECTS)} distinct objects touched once each, ${IN_FLIGHT} in flight | ${fmt(OBJECTS / seconds)} objects/s |`,
      `| Memory per resident object (host RSS growth ÷ objects) | ${fmt(perObjectKiB, 2)} KiB |`,
      ...after.map((m, i) => `| Host ${i} RSS after / peak | ${fmt(m.rss)} / ${fmt(m.peak)} MiB |`),
      `| Caller process RSS / peak | ${fmt(self.rss)} / ${fmt(self.peak)} MiB |`,
      `| Largest peak RSS of any process (target ≤ 1024 MiB) | ${fmt(Math.max(self.peak, ...after.map((m) => m.peak)))} MiB ${Math.max(self.peak, ...after.map((m) => m.peak)) <= 1024 ? "✓" : "✗"} |`,
      "",
      `Cold-call samples: ${COLD_SAMPLES} objects each, one at a time. Objects stay resident (idle eviction after 60 s), so the memory figure is for live objects.`,
    ];
    const md = `${lines.join("\n")}\n`;
    process.stdout.write(md);
    const results = new URL("./results/", import.meta.url);
    fs.mkdirSync(results, { recursive: true });
    fs.writeFileSync(new URL("scale-latest.md", results), md);
    fs.writeFileSync(new URL("scale-latest.json", results), `${JSON.stringify({ quick, objects: OBJECTS, warmTimes: summary(warmTimes), cold: summary(cold), coldStored: summary(coldStored), objectsPerSecond: OBJECTS / seconds, perObjectKiB, hosts: after, caller: self }, null, 2)}\n`);
  } finally {
    await coordinator.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** µs per `await obj.increment()` on a plain object in this process, in batches of 1000. */
async function inProcessCalls(): Promise<number[]> {
  const obj = { n: 0, async increment() { return ++this.n; } };
  const times: number[] = [];
  for (let batch = 0; batch < 200; batch++) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < 1000; i++) await obj.increment();
    times.push(Number(process.hrtime.bigint() - t) / 1000 / 1000);
  }
  return times;
}

function summary(xs: number[]) {
  return { p50: pct(xs, 0.5), p99: pct(xs, 0.99), n: xs.length };
}

await main();
