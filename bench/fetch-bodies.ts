/**
 * stub.fetch() and serve() with request and response bodies (issue 14 part 3): latency of sequential
 * requests, beside an RPC call to the same object (the baseline), through `stub.fetch()` (GET; POST echoing 1 KiB, 60 KiB, 1 MiB (inline: whole in memory,
 * ≤ 1 MiB) and 4 MiB (streamed both ways)) and through serve() over HTTP keep-alive (GET, POST
 * 1 KiB), 1 host × 1 isolate. Interleaved rounds; medians of per-request latency.
 *
 *   node --import tsx bench/fetch-bodies.ts [--quick]
 *   node --import tsx bench/fetch-bodies.ts --compare=<other checkout> [--quick]
 *       the same cases from another checkout (built, with this file and fetch-objects.ts copied in),
 *       rounds alternating between the two in child processes: A = the other, B = this one
 *
 * Writes bench/results/fetch-latest.{json,md} (not with --child).
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { serve } from "sourdough";
import { Echo, worker } from "./fetch-objects.ts";

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const child = args.includes("--child");
const compare = args.find((a) => a.startsWith("--compare="))?.slice("--compare=".length);
const ROUNDS = quick ? 3 : 7;
const REQUESTS = quick ? 200 : 600;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const KiB = 1024;
const BASELINE = "RPC call `ping()` → \"ok\" (the baseline)";

/** Runs every case `rounds` times in this process; per-request µs of each round. */
async function measure(rounds: number): Promise<Record<string, number[]>> {
  const storageDir = fs.mkdtempSync(path.join(os.tmpdir(), "sourdough-bench-fetch-"));
  const app = serve(worker, { durableObjects: { ECHO: Echo }, modules: [new URL("./fetch-objects.ts", import.meta.url)], hostCount: 1, isolatesPerHost: 1, storageDir, output: () => {}, handleSignals: false });
  await app.ready;
  const stub = app.coordinator.get("bench", Echo);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const body = (n: number) => new Uint8Array(n).fill(97);
  const viaHttp = (method: string, payload?: Uint8Array): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const req = http.request(`${app.url}/`, { method, agent }, (res) => {
        res.resume();
        res.on("end", resolve);
        res.on("error", reject);
      });
      // A kept-alive socket the server closed while idle (keepAliveTimeout): retry, as Node's docs advise.
      req.on("error", (error: Error & { code?: string }) => (req.reusedSocket && error.code === "ECONNRESET" ? viaHttp(method, payload).then(resolve, reject) : reject(error)));
      req.end(payload);
    });
  const echo = async (n: number) => {
    const res = await stub.fetch("http://do/", { method: "POST", body: body(n) });
    if ((await res.arrayBuffer()).byteLength !== n) throw new Error("short echo");
  };
  const cases: Record<string, { n: number; run: () => Promise<unknown> }> = {
    [BASELINE]: { n: REQUESTS, run: () => stub.ping() },
    "stub.fetch GET → \"ok\"": { n: REQUESTS, run: async () => (await stub.fetch("http://do/")).text() },
    "stub.fetch POST 1 KiB echo": { n: REQUESTS, run: () => echo(KiB) },
    "stub.fetch POST 60 KiB echo": { n: REQUESTS / 2, run: () => echo(60 * KiB) },
    "serve() HTTP GET → stub.fetch": { n: REQUESTS, run: () => viaHttp("GET") },
    "serve() HTTP POST 1 KiB → stub.fetch": { n: REQUESTS, run: () => viaHttp("POST", body(KiB)) },
    "stub.fetch POST 1 MiB echo": { n: REQUESTS / 10, run: () => echo(1024 * KiB) },
    "stub.fetch POST 4 MiB echo": { n: REQUESTS / 40, run: () => echo(4096 * KiB) },
  };
  const perRequestUs: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  try {
    // Warm up until the JIT settles (50 requests were not enough: the first rounds ran at half speed).
    for (const c of Object.values(cases)) {
      const until = performance.now() + (quick ? 150 : 500);
      for (let i = 0; i < 20 || performance.now() < until; i++) await c.run();
    }
    for (let round = 0; round < rounds; round++) {
      for (const [name, c] of Object.entries(cases)) {
        const start = process.hrtime.bigint();
        for (let i = 0; i < c.n; i++) await c.run();
        perRequestUs[name]!.push(Number(process.hrtime.bigint() - start) / 1e3 / c.n);
      }
    }
  } finally {
    agent.destroy();
    await app.close();
    fs.rmSync(storageDir, { recursive: true, force: true });
  }
  return perRequestUs;
}

function runChild(dir: string): Record<string, number[]> {
  const script = path.join(dir, "bench", "fetch-bodies.ts");
  const r = spawnSync(process.execPath, ["--import", "tsx", script, "--child", ...(quick ? ["--quick"] : [])], { cwd: dir, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`${script} exited with ${r.status ?? r.signal}`);
  return JSON.parse(r.stdout.trim().split("\n").at(-1)!) as Record<string, number[]>;
}

if (child) {
  process.stdout.write(`${JSON.stringify(await measure(1))}\n`);
} else {
  const here = path.resolve(fileURLToPath(new URL("..", import.meta.url)));
  const sides: Record<"A" | "B", Record<string, number[]>> = { A: {}, B: {} };
  const add = (side: "A" | "B", r: Record<string, number[]>) => {
    for (const [k, v] of Object.entries(r)) (sides[side][k] ??= []).push(...v);
  };
  if (compare === undefined) add("B", await measure(ROUNDS));
  else {
    for (let round = 0; round < ROUNDS; round++) (add("A", runChild(path.resolve(compare))), add("B", runChild(here)));
    // The code that changed, alone and in one process (robust to a busy machine): a 1 KiB request and
    // response through both checkouts' wire/fetch-payload.ts, alternating.
    const a = (await import(path.join(path.resolve(compare), "runtime/wire/fetch-payload.ts"))) as typeof import("../runtime/wire/fetch-payload.ts");
    const b = await import("../runtime/wire/fetch-payload.ts");
    const ops = quick ? 500 : 2_000;
    const record = async (m: typeof b) => {
      const wire = await m.requestToWire(new Request("http://do/", { method: "POST", body: new Uint8Array(KiB) }));
      await m.requestFromWire(wire).arrayBuffer();
      const answer = await m.responseToWire(new Response(new Uint8Array(KiB)));
      await m.responseFromWire(answer).arrayBuffer();
    };
    const name = "fetch records alone: 1 KiB request + 1 KiB response to and from the wire (in-process)";
    for (let i = 0; i < 200; i++) (await record(a), await record(b));
    for (let round = 0; round < ROUNDS * 3; round++) {
      for (const [side, m] of [["A", a], ["B", b]] as const) {
        const start = process.hrtime.bigint();
        for (let i = 0; i < ops; i++) await record(m);
        (sides[side][name] ??= []).push(Number(process.hrtime.bigint() - start) / 1e3 / ops);
      }
    }
  }
  const names = Object.keys(sides.B);
  const med = (side: "A" | "B", k: string) => (sides[side][k]?.length ? median(sides[side][k]!) : undefined);
  const lines = [
    `${ROUNDS} ${compare === undefined ? "rounds" : "interleaved rounds per side (one child process per round)"}, sequential requests, 1 host, 1 isolate, Node ${process.version}, ${os.cpus().length} CPUs${quick ? " (quick)" : ""}. Median latency per request${compare === undefined ? "" : `; A = ${compare}, B = this checkout`}:`,
    "",
    compare === undefined ? "| case | median µs | ÷ RPC call |" : "| case | A median µs | B median µs | B ÷ A |",
    compare === undefined ? "|---|---:|---:|" : "|---|---:|---:|---:|",
    ...names.map((k) => {
      const b = med("B", k)!;
      const a = med("A", k);
      return compare === undefined ? `| ${k} | ${b.toFixed(1)} | ${(b / med("B", BASELINE)!).toFixed(2)}× |` : `| ${k} | ${a?.toFixed(1) ?? "—"} | ${b.toFixed(1)} | ${a === undefined ? "—" : (b / a).toFixed(2)}× |`;
    }),
    "",
  ];
  const md = lines.join("\n");
  process.stdout.write(`${md}\n`);
  const results = new URL("./results/", import.meta.url);
  fs.writeFileSync(new URL("fetch-latest.md", results), md);
  fs.writeFileSync(new URL("fetch-latest.json", results), `${JSON.stringify({ quick, rounds: ROUNDS, requests: REQUESTS, compare, sides }, null, 2)}\n`);
}
