// The isolate's side of observability: refreshes its gauges in shared memory from a timer, answers
// its host's snapshot requests with the table's counters, and reports object resets. Nothing here
// runs per call: the table counts in plain numbers (table-stats.ts).
import v8 from "node:v8";
import type { ObjectTable } from "../object/object-table.ts";
import { GAUGE_INTERVAL_MS, IsolateGauges } from "./isolate-gauges.ts";
import type { OpsIsolateMessage } from "./ops-messages.ts";
import type { TableStats } from "./table-stats.ts";

export interface IsolateOpsOptions {
  table: () => ObjectTable;
  stats: TableStats;
  gauges: SharedArrayBuffer;
  /** Memory limit of the isolate (isolateHeapMb) in bytes; 0: V8's own heap limit is reported. */
  heapLimitBytes: number;
  post(message: OpsIsolateMessage): void;
}

/** Starts the gauge timer; returns the handler of the host's `ops-snapshot` requests. */
export function startIsolateOps(options: IsolateOpsOptions): (message: { type?: string; id?: unknown }) => boolean {
  const gauges = new IsolateGauges(options.gauges);
  const { stats, post } = options;
  stats.onReset = (r, error) => post({ type: "ops-reset", ...r, detail: error instanceof Error ? (error.stack ?? r.error) : r.error });
  const refresh = () => {
    stats.sampler.retune();
    const census = options.table().census();
    const heap = v8.getHeapStatistics();
    let objects = 0;
    for (const n of census.residentByClass.values()) objects += n;
    gauges.write({
      objectsResident: objects,
      eventsQueued: census.eventsQueued,
      callsInFlight: census.eventsRunning,
      socketsOpen: census.socketsOpen,
      heapUsedBytes: heap.used_heap_size,
      heapLimitBytes: options.heapLimitBytes > 0 ? options.heapLimitBytes : heap.heap_size_limit,
    });
  };
  refresh();
  setInterval(refresh, GAUGE_INTERVAL_MS).unref();
  return (message) => {
    if (message.type !== "ops-snapshot" || typeof message.id !== "number") return false;
    const census = options.table().census();
    post({ type: "ops-snapshot", id: message.id, snapshot: stats.snapshot(census, census.liveBytes) });
    return true;
  };
}
