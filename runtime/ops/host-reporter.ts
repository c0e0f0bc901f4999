// A host's main thread as the middle of the supervision tree for figures: reads each isolate's gauges
// (shared memory) and event-loop utilization (worker.performance, from this thread), asks isolates
// for their counters only when a scrape asks for metrics, forwards their log entries and resets to
// the coordinator, and keeps the host's own counters (limit kills, isolate restarts).
import type { Worker } from "node:worker_threads";
import type { EventLoopUtilization } from "node:perf_hooks";
import { processRegistry } from "./process-metrics.ts";
import { IsolateGauges } from "./isolate-gauges.ts";
import type { HostReport, IsolateReport, OpsHostMessage, OpsIsolateMessage } from "./ops-messages.ts";
import type { TableSnapshot } from "./table-stats.ts";

const SNAPSHOT_TIMEOUT_MS = 500;
const ELU_INTERVAL_MS = 1000;

interface Tracked {
  worker: Worker;
  gauges: IsolateGauges;
  elu: EventLoopUtilization | undefined;
  utilization: number;
}

export class HostReporter {
  cpuLimitKills = 0;
  memoryLimitKills = 0;
  isolateRestarts = 0;
  readonly #host: number;
  readonly #send: (message: OpsHostMessage) => void;
  readonly #isolates: Array<Tracked | undefined>;
  readonly #restarts: number[];
  readonly #pending = new Map<number, (snapshot: TableSnapshot) => void>();
  #nextId = 1;
  readonly #timer: NodeJS.Timeout;

  readonly #processMetrics: boolean;

  /** `processMetrics`: include Node's default metrics of this process (the `metrics` option). */
  constructor(host: number, isolates: number, processMetrics: boolean, send: (message: OpsHostMessage) => void) {
    this.#host = host;
    this.#processMetrics = processMetrics;
    this.#send = send;
    this.#isolates = Array.from({ length: isolates }, (): Tracked | undefined => undefined);
    this.#restarts = new Array<number>(isolates).fill(0);
    this.#timer = setInterval(() => this.#sampleElu(), ELU_INTERVAL_MS);
    this.#timer.unref();
  }

  /** Isolate `i` was spawned with `gauges` in its workerData. */
  attach(i: number, worker: Worker, gauges: IsolateGauges): void {
    this.#isolates[i] = { worker, gauges, elu: undefined, utilization: 0 };
  }

  detach(i: number, worker: Worker): void {
    if (this.#isolates[i]?.worker === worker) this.#isolates[i] = undefined;
  }

  restarted(i: number): void {
    this.isolateRestarts++;
    this.#restarts[i] = (this.#restarts[i] ?? 0) + 1;
  }

  /** Handles an isolate's ops message; false for anything else. */
  fromIsolate(i: number, message: unknown): boolean {
    const m = message as OpsIsolateMessage;
    if (m?.type === "ops-snapshot") {
      this.#pending.get(m.id)?.(m.snapshot);
      return true;
    }
    if (m?.type === "ops-log") {
      this.#send({ type: "ops-log", level: m.level, message: m.message, isolate: i });
      return true;
    }
    if (m?.type === "ops-reset") {
      this.#send({ ...m, isolate: i });
      return true;
    }
    return false;
  }

  #sampleElu(): void {
    for (const t of this.#isolates) {
      if (t === undefined) continue;
      const now = t.worker.performance.eventLoopUtilization();
      if (t.elu !== undefined) t.utilization = t.worker.performance.eventLoopUtilization(now, t.elu).utilization;
      t.elu = now;
    }
  }

  async report(metrics: boolean): Promise<HostReport> {
    const isolates = await Promise.all(this.#isolates.map((t, i) => this.#isolateReport(i, t, metrics)));
    const report: HostReport = { pid: process.pid, isolates, cpuLimitKills: this.cpuLimitKills, memoryLimitKills: this.memoryLimitKills, isolateRestarts: this.isolateRestarts };
    if (metrics && this.#processMetrics) {
      report.processMetrics = await processRegistry(String(this.#host)).getMetricsAsJSON();
    }
    return report;
  }

  async #isolateReport(i: number, t: Tracked | undefined, metrics: boolean): Promise<IsolateReport> {
    const restarts = this.#restarts[i] ?? 0;
    if (t === undefined) {
      return { isolate: i, state: "down", restarts, objectsResident: 0, eventsQueued: 0, callsInFlight: 0, socketsOpen: 0, eventLoopUtilization: 0, heapUsedBytes: 0, heapLimitBytes: 0 };
    }
    const g = t.gauges.read();
    const report: IsolateReport = {
      isolate: i,
      state: "up",
      restarts,
      objectsResident: g.objectsResident,
      eventsQueued: g.eventsQueued,
      callsInFlight: g.callsInFlight,
      socketsOpen: g.socketsOpen,
      eventLoopUtilization: t.utilization, // 0 until the first sample: start-up work is not load
      heapUsedBytes: g.heapUsedBytes,
      heapLimitBytes: g.heapLimitBytes,
    };
    if (metrics) {
      const table = await this.#snapshot(t.worker);
      if (table !== undefined) report.table = table;
    }
    return report;
  }

  // An isolate busy in a long event answers late: the scrape goes on without its counters.
  #snapshot(worker: Worker): Promise<TableSnapshot | undefined> {
    const id = this.#nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        resolve(undefined);
      }, SNAPSHOT_TIMEOUT_MS);
      this.#pending.set(id, (snapshot) => {
        clearTimeout(timer);
        this.#pending.delete(id);
        resolve(snapshot);
      });
      try {
        worker.postMessage({ type: "ops-snapshot", id });
      } catch {
        clearTimeout(timer);
        this.#pending.delete(id);
        resolve(undefined);
      }
    });
  }

  close(): void {
    clearInterval(this.#timer);
  }
}
