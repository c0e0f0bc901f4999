/**
 * Storage benchmark (issue 4): per-operation cost of the storage API in one isolate, and committed
 * writes through RPC to 1000 objects beside a plain single-process better-sqlite3 loop doing the
 * same writes, alternating A B A B in one sitting.
 *
 *   node --import tsx bench/storage.ts            5 rounds
 *   node --import tsx bench/storage.ts --quick    3 rounds, shorter windows
 *
 * Writes bench/results/storage-latest.{json,md}.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import Database from "better-sqlite3";
import { Packr } from "msgpackr";
import { ClusterCoordinator, type DurableObjectStub } from "sourdough";
import { ObjectStorage } from "../runtime/storage/object-storage.ts";
import { BenchCounter } from "./objects.ts";

const quick = process.argv.includes("--quick");
const ROUNDS = quick ? 3 : 5;
const WINDOW_MS = quick ? 1000 : 2000;
const OBJECTS = 1000;
const IN_FLIGHT = 256;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (n: number, digits = 0) => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** µs per operation, over `n` operations after a warm-up of n/10. */
function perOp(n: number, op: (i: number) => void): number {
  for (let i = 0; i < n / 10; i++) op(i);
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) op(i);
  return Number(process.hrtime.bigint() - t) / 1000 / n;
}

function inIsolateCosts(dir: string): Record<string, number> {
  const storage = new ObjectStorage({ file: path.join(dir, `iso-${Date.now()}.sqlite`), onDirty: () => {} });
  storage.sql.exec("CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, name TEXT, n REAL)");
  for (let i = 0; i < 100; i++) storage.kv.put(`list:${String(i).padStart(3, "0")}`, { i, name: `item ${i}` });
  storage.commit();
  // Each measured operation is committed, as the output gate does before a reply.
  const putGet = perOp(20_000, (i) => {
    storage.kv.put("k", i);
    storage.kv.get("k");
    storage.commit();
  });
  const insert = perOp(20_000, (i) => {
    storage.sql.exec("INSERT INTO items (name, n) VALUES (?, ?)", `row ${i}`, i);
    storage.commit();
  });
  const list100 = perOp(2_000, () => {
    let n = 0;
    for (const _ of storage.kv.list({ prefix: "list:" })) n++;
    if (n !== 100) throw new Error(`expected 100 rows, got ${n}`);
  });
  storage.close();
  return { "KV put + get, committed": putGet, "SQL insert, committed": insert, "KV list of 100 keys": list100 };
}

async function rpcWrites(stubs: Array<DurableObjectStub<BenchCounter>>): Promise<number> {
  let done = 0;
  let stop = false;
  let next = 0;
  const worker = async () => {
    while (!stop) {
      await stubs[next++ % stubs.length]!.incrementStored();
      done++;
    }
  };
  const workers = Array.from({ length: IN_FLIGHT }, worker);
  await new Promise((r) => setTimeout(r, 300)); // warm-up
  const start = done;
  const t = performance.now();
  await new Promise((r) => setTimeout(r, WINDOW_MS));
  const rate = ((done - start) * 1000) / (performance.now() - t);
  stop = true;
  await Promise.all(workers);
  return rate;
}

/** The same committed writes, one process, no RPC: get + put + commit per write, round-robin. */
function loopWrites(dbs: Array<ReturnType<typeof openLoopDb>>): number {
  const packr = new Packr({ structuredClone: true });
  let i = 0;
  const t = performance.now();
  const end = t + WINDOW_MS;
  while (performance.now() < end) {
    for (let k = 0; k < 100; k++, i++) {
      const db = dbs[i % dbs.length]!;
      const row = db.get.get("n") as { value: Buffer } | undefined;
      const n = ((row === undefined ? 0 : (packr.unpack(row.value) as number)) ?? 0) + 1;
      db.begin.run();
      db.put.run("n", packr.pack(n));
      db.commit.run();
    }
  }
  return (i * 1000) / (performance.now() - t);
}

// The runtime's settings for object databases (runtime/storage/object-storage.ts).
function openLoopDb(file: string) {
  const db = new Database(file);
  db.pragma("page_size = 1024");
  db.pragma("locking_mode = EXCLUSIVE");
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.pragma("wal_autocheckpoint = 256");
  db.exec("CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value BLOB) WITHOUT ROWID");
  return { db, begin: db.prepare("BEGIN"), commit: db.prepare("COMMIT"), get: db.prepare("SELECT value FROM kv WHERE key = ?"), put: db.prepare("INSERT OR REPLACE INTO kv VALUES (?, ?)") };
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sourdough-bench-storage-"));
  const coordinator = new ClusterCoordinator({
    hostCount: 2,
    isolatesPerHost: 1,
    storageDir: path.join(dir, "rpc"),
    modules: [new URL("./objects.ts", import.meta.url)],
    output: (host, stream, text) => void process.stderr.write(`[host ${host}] ${text}`),
  });
  const loopDbs = Array.from({ length: OBJECTS }, (_, i) => openLoopDb(path.join(dir, `loop-${i}.sqlite`)));
  try {
    await coordinator.ready;
    const stubs = Array.from({ length: OBJECTS }, (_, i) => coordinator.get(`obj-${i}`, BenchCounter));
    await Promise.all(stubs.map((s) => s.incrementStored())); // create every database first
    const costs: Record<string, number[]> = {};
    const rpc: number[] = [];
    const loop: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, us] of Object.entries(inIsolateCosts(dir))) (costs[name] ??= []).push(us);
      loop.push(loopWrites(loopDbs));
      rpc.push(await rpcWrites(stubs));
      process.stderr.write(`[storage] round ${round + 1}: loop ${fmt(loop.at(-1)!)}/s, rpc ${fmt(rpc.at(-1)!)}/s\n`);
    }
    const ratios = rpc.map((r, i) => r / loop[i]!);
    const lines = [
      `sourdough storage bench — ${os.cpus()[0]?.model ?? "cpu"} (${os.cpus().length} cores), Node ${process.version}, ${new Date().toISOString()}, \`node --import tsx bench/storage.ts${quick ? " --quick" : ""}\`, ${ROUNDS} rounds`,
      "",
      "| Scenario | Median | Min – max |",
      "|---|---:|---:|",
      ...Object.entries(costs).map(([name, xs]) => `| In-isolate: ${name} | ${fmt(median(xs), 2)} µs | ${fmt(Math.min(...xs), 2)} – ${fmt(Math.max(...xs), 2)} µs |`),
      `| Plain better-sqlite3 loop, one process: committed write (get + put) round-robin over ${OBJECTS} databases | ${fmt(median(loop))}/s | ${fmt(Math.min(...loop))} – ${fmt(Math.max(...loop))}/s |`,
      `| RPC \`incrementStored()\`, ${IN_FLIGHT} in flight over ${OBJECTS} objects, 2 hosts × 1 isolate, acknowledged = committed | ${fmt(median(rpc))}/s | ${fmt(Math.min(...rpc))} – ${fmt(Math.max(...rpc))}/s |`,
      `| RPC ÷ plain loop, same round (target ≥ 40%) | ${fmt(median(ratios) * 100)}% ${median(ratios) >= 0.4 ? "✓" : "✗"} | ${fmt(Math.min(...ratios) * 100)} – ${fmt(Math.max(...ratios) * 100)}% |`,
      "",
      "Both sides use the runtime's database settings (WAL, synchronous=NORMAL, 1 KiB pages, 256-page checkpoints) and msgpack values; each round runs the loop, then the RPC window.",
    ];
    const md = `${lines.join("\n")}\n`;
    process.stdout.write(md);
    const results = new URL("./results/", import.meta.url);
    fs.mkdirSync(results, { recursive: true });
    fs.writeFileSync(new URL("storage-latest.md", results), md);
    fs.writeFileSync(new URL("storage-latest.json", results), `${JSON.stringify({ quick, rounds: ROUNDS, costsUs: costs, loop, rpc, ratios }, null, 2)}\n`);
  } finally {
    for (const d of loopDbs) d.db.close();
    await coordinator.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
