// Entry point of one isolate (a worker thread in a host process): loads the classes, listens on the
// slot's own Unix socket, and serves calls from its object table. Calls never hop through the host's
// main thread. On "shutdown" it stops listening, commits and closes every database, and exits.
import { existsSync, unlinkSync } from "node:fs";
import net from "node:net";
import v8 from "node:v8";
import { parentPort, workerData } from "node:worker_threads";
import { callableMethods } from "../object/callable-methods.ts";
import { ObjectTable } from "../object/object-table.ts";
import { buildEnv } from "../rpc/env.ts";
import { CodecTable } from "../rpc/generated.ts";
import type { OutputGate } from "../rpc/rpc-client.ts";
import { openAlarmIndex } from "../storage/alarm-index.ts";
import { socketPipe } from "../transport/pipe.ts";
import { socketPath, type ClassInfo, type ClusterConfig, type IsolateEvent } from "./cluster-config.ts";
import { BEAT_INTERVAL_MS, IsolateMonitor } from "./isolate-monitor.ts";
import { ensureLoader, loadClasses, loadGenerated } from "./load-classes.ts";
import { SlotRouter } from "./slot-router.ts";
import { startIsolateOps } from "../ops/isolate-ops.ts";
import type { OpsIsolateMessage } from "../ops/ops-messages.ts";
import { TableStats } from "../ops/table-stats.ts";

interface IsolateData {
  config: ClusterConfig;
  host: number;
  isolate: number;
  monitor: SharedArrayBuffer;
  /** Figures for health and metrics, read by the host's main thread (ops/isolate-gauges.ts). */
  gauges: SharedArrayBuffer;
}

const port = parentPort!;
const { config, host, isolate, monitor: monitorBuffer, gauges } = workerData as IsolateData;
const monitor = new IsolateMonitor(monitorBuffer);

// The watchdog's view of this isolate (host-main.ts): a beat from the event loop (it stops while user
// code holds the thread) and, every fifth beat, the memory in use.
function startHeartbeat(): void {
  let n = 0;
  const beat = () => {
    monitor.beat();
    if (n++ % 5 === 0) {
      const heap = v8.getHeapStatistics();
      monitor.reportMemory(heap.used_heap_size, heap.external_memory);
    }
  };
  beat();
  setInterval(beat, BEAT_INTERVAL_MS).unref();
}

// User code's stray errors (a throwing timer callback, a rejected promise nobody handles) must not take
// the isolate and every object on it down. They cannot be traced to an object here, so they are
// logged with their stack (through the coordinator's logger), as Cloudflare logs them, and the isolate goes on.
function survive(kind: string): (error: unknown) => void {
  return (error) => {
    const text = error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : String(error);
    log("error", `host ${host} isolate ${isolate}: ${kind} in object code (the isolate goes on): ${text}`);
  };
}

function log(level: "info" | "warn" | "error", message: string): void {
  postOps({ type: "ops-log", level, message });
}

function postOps(message: OpsIsolateMessage): void {
  port.postMessage(message);
}
process.on("uncaughtException", survive("uncaught exception"));
process.on("unhandledRejection", survive("unhandled promise rejection"));

function post(event: IsolateEvent): void {
  port.postMessage(event);
}

async function main(): Promise<void> {
  await ensureLoader(config.generatedUrl === undefined ? config.modules : [...config.modules, config.generatedUrl]);
  const classes = await loadClasses(config.modules);
  const codecs = new CodecTable(config.generatedUrl === undefined ? {} : await loadGenerated(config.generatedUrl));
  const slot = host * config.isolatesPerHost + isolate;
  let table: ObjectTable | undefined;
  const stats = new TableStats({ perCall: config.metrics });
  const outputGate: OutputGate = { afterCommit: (release) => table!.afterCommit(release) };
  const router = new SlotRouter({ config, codecs, self: { slot, serve: (pipe) => table!.serve(pipe) }, outputGate });
  gateFetch(outputGate);
  table = new ObjectTable({
    classes,
    env: buildEnv(config.vars, config.bindings, router),
    storageDir: config.storageDir,
    maxFrameBytes: config.maxFrameBytes,
    maxCallBytes: config.maxCallBytes,
    idleEvictionMs: config.idleEvictionMs,
    codecs,
    label: `host ${host} isolate ${isolate}`,
    alarms: { index: openAlarmIndex(config.storageDir), retryBaseMs: config.alarmRetryBaseMs, owns: (ns, id) => router.slotOf(ns, id) === slot },
    log: (message) => log("warn", message.replace(/^sourdough: /, "")),
    maxQueuedEvents: config.maxQueuedEvents,
    blockConcurrencyTimeoutMs: config.blockConcurrencyTimeoutMs,
    ...(config.cpuLimitMs > 0 || config.isolateMemoryMb > 0 ? { recorder: monitor } : {}),
    stats,
  });
  startHeartbeat();
  const answerOps = startIsolateOps({ table: () => table!, stats, gauges, heapLimitBytes: config.isolateMemoryMb * 1048576, post: postOps });
  const path = socketPath(config.runDir, host, isolate);
  if (existsSync(path)) unlinkSync(path); // left by a predecessor that died
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    table!.serve(socketPipe(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, () => resolve());
  });
  const info: ClassInfo = {};
  for (const [name, Class] of classes) info[name] = [...callableMethods(Class)];
  port.on("message", (message: { type?: string; id?: unknown }) => {
    if (answerOps(message) || message.type !== "shutdown") return;
    server.close();
    router.close();
    table!.close();
    for (const socket of sockets) socket.destroy();
    if (existsSync(path)) unlinkSync(path);
    port.close();
  });
  post({ type: "ready", classes: info });
}

// Only user code runs fetch() in an isolate, so the global is gated: a request leaves after the writes
// made before it are committed, and is not sent if committing them failed (Cloudflare's output gate).
function gateFetch(gate: OutputGate): void {
  const send = globalThis.fetch;
  globalThis.fetch = async function fetch(input: Parameters<typeof send>[0], init?: Parameters<typeof send>[1]): Promise<Response> {
    await new Promise<void>((resolve, reject) => gate.afterCommit((error) => (error === undefined ? resolve() : reject(error))));
    return send(input, init);
  };
}

main().catch((error: unknown) => {
  post({ type: "fatal", message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  port.close();
});
