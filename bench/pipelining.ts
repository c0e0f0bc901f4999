/**
 * Promise pipelining (issue 14 part 4): the latency of one call, of two sequential awaited calls
 * (getRoom, then post on the returned RpcTarget), and of the same two steps pipelined
 * (`await stub.getRoom(name).post(text)`: both calls sent at once), measured side by side in one run
 * against real host processes over Unix sockets. Interleaved rounds; medians of per-call latency.
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

const quick = process.argv.includes("--quick");
const ROUNDS = quick ? 3 : 9;
const CALLS = quick ? 300 : 2_000;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

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
  const perCallUs: Record<string, number[]> = Object.fromEntries(Object.keys(shapes).map((k) => [k, []]));
  try {
    for (const fn of Object.values(shapes)) for (let i = 0; i < 50; i++) await fn(); // warm up
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, fn] of Object.entries(shapes)) {
        const start = process.hrtime.bigint();
        for (let i = 0; i < CALLS; i++) await fn();
        perCallUs[name]!.push(Number(process.hrtime.bigint() - start) / 1e3 / CALLS);
      }
    }
  } finally {
    await coordinator.close();
    fs.rmSync(storageDir, { recursive: true, force: true });
  }
  const medians = Object.fromEntries(Object.entries(perCallUs).map(([k, v]) => [k, median(v)]));
  const [one, two, piped] = Object.values(medians) as [number, number, number];
  const lines = [
    `${ROUNDS} interleaved rounds of ${CALLS} sequential calls each, 1 host, 1 isolate, Node ${process.version}, ${os.cpus().length} CPUs${quick ? " (quick)" : ""}. Median latency per call:`,
    "",
    "| shape | median µs | vs one call |",
    "|---|---:|---:|",
    ...Object.entries(medians).map(([k, v]) => `| ${k} | ${v.toFixed(1)} | ${(v / one).toFixed(2)}× |`),
    "",
    `Pipelined 2-step / sequential 2-step: ${(piped / two).toFixed(2)}×.`,
    "",
  ];
  const md = lines.join("\n");
  process.stdout.write(`${md}\n`);
  const results = new URL("./results/", import.meta.url);
  fs.writeFileSync(new URL("pipelining-latest.md", results), md);
  fs.writeFileSync(new URL("pipelining-latest.json", results), `${JSON.stringify({ quick, rounds: ROUNDS, calls: CALLS, perCallUs, medians }, null, 2)}\n`);
}

await main();
