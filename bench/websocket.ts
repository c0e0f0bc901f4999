/**
 * WebSockets (issue 10): the chat example's room on sourdough and on workerd, side by side in one run.
 *
 *   node --import tsx bench/websocket.ts           full: 3 rounds; 1 × 1000 fan-out, 100 × 10 rooms, 10 000 idle sockets
 *   node --import tsx bench/websocket.ts --quick   smoke: 2 rounds; 1 × 200, 20 × 10, 1 000 idle sockets
 *   ... --engines=workerd                         one engine only (default: sourdough,workerd)
 *   ... --scenarios=fanout,rooms                  a subset (default: idle,fanout,plain,rooms)
 *   ... --in-flight=N                             fan-out: messages in flight (default 8)
 *
 * - Fan-out: one room, N receivers, one sender keeping 8 messages in flight (a message is done when
 *   every receiver has it): delivered messages/s, p50/p99 delivery latency (send → receipt).
 * - Fan-out without storage ("plain"): the same, through test/engines/ws-room.ts's broadcast (no SQL,
 *   no output gate wait), to show how much of the fan-out figure is the per-message commit.
 * - Many rooms: R rooms × 10 users, each sending its next message when its previous one came back.
 * - Idle: M sockets in 100-socket rooms, left alone until every room object is evicted (sourdough
 *   idleEvictionMs 2 s; workerd its own policy); RSS growth of each server process per socket, objects
 *   resident (SQLite files held open), then a ping on every socket (answered pong without the object).
 * Clients run in a child process (bench/websocket-load.ts); rounds alternate workerd then sourdough.
 * Writes bench/results/websocket-latest.{json,md}.
 */
import { fork, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as v8 from "node:v8";
import * as vm from "node:vm";
import { fileURLToPath } from "node:url";
import { codeVersion } from "./code-version.ts";
import { procCpuUs } from "./proc-cpu.ts";
import { ensurePeers } from "./peers-install.ts";
import type { LoadCommand, TrafficResult } from "./websocket-load.ts";
import { startSourdoughServer, startWorkerdServer, type WsServer } from "./websocket-servers.ts";

const quick = process.argv.includes("--quick");
const engines = (process.argv.find((a) => a.startsWith("--engines="))?.slice("--engines=".length) ?? "sourdough,workerd").split(",");
const S = quick
  ? { rounds: 2, fanout: 200, rooms: 20, perRoom: 10, idleRooms: 10, idlePerRoom: 100, warmupMs: 500, windowMs: 1500, evictWaitMs: 20_000 }
  : { rounds: 3, fanout: 1000, rooms: 100, perRoom: 10, idleRooms: 100, idlePerRoom: 100, warmupMs: 1000, windowMs: 5000, evictWaitMs: 30_000 };
const IN_FLIGHT = Number(process.argv.find((a) => a.startsWith("--in-flight="))?.slice("--in-flight=".length) ?? 8);
const scenarios = (process.argv.find((a) => a.startsWith("--scenarios="))?.slice("--scenarios=".length) ?? "idle,fanout,plain,rooms").split(",");
const IDLE_EVICTION_MS = 2000;
type Engine = "sourdough" | "workerd";

const log = (line: string) => void process.stderr.write(`${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as () => void;

/** Resident memory of a process, bytes (/proc). */
function rss(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN) * 1024;
}

class Load {
  readonly #child: ChildProcess;
  readonly #waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #next = 0;
  /** Called when the generator opens and closes its measurement window. */
  onWindow: ((phase: "start" | "stop") => void) | undefined;
  constructor() {
    this.#child = fork(fileURLToPath(new URL("./websocket-load.ts", import.meta.url)), [], { execArgv: ["--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
    this.#child.on("message", (m: { id: number; result?: unknown; error?: string; event?: string }) => {
      if (m.event === "window-start" || m.event === "window-stop") return this.onWindow?.(m.event === "window-start" ? "start" : "stop");
      const w = this.#waiting.get(m.id);
      this.#waiting.delete(m.id);
      if (m.error !== undefined) w?.reject(new Error(`load generator: ${m.error}`));
      else w?.resolve(m.result);
    });
    this.#child.on("exit", (code) => {
      for (const w of this.#waiting.values()) w.reject(new Error(`load generator exited (${code})`));
    });
  }
  get pid(): number | undefined {
    return this.#child.pid;
  }
  run<T>(command: LoadCommand): Promise<T> {
    const id = ++this.#next;
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.#child.send({ id, ...command });
    });
  }
  close(): void {
    this.#child.disconnect();
  }
}

interface IdleResult {
  sockets: number;
  /** RSS growth per process, bytes. */
  growth: Record<string, number>;
  bytesPerSocket: number;
  residentAfterEviction: number;
  evictedAfterMs: number;
  ponged: number;
  residentAfterPing: number;
  closedByServer: number;
}

interface EngineRuns {
  fanout: TrafficResult[];
  plain: TrafficResult[];
  rooms: TrafficResult[];
  idle: IdleResult[];
}

/** Runs one traffic command, measuring each server process's CPU over the generator's window. */
async function traffic(server: WsServer, load: Load, command: LoadCommand): Promise<TrafficResult> {
  let t0 = 0;
  let t1 = 0;
  let before = new Map<string, number>();
  const serverCpu: Record<string, number> = {};
  load.onWindow = (phase) => {
    if (phase === "start") {
      t0 = performance.now();
      before = new Map(server.processes().map((p) => [p.role, procCpuUs(p.pid)]));
    } else {
      t1 = performance.now();
      for (const p of server.processes()) serverCpu[p.role] = (procCpuUs(p.pid) - (before.get(p.role) ?? Number.NaN)) / 1000 / (t1 - t0);
    }
  };
  try {
    return { ...(await load.run<TrafficResult>(command)), serverCpu };
  } finally {
    load.onWindow = undefined;
  }
}

async function idleRound(server: WsServer, load: Load, round: number): Promise<IdleResult> {
  const sockets = S.idleRooms * S.idlePerRoom;
  // Start from no resident object (earlier rounds' rooms evicted), so memory freed meanwhile is not counted.
  for (const t = performance.now(); server.residentObjects() > 0 && performance.now() - t < S.evictWaitMs; ) await sleep(250);
  gc();
  await sleep(500);
  const before = new Map(server.processes().map((p) => [p.role, rss(p.pid)]));
  await load.run({ cmd: "idle-open", wsOrigin: server.wsOrigin, prefix: `idle${round}-`, rooms: S.idleRooms, perRoom: S.idlePerRoom });
  const t0 = performance.now();
  while (server.residentObjects() > 0 && performance.now() - t0 < S.evictWaitMs) await sleep(250);
  const evictedAfterMs = performance.now() - t0;
  const residentAfterEviction = server.residentObjects();
  gc();
  await sleep(1000);
  const growth: Record<string, number> = {};
  for (const p of server.processes()) growth[p.role] = rss(p.pid) - (before.get(p.role) ?? Number.NaN);
  const check = await load.run<{ open: number; ponged: number; closedByServer: number }>({ cmd: "idle-check" });
  const residentAfterPing = server.residentObjects();
  await load.run({ cmd: "idle-close" });
  await sleep(500);
  const total = Object.values(growth).reduce((a, b) => a + b, 0);
  return { sockets, growth, bytesPerSocket: total / sockets, residentAfterEviction, evictedAfterMs, ponged: check.ponged, residentAfterPing, closedByServer: check.closedByServer };
}

const cpuText = (r: TrafficResult) => Object.entries(r.serverCpu ?? {}).map(([role, cores]) => `${role} ${fmt(cores, 2)}`).join(", ");
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits }) : "—");
const summary = (xs: number[], digits = 0, unit = "") => (xs.length === 0 ? "—" : `${fmt(median(xs), digits)}${unit} (${fmt(Math.min(...xs), digits)} – ${fmt(Math.max(...xs), digits)})`);

const loadAverages: number[] = [];

async function main(): Promise<void> {
  const started = performance.now();
  loadAverages.push(os.loadavg()[0]!);
  const peers = await ensurePeers(log);
  const runs: Record<Engine, EngineRuns> = { sourdough: { fanout: [], plain: [], rooms: [], idle: [] }, workerd: { fanout: [], plain: [], rooms: [], idle: [] } };
  const servers: WsServer[] = [];
  const load = new Load();
  let failed: string | null = null;
  try {
    if (engines.includes("sourdough")) servers.push(await startSourdoughServer(IDLE_EVICTION_MS, log));
    if (!engines.includes("workerd")) log("[bench] workerd not run (--engines)");
    else if (peers.workerdMissing === undefined) servers.unshift(await startWorkerdServer(peers.versions.workerd!, log));
    else log(`[bench] workerd rows skipped: ${peers.workerdMissing}`);
    log(`${quick ? "quick" : "full"} run: ${S.rounds} rounds; engines ${servers.map((s) => s.engine).join(", ")}; load generator pid ${load.pid}`);
    for (let round = 1; round <= S.rounds; round++) {
      for (const server of scenarios.includes("idle") ? servers : []) {
        const r = await idleRound(server, load, round);
        runs[server.engine].idle.push(r);
        log(`round ${round} ${server.engine} idle ${r.sockets}: ${fmt(r.bytesPerSocket)} B/socket (${Object.entries(r.growth).map(([k, v]) => `${k} ${fmt(v / 1048576, 1)} MiB`).join(", ")}), resident ${r.residentAfterEviction} after ${fmt(r.evictedAfterMs)} ms, ${r.ponged} ponged, resident after ping ${r.residentAfterPing}`);
      }
      for (const server of scenarios.includes("fanout") ? servers : []) {
        const r = await traffic(server, load, { cmd: "fanout", wsOrigin: server.wsOrigin, room: `fan${round}`, receivers: S.fanout, warmupMs: S.warmupMs, windowMs: S.windowMs, inFlight: IN_FLIGHT, storage: true });
        runs[server.engine].fanout.push(r);
        log(`round ${round} ${server.engine} fan-out 1 × ${S.fanout}: ${fmt(r.delivered / r.seconds)} delivered/s, p50 ${fmt(r.p50Ms, 2)} ms, p99 ${fmt(r.p99Ms, 2)} ms, client CPU ${fmt(r.clientCpu, 2)}, server CPU ${cpuText(r)}`);
      }
      for (const server of scenarios.includes("plain") ? servers : []) {
        const r = await traffic(server, load, { cmd: "fanout", wsOrigin: server.wsOrigin, room: `plain${round}`, receivers: S.fanout, warmupMs: S.warmupMs, windowMs: S.windowMs, inFlight: IN_FLIGHT, storage: false });
        runs[server.engine].plain.push(r);
        log(`round ${round} ${server.engine} fan-out without storage 1 × ${S.fanout}: ${fmt(r.delivered / r.seconds)} delivered/s, p50 ${fmt(r.p50Ms, 2)} ms, p99 ${fmt(r.p99Ms, 2)} ms, client CPU ${fmt(r.clientCpu, 2)}, server CPU ${cpuText(r)}`);
      }
      for (const server of scenarios.includes("rooms") ? servers : []) {
        const r = await traffic(server, load, { cmd: "rooms", wsOrigin: server.wsOrigin, prefix: `rooms${round}-`, rooms: S.rooms, perRoom: S.perRoom, warmupMs: S.warmupMs, windowMs: S.windowMs });
        runs[server.engine].rooms.push(r);
        log(`round ${round} ${server.engine} rooms ${S.rooms} × ${S.perRoom}: ${fmt(r.delivered / r.seconds)} delivered/s (${fmt(r.sent / r.seconds)} sent/s), p50 ${fmt(r.p50Ms, 2)} ms, p99 ${fmt(r.p99Ms, 2)} ms, client CPU ${fmt(r.clientCpu, 2)}, server CPU ${cpuText(r)}`);
      }
    }
  } catch (error) {
    failed = error instanceof Error ? error.message : String(error);
    log(`[bench] failed: ${failed}`);
  } finally {
    load.close();
    for (const server of servers) await server.close().catch((e: unknown) => log(`[bench] closing ${server.engine}: ${String(e)}`));
  }
  loadAverages.push(os.loadavg()[0]!);
  const md = report(runs, peers.versions.workerd, (performance.now() - started) / 1000, failed);
  const out = new URL("./results/", import.meta.url);
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(new URL("websocket-latest.md", out), md);
  fs.writeFileSync(new URL("websocket-latest.json", out), `${JSON.stringify({ quick, loadAverages, sizes: S, inFlight: IN_FLIGHT, idleEvictionMs: IDLE_EVICTION_MS, workerd: peers.versions.workerd ?? null, failed, runs, machine: { cpu: os.cpus()[0]?.model, cores: os.availableParallelism(), node: process.version } }, null, 2)}\n`);
  process.stdout.write(md);
  if (failed !== null) process.exitCode = 1;
}

/** Server CPU (all its processes) per delivered message, µs: the cost, whatever share of the machine it got. */
const cpuPerDelivery = (r: TrafficResult) => (Object.values(r.serverCpu ?? {}).reduce((a, b) => a + b, 0) * 1e6) / (r.delivered / r.seconds);

/** One row per server process: its CPU (cores) during the windows of a scenario. */
function cpuRows(label: string, sourdough: TrafficResult[], workerd: TrafficResult[]): string[] {
  const roles = (rs: TrafficResult[]) => [...new Set(rs.flatMap((r) => Object.keys(r.serverCpu ?? {})))];
  const cell = (rs: TrafficResult[], role: string) => summary(rs.map((r) => r.serverCpu?.[role] ?? Number.NaN).filter(Number.isFinite), 2);
  return [
    `| ${label}: server CPU during the windows (cores) | ${roles(sourdough).map((role) => `${role} ${cell(sourdough, role)}`).join("; ") || "—"} | ${roles(workerd).map((role) => `${role} ${cell(workerd, role)}`).join("; ") || "—"} | | |`,
    `| ${label}: server CPU per delivered message (all server processes) | ${summary(sourdough.map(cpuPerDelivery), 1, " µs")} | ${summary(workerd.map(cpuPerDelivery), 1, " µs")} | workerd ÷ sourdough: ${workerd.length === 0 ? "—" : summary(workerd.map((r, i) => cpuPerDelivery(r) / cpuPerDelivery(sourdough[i]!)), 1, "×")} | |`,
  ];
}

function report(runs: Record<Engine, EngineRuns>, workerdVersion: string | undefined, seconds: number, failed: string | null): string {
  const version = codeVersion();
  const rate = (rs: TrafficResult[]) => rs.map((r) => r.delivered / r.seconds);
  const ratio = (a: number[], b: number[]) => (b.length === 0 ? "—" : summary(a.map((x, i) => x / b[i]!), 1, "×"));
  const s = runs.sourdough;
  const w = runs.workerd;
  const lines = [
    `sourdough WebSocket bench — ${os.cpus()[0]?.model ?? "cpu"} × ${os.availableParallelism()}, Node ${process.version}, workerd ${workerdVersion ?? "not run"}; \`node --import tsx bench/websocket.ts${quick ? " --quick" : ""}\`, commit ${version.commit}; ${fmt(seconds)} s${failed === null ? "" : ` — FAILED: ${failed}`}`,
    "",
    "| Scenario | sourdough: median (min – max) | workerd: median (min – max) | sourdough ÷ workerd, per round | Target |",
    "|---|---:|---:|---:|---|",
    `| Fan-out 1 room × ${fmt(S.fanout)} sockets, one sender (${IN_FLIGHT} messages in flight): delivered messages/s | ${summary(rate(s.fanout))} | ${summary(rate(w.fanout))} | ${ratio(rate(s.fanout), rate(w.fanout))} | ≥ 5× workerd |`,
    `| Fan-out: delivery latency p50 | ${summary(s.fanout.map((r) => r.p50Ms), 2, " ms")} | ${summary(w.fanout.map((r) => r.p50Ms), 2, " ms")} | | |`,
    `| Fan-out: delivery latency p99 | ${summary(s.fanout.map((r) => r.p99Ms), 2, " ms")} | ${summary(w.fanout.map((r) => r.p99Ms), 2, " ms")} | | |`,
    `| Fan-out without storage (the suite's room: broadcast only, no SQL write): delivered messages/s | ${summary(rate(s.plain))} | ${summary(rate(w.plain))} | ${ratio(rate(s.plain), rate(w.plain))} | (not a target: shows the commit's share) |`,
    `| Fan-out without storage: delivery latency p50 / p99 | ${summary(s.plain.map((r) => r.p50Ms), 2, " ms")} / ${summary(s.plain.map((r) => r.p99Ms), 1, " ms")} | ${summary(w.plain.map((r) => r.p50Ms), 2, " ms")} / ${summary(w.plain.map((r) => r.p99Ms), 1, " ms")} | | |`,
    `| Many rooms ${fmt(S.rooms)} × ${S.perRoom}, everyone chatting: delivered messages/s | ${summary(rate(s.rooms))} | ${summary(rate(w.rooms))} | ${ratio(rate(s.rooms), rate(w.rooms))} | ≥ 5× workerd |`,
    `| Many rooms: delivery latency p50 / p99 | ${summary(s.rooms.map((r) => r.p50Ms), 2, " ms")} / ${summary(s.rooms.map((r) => r.p99Ms), 1, " ms")} | ${summary(w.rooms.map((r) => r.p50Ms), 2, " ms")} / ${summary(w.rooms.map((r) => r.p99Ms), 1, " ms")} | | |`,
    `| Load generator CPU during the windows (cores; fan-out / rooms) | ${summary(s.fanout.map((r) => r.clientCpu), 2)} / ${summary(s.rooms.map((r) => r.clientCpu), 2)} | ${summary(w.fanout.map((r) => r.clientCpu), 2)} / ${summary(w.rooms.map((r) => r.clientCpu), 2)} | | |`,
    ...cpuRows("Fan-out", s.fanout, w.fanout),
    ...cpuRows("Fan-out without storage", s.plain, w.plain),
    ...cpuRows("Many rooms", s.rooms, w.rooms),
    `| Idle ${fmt(S.idleRooms * S.idlePerRoom)} hibernated sockets: RSS growth per socket, all server processes | ${summary(s.idle.map((r) => r.bytesPerSocket), 0, " B")} | ${summary(w.idle.map((r) => r.bytesPerSocket), 0, " B")} | | ≤ 10 KiB (sourdough) |`,
    ...[...new Set(s.idle.flatMap((r) => Object.keys(r.growth)))].map((role) => `| Idle: of which ${role} | ${summary(s.idle.map((r) => (r.growth[role] ?? Number.NaN) / r.sockets), 0, " B")} | | | |`),
    `| Idle: objects resident after eviction (open SQLite files) | ${summary(s.idle.map((r) => r.residentAfterEviction))} after ${summary(s.idle.map((r) => r.evictedAfterMs / 1000), 1, " s")} | ${summary(w.idle.map((r) => r.residentAfterEviction))} after ${summary(w.idle.map((r) => r.evictedAfterMs / 1000), 1, " s")} | | 0 |`,
    `| Idle: sockets answering ping → pong after eviction / objects resident after the pings | ${summary(s.idle.map((r) => r.ponged))} / ${summary(s.idle.map((r) => r.residentAfterPing))} | ${summary(w.idle.map((r) => r.ponged))} / ${summary(w.idle.map((r) => r.residentAfterPing))} | | all / 0 |`,
    "",
    `- ${S.rounds} rounds, workerd then sourdough in each: idle, fan-out, fan-out without storage, many rooms; ${fmt(S.warmupMs)} ms warm-up then a ${fmt(S.windowMs)} ms window per traffic run; fresh rooms each round. The room is examples/chat/room.ts on both engines (each message is one SQLite insert + trim, then a broadcast).`,
    `- Machine load (1-minute load average) at the start and the end: ${loadAverages.map((l) => fmt(l, 1)).join(" / ")} on ${os.availableParallelism()} cores: above the core count, every process waits for CPU and the figures measure the contention as much as the engines (server and client CPU below 1 core with high latency is the sign).`,
    `- Clients (the \`ws\` package) run in one child process on the same ${os.availableParallelism()}-core machine as the servers; a load generator CPU near 1.0 means the figure is bounded by the client, not the server. sourdough: serve() (the gateway, holding the client sockets) in the bench process, 2 hosts × 1 isolate, idleEvictionMs ${IDLE_EVICTION_MS}. workerd: miniflare from bench/peers, the same classes bundled by esbuild, clients connected to workerd's own socket.`,
    `- Idle memory: RSS growth of each server process from before the sockets opened (once no object was resident) to after every room was evicted (sourdough: gateway = this process, after a full GC; hosts as they are), divided by the sockets.`,
  ];
  return `${lines.join("\n")}\n`;
}

await main();
