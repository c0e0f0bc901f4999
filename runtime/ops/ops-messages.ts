// What crosses threads and processes for observability: a host's report to the coordinator (asked
// for over the host's IPC channel), log entries from hosts and isolates, and an isolate's table
// snapshot (asked for by its host's main thread). Validated where they arrive (isHostReport).
import type { TableSnapshot } from "./table-stats.ts";

/** Coordinator → host: report now; `metrics` adds each isolate's counters and the host's process metrics. */
export interface OpsReportRequest {
  type: "ops-report";
  id: number;
  metrics: boolean;
}

export interface IsolateReport {
  isolate: number;
  /** "up": serving; "down": exited and not yet replaced. */
  state: "up" | "down";
  restarts: number;
  objectsResident: number;
  eventsQueued: number;
  callsInFlight: number;
  socketsOpen: number;
  /** Share of the last second the isolate's event loop was busy (0-1), read by the host's main thread. */
  eventLoopUtilization: number;
  heapUsedBytes: number;
  heapLimitBytes: number;
  /** With `metrics`: the isolate's counters (absent if it did not answer in time). */
  table?: TableSnapshot;
}

export interface HostReport {
  pid: number;
  isolates: IsolateReport[];
  cpuLimitKills: number;
  memoryLimitKills: number;
  isolateRestarts: number;
  /** With `metrics`: prom-client's getMetricsAsJSON() of the host's Node default metrics. */
  processMetrics?: unknown[];
}

/** Host → coordinator. */
export type OpsHostMessage =
  | { type: "ops-report"; id: number; report: HostReport }
  | { type: "ops-log"; level: "info" | "warn" | "error"; message: string; isolate?: number; event?: "isolate-back" }
  | { type: "ops-reset"; isolate: number; at: number; namespace: string; objectId: string; error: string; detail: string };

/** Isolate → host main thread. */
export type OpsIsolateMessage =
  | { type: "ops-snapshot"; id: number; snapshot: TableSnapshot }
  | { type: "ops-log"; level: "info" | "warn" | "error"; message: string }
  | { type: "ops-reset"; at: number; namespace: string; objectId: string; error: string; detail: string };

export function isOpsHostMessage(value: unknown): value is OpsHostMessage {
  const t = (value as { type?: unknown } | null)?.type;
  return t === "ops-report" || t === "ops-log" || t === "ops-reset";
}

/** A report as it arrives from a host process: shape checked before anything reads it. */
export function isHostReport(value: unknown): value is HostReport {
  const r = value as Partial<HostReport> | null;
  if (r === null || typeof r !== "object" || typeof r.pid !== "number" || !Array.isArray(r.isolates)) return false;
  return r.isolates.every((i: Partial<IsolateReport>) => typeof i === "object" && i !== null && typeof i.isolate === "number" && (i.state === "up" || i.state === "down") && typeof i.objectsResident === "number" && typeof i.callsInFlight === "number" && typeof i.eventLoopUtilization === "number");
}
