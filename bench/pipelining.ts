/**
 * Promise pipelining (issue 14 part 4): the latency of one call, of two sequential awaited calls
 * (getRoom, then post on the returned RpcTarget), and of the same two steps pipelined
 * (`await stub.getRoom(name).post(text)`: both calls sent at once), measured side by side in one run
 * against real host processes over Unix sockets. Interleaved rounds; medians of per-call latency,
 * of each round's ratio to the one-call shape of the same round, and of the CPU time per call of
 * the caller (this process) and of the host process (its isolate thread included), over all rounds: CPU per call
 * says what each shape costs even when the machine is busy and latency mostly measures scheduling.
 *
 *   node --import tsx bench/pipelining.ts [--quick]
 *
 * Writes bench/results/pipelining-latest.{json,md}.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ClusterCoordinator } from "sourdough";
import { Rooms } from "../test/fixtures/rpc-caps.ts";
import { machineBusyUs, procCpuUs, selfCpuUs } from "./proc-cpu.ts";

const quick = process.argv.includes("--quick");
const ROUNDS = quick ? 5 : 21;
const CALLS = quick ? 300 : 1_000;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Samples {
  perCallUs: number[];
  /** This round's latency ÷ the one-call shape's latency in the same round. */
  vsOne: number[];
  callerCpuUs: number[];
  hostCpuUs: number[];
}

async function main(): Promise<void> {
  const storageDir = fs.mkdtempSync(path.join(os.tmpdir(), "sourdough-bench-pipe-"));
  const coordinator = new ClusterCoordinator({
    hostCount: 1,
    isolatesPerHost: 1,
    modules: [new URL("../test/fixtures/rpc-caps.ts", import.meta.url)],
    durableObjects: { ROOMS: Rooms },
    storageDir,
    output: () => {},
  });
  await coordinator.ready;
  const hostPid = coordinator.hosts[0]?.pid ?? -1;
  const stub = coordinator.get("bench", Rooms);
  const shapes: Record<string, () => Promise<unknown>> = {
    "one call (`stub.count()`)": () => stub.count(),
    "two sequential awaited calls (`(await stub.getRoom()).post()`)": async () => {
      const room = await stub.getRoom("r");
      const n = await room.post("x");
      room[Symbol.dispose]();
      return n;
    },
    "pipelined 2-step call (`stub.getRoom().post()`)": () => stub.getRoom("r").post("x"),
  };
  const names = Object.keys(shapes);
  const samples: Record<string, Samples> = Object.fromEntries(names.map((k) => [k, { perCallUs: [], vsOne: [], callerCpuUs: [], hostCpuUs: [] }]));
  let busyShare = Number.NaN;
  try {
    for (const fn of Object.values(shapes)) for (let i = 0; i < 200; i++) await fn(); // warm up
    const wall0 = process.hrtime.bigint();
    const busy0 = machineBusyUs();
    for (let round = 0; round < ROUNDS; round++) {
      // Rotated each round, so no shape always runs first (or right after another).
      const order = names.map((_, i) => names[(i + round) % names.length]!);
      const latency = new Map<string, number>();
      for (const name of order) {
        const fn = shapes[name]!;
        const host0 = procCpuUs(hostPid);
        const self0 = selfCpuUs();
        const start = process.hrtime.bigint();
        for (let i = 0; i < CALLS; i++) await fn();
        const us = Number(process.hrtime.bigint() - start) / 1e3 / CALLS;
        const s = samples[name]!;
        s.callerCpuUs.push((selfCpuUs() - self0) / CALLS);
        s.hostCpuUs.push((procCpuUs(hostPid) - host0) / CALLS);
        s.perCallUs.push(us);
        latency.set(name, us);
      }
      for (const name of names) samples[name]!.vsOne.push(latency.get(name)! / latency.get(names[0]!)!);
    }
    const wallUs = Number(process.hrtime.bigint() - wall0) / 1e3;
    busyShare = (machineBusyUs() - busy0) / wallUs / os.cpus().length;
  } finally {
    await coordinator.close();
    fs.rmSync(storageDir, { recursive: true, force: true });
  }
  const medians = Object.fromEntries(names.map((k) => [k, median(samples[k]!.perCallUs)]));
  const ratios = Object.fromEntries(names.map((k) => [k, median(samples[k]!.vsOne)]));
  // CPU over all rounds (the host's /proc counters tick every 10 ms: one round is too short to median).
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const cpu = Object.fromEntries(names.map((k) => [k, { caller: mean(samples[k]!.callerCpuUs), host: mean(samples[k]!.hostCpuUs) }]));
  const [one, two, piped] = names.map((k) => medians[k]!) as [number, number, number];
  const pipedName = names[2]!;
  const lines = [
    `${ROUNDS} interleaved rounds (order rotated each round) of ${CALLS} sequential calls per shape, 1 host, 1 isolate, Node ${process.version}, ${os.cpus().length} CPUs, machine ${Number.isNaN(busyShare) ? "?" : Math.round(busyShare * 100)}% busy during the rounds${quick ? " (quick)" : ""}. Latency: medians over rounds; "vs one call" is the median of each round's ratio to that round's one-call latency. CPU: user + system time per call over all rounds, of the caller (this process) and of the host process with its isolate thread (/proc).`,
    "",
    "| shape | median µs | vs one call | caller CPU µs | host CPU µs |",
    "|---|---:|---:|---:|---:|",
    ...names.map((k) => `| ${k} | ${medians[k]!.toFixed(1)} | ${ratios[k]!.toFixed(2)}× | ${cpu[k]!.caller.toFixed(1)} | ${cpu[k]!.host.toFixed(1)} |`),
    "",
    `Pipelined 2-step / one call: ${ratios[pipedName]!.toFixed(2)}× (median of per-round ratios; ratio of medians ${(piped / one).toFixed(2)}×). Pipelined 2-step / sequential 2-step: ${(piped / two).toFixed(2)}×.`,
    "",
  ];
  const md = lines.join("\n");
  process.stdout.write(`${md}\n`);
  const results = new URL("./results/", import.meta.url);
  fs.writeFileSync(new URL("pipelining-latest.md", results), md);
  const perRound = Object.fromEntries(names.map((k) => [k, samples[k]!]));
  fs.writeFileSync(new URL("pipelining-latest.json", results), `${JSON.stringify({ quick, rounds: ROUNDS, calls: CALLS, busyShare, medians, ratios, cpu, perRound }, null, 2)}\n`);
}

await main();
