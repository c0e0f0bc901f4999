// Entry point of a host process. Its main thread runs no user code: it starts the isolate pool,
// watches each isolate (CPU limit, memory limit) through shared memory and stops one that exceeds a
// limit, replaces an isolate that dies, reports to the coordinator over IPC, and shuts the pool down
// on request or when the coordinator goes away (so a host never outlives its coordinator).
import { Worker } from "node:worker_threads";
import { ErrorCode } from "../errors.ts";
import type { ClassInfo, ClusterConfig, HostCommand, HostEvent, IsolateEvent } from "./cluster-config.ts";
import { BEAT_INTERVAL_MS, IsolateMonitor, type EventLabel } from "./isolate-monitor.ts";
import { writeSlotDown, type SlotDown } from "./slot-down.ts";
import { RestartPolicy } from "../util/restart-policy.ts";
import { HostReporter } from "../ops/host-reporter.ts";
import { IsolateGauges } from "../ops/isolate-gauges.ts";
import type { OpsHostMessage, OpsReportRequest } from "../ops/ops-messages.ts";

// Hosts always run compiled JavaScript (dist/); user modules may be TypeScript (see load-classes.ts).
const ISOLATE_ENTRY = new URL("./isolate-main.js", import.meta.url);
const SHUTDOWN_GRACE_MS = 3000;
/** How often the watchdog looks at the isolates; the isolates beat four times as often. */
export const WATCH_INTERVAL_MS = 50;

function send(event: HostEvent | OpsHostMessage): void {
  if (process.connected) process.send!(event);
}

/** What the watchdog knows of one running isolate. */
interface Watched {
  worker: Worker;
  monitor: IsolateMonitor;
  beats: number;
  beatAt: number;
  /** Set once the watchdog stopped it, so its exit is replaced at once, without backoff. */
  stoppedFor: SlotDown | undefined;
}

class IsolatePool {
  readonly #config: ClusterConfig;
  readonly #host: number;
  readonly #workers: Array<Worker | undefined>;
  readonly #watched: Array<Watched | undefined>;
  /** When to replace each isolate after it dies (the same policy as the coordinator's for hosts). */
  readonly #restarts: RestartPolicy[];
  readonly #watchdog: NodeJS.Timeout | undefined;
  #stopping = false;
  /** Figures for the coordinator's health and metrics (ops/host-reporter.ts). */
  readonly reporter: HostReporter;

  constructor(config: ClusterConfig, host: number) {
    this.#config = config;
    this.#host = host;
    this.reporter = new HostReporter(host, config.isolatesPerHost, config.metrics, send);
    this.#workers = Array.from({ length: config.isolatesPerHost }, (): Worker | undefined => undefined);
    this.#watched = Array.from({ length: config.isolatesPerHost }, (): Watched | undefined => undefined);
    this.#restarts = Array.from({ length: config.isolatesPerHost }, () => new RestartPolicy(config.restart));
    if (config.cpuLimitMs > 0 || config.isolateMemoryMb > 0) {
      this.#watchdog = setInterval(() => this.#watch(), WATCH_INTERVAL_MS);
      this.#watchdog.unref();
    }
  }

  // No per-call cost: isolates bump a shared counter from a timer; a counter that stops moving for
  // cpuLimitMs means user code has held the thread that long without yielding.
  #watch(): void {
    const now = Date.now();
    const { cpuLimitMs, isolateMemoryMb } = this.#config;
    for (let i = 0; i < this.#watched.length; i++) {
      const w = this.#watched[i];
      if (w === undefined || w.stoppedFor !== undefined) continue;
      const beats = w.monitor.beats;
      if (beats !== w.beats) {
        w.beats = beats;
        w.beatAt = now;
      } else if (cpuLimitMs > 0 && w.beats > 0 && now - w.beatAt > cpuLimitMs + BEAT_INTERVAL_MS) {
        // The last beat may have come up to one interval before the event began: never stop early.
        this.#stop(i, w, this.#cpuLimit(i, w.monitor.lastEvent));
        continue;
      }
      const memory = w.monitor.memoryMb;
      if (isolateMemoryMb > 0 && memory.heap + memory.external > isolateMemoryMb) this.#stop(i, w, this.#memoryLimit(i, w.monitor.lastEvent, memory));
    }
  }

  #stop(i: number, w: Watched, down: SlotDown): void {
    w.stoppedFor = down;
    if (down.code === ErrorCode.CPU_LIMIT) this.reporter.cpuLimitKills++;
    else this.reporter.memoryLimitKills++;
    try {
      writeSlotDown(this.#config.runDir, this.#host, i, down);
    } catch (error) {
      send({ type: "ops-log", level: "error", message: `host ${this.#host}: cannot record why isolate ${i} stops: ${String(error)}`, isolate: i });
    }
    send({ type: "ops-log", level: "warn", message: `host ${this.#host}: ${down.message}`, isolate: i });
    void w.worker.terminate();
  }

  #cpuLimit(i: number, event: EventLabel | undefined): SlotDown {
    const limit = this.#config.cpuLimitMs;
    const what = event === undefined ? "an event" : `${event.namespace}.${event.method} (object ${event.objectId})`;
    return {
      code: ErrorCode.CPU_LIMIT,
      message: `${what} ran on the CPU for more than ${limit} ms without yielding (cpuLimitMs: ${limit}); host ${this.#host} isolate ${i} was stopped and replaced, and the event's uncommitted writes were discarded. Split the work into smaller steps that await in between, or raise cpuLimitMs.`,
      event,
      at: Date.now(),
    };
  }

  #memoryLimit(i: number, event: EventLabel | undefined, memory?: { heap: number; external: number }): SlotDown {
    const limit = this.#config.isolateMemoryMb;
    const used = memory === undefined ? "its JavaScript heap filled up" : `it used ${memory.heap} MiB of heap and ${memory.external} MiB outside the heap (Buffers, typed arrays)`;
    const last = event === undefined ? "" : ` The event started last there was ${event.namespace}.${event.method} (object ${event.objectId}).`;
    return {
      code: ErrorCode.MEMORY_LIMIT,
      message: `host ${this.#host} isolate ${i} ran out of memory: ${used}, over the limit of ${limit} MiB (isolateHeapMb); it was stopped and replaced.${last} Hold less in memory per object, or raise isolateHeapMb.`,
      event,
      at: Date.now(),
    };
  }

  async start(): Promise<ClassInfo> {
    const infos = await Promise.all(this.#workers.map((_, i) => this.#spawn(i)));
    return infos[0] ?? {};
  }

  threadIds(): number[] {
    return this.#workers.map((w) => w?.threadId ?? -1);
  }

  // Starts isolate i and resolves with its classes once it listens; rejects if it dies first.
  #spawn(i: number): Promise<ClassInfo> {
    const heap = this.#config.isolateMemoryMb;
    const monitor = IsolateMonitor.create();
    const gauges = IsolateGauges.create();
    this.#restarts[i]!.starting(Date.now());
    const worker = new Worker(ISOLATE_ENTRY, {
      workerData: { config: this.#config, host: this.#host, isolate: i, monitor: monitor.buffer, gauges: gauges.buffer },
      // V8's own heap limit backs up the watchdog (which counts memory outside the heap too, but only
      // sees an isolate that yields): set above it, so the watchdog, which names the limit, acts first.
      ...(heap > 0 ? { resourceLimits: { maxOldGenerationSizeMb: Math.ceil(heap * 1.25) + 32 } } : {}),
    });
    this.#workers[i] = worker;
    this.reporter.attach(i, worker, gauges);
    const watched: Watched = { worker, monitor, beats: 0, beatAt: Date.now(), stoppedFor: undefined };
    this.#watched[i] = watched;
    return new Promise<ClassInfo>((resolve, reject) => {
      let ready = false;
      let fatal: string | undefined;
      worker.on("message", (event: IsolateEvent) => {
        if (this.reporter.fromIsolate(i, event)) return;
        if (event.type === "ready") {
          ready = true;
          this.#restarts[i]!.ready(Date.now());
          resolve(event.classes);
        } else if (event.type === "fatal") {
          fatal = event.message;
        }
      });
      worker.on("error", (error) => {
        fatal = error.stack ?? error.message;
        // V8's heap limit: the isolate is already gone; tell its callers why (they wait briefly for this).
        if ((error as { code?: string }).code === "ERR_WORKER_OUT_OF_MEMORY" && watched.stoppedFor === undefined && ready) {
          this.#stop(i, watched, this.#memoryLimit(i, monitor.lastEvent));
        }
      });
      worker.on("exit", (code) => {
        this.reporter.detach(i, worker);
        if (this.#workers[i] === worker) this.#workers[i] = undefined;
        if (this.#watched[i] === watched) this.#watched[i] = undefined;
        if (!ready) {
          reject(new Error(`isolate ${i} exited with code ${code} before it was ready${fatal ? `:\n${fatal}` : ""}`));
          return;
        }
        if (this.#stopping) return;
        const why = watched.stoppedFor;
        send({ type: "isolate-exit", isolate: i, code, error: why?.message ?? fatal });
        // Stopped for a limit: one object's fault, not a crash loop of the isolate; replace it at once.
        this.#replace(i, why !== undefined);
      });
    });
  }

  // `atOnce`: the watchdog stopped it for one event's fault, which is no crash loop of the isolate.
  #replace(i: number, atOnce = false, downSince = Date.now()): void {
    const decision = this.#restarts[i]!.exited(Date.now());
    const delay = atOnce ? 0 : decision.delayMs;
    setTimeout(() => {
      if (this.#stopping) return;
      this.#spawn(i).then(
        () => {
          const worker = this.#workers[i];
          this.reporter.restarted(i);
          send({ type: "ops-log", level: "info", message: `host ${this.#host} isolate ${i} back after ${Date.now() - downSince} ms`, isolate: i, event: "isolate-back" });
          if (worker !== undefined) send({ type: "isolate-restarted", isolate: i, threadId: worker.threadId });
        },
        (error: unknown) => {
          send({ type: "ops-log", level: "error", message: `host ${this.#host}: ${error instanceof Error ? error.message : String(error)}`, isolate: i });
          this.#replace(i, false, downSince);
        },
      );
    }, delay).unref();
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    clearInterval(this.#watchdog);
    this.reporter.close();
    await Promise.all(
      this.#workers.map(async (worker) => {
        if (worker === undefined) return;
        const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
        worker.postMessage({ type: "shutdown" });
        const timer = setTimeout(() => void worker.terminate(), SHUTDOWN_GRACE_MS);
        await exited;
        clearTimeout(timer);
      }),
    );
  }
}

let pool: IsolatePool | undefined;

async function shutdown(code: number): Promise<void> {
  await pool?.stop();
  process.exit(code);
}

process.on("message", (command: HostCommand | OpsReportRequest) => {
  if (command.type === "ops-report") {
    const { id, metrics } = command;
    void pool?.reporter.report(metrics === true).then((report) => send({ type: "ops-report", id, report }));
  } else if (command.type === "start") {
    pool = new IsolatePool(command.config, command.host);
    pool.start().then(
      (classes) => send({ type: "ready", classes, threadIds: pool!.threadIds() }),
      (error: unknown) => {
        send({ type: "fatal", message: error instanceof Error ? error.message : String(error) });
        void shutdown(1);
      },
    );
  } else if (command.type === "shutdown") {
    void shutdown(0);
  }
});
// The coordinator is gone (it exited or was killed): do not linger as an orphan.
process.on("disconnect", () => void shutdown(0));
