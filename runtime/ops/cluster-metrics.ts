// GET /metrics: one Prometheus exposition for the whole cluster, built with prom-client when scraped.
// Hosts send plain counters (ops-messages.ts); here they become labelled series (host, isolate,
// class, method, code) next to the gateway's own registry (Node default metrics, HTTP requests) and
// each host's Node default metrics, merged by name so each metric has one HELP/TYPE block.
import { Registry, type Metric, type MetricObjectWithValues, type MetricValue } from "prom-client";
import type { HostReport } from "./ops-messages.ts";
import { LATENCY_BOUNDS_MS, type TableSnapshot } from "./table-stats.ts";
import type { ClusterHealth } from "./health.ts";

type Labels = Record<string, string | number>;
type Value = { value: number; labels: Labels; metricName?: string };
interface Family {
  name: string;
  help: string;
  type: "counter" | "gauge" | "histogram";
  values: Value[];
}

export interface MetricsSource {
  /** "0", "1"... for hosts, "local" for the in-process table (hostCount: 0). */
  host: string;
  report: HostReport;
}

export interface ClusterCounters {
  hostRestarts: Array<{ host: number; restarts: number }>;
}

/** The exposition text: sourdough's series, then every process's default metrics, merged by name. */
export async function clusterMetrics(sources: MetricsSource[], counters: ClusterCounters, health: ClusterHealth, gateway: Registry[]): Promise<string> {
  const families = new Map<string, Family>();
  const add = (name: string, help: string, type: Family["type"], value: number, labels: Labels, metricName?: string) => {
    let f = families.get(name);
    if (f === undefined) families.set(name, (f = { name, help, type, values: [] }));
    f.values.push(metricName === undefined ? { value, labels } : { value, labels, metricName });
  };
  add("sourdough_isolates_total", "Isolate slots (hosts × isolatesPerHost).", "gauge", health.isolates.total, {});
  add("sourdough_isolates_available", "Isolates serving and idle.", "gauge", health.isolates.available, {});
  add("sourdough_isolates_busy", "Isolates with calls running or queued.", "gauge", health.isolates.busy, {});
  add("sourdough_up", "1 when the cluster is healthy, 0.5 degraded, 0 unhealthy.", "gauge", health.status === "healthy" ? 1 : health.status === "degraded" ? 0.5 : 0, {});
  for (const h of counters.hostRestarts) add("sourdough_host_restarts_total", "Host processes restarted after they died.", "counter", h.restarts, { host: h.host });
  for (const { host, report } of sources) {
    add("sourdough_isolate_restarts_total", "Isolates replaced after they died or were stopped.", "counter", report.isolateRestarts, { host });
    add("sourdough_cpu_limit_kills_total", "Isolates stopped for an event over cpuLimitMs.", "counter", report.cpuLimitKills, { host });
    add("sourdough_memory_limit_kills_total", "Isolates stopped for memory over isolateHeapMb.", "counter", report.memoryLimitKills, { host });
    for (const i of report.isolates) {
      const at = { host, isolate: i.isolate };
      add("sourdough_objects_resident_total", "Objects in memory, all classes.", "gauge", i.objectsResident, at);
      add("sourdough_events_queued", "Events waiting for their object's input gate.", "gauge", i.eventsQueued, at);
      add("sourdough_calls_in_flight", "Events running (started, not answered).", "gauge", i.callsInFlight, at);
      add("sourdough_sockets_open", "Connections the isolate serves.", "gauge", i.socketsOpen, at);
      add("sourdough_isolate_event_loop_utilization", "Share of the last second the isolate's event loop was busy.", "gauge", i.eventLoopUtilization, at);
      add("sourdough_isolate_heap_used_bytes", "JavaScript heap in use.", "gauge", i.heapUsedBytes, at);
      add("sourdough_isolate_heap_limit_bytes", "Memory limit (isolateHeapMb, or V8's heap limit).", "gauge", i.heapLimitBytes, at);
      if (i.table !== undefined) addTable(add, i.table, at);
    }
  }
  const processFamilies: MetricObjectWithValues<MetricValue<string>>[] = [];
  for (const registry of gateway) processFamilies.push(...((await registry.getMetricsAsJSON()) as MetricObjectWithValues<MetricValue<string>>[]));
  for (const { report } of sources) processFamilies.push(...((report.processMetrics ?? []) as MetricObjectWithValues<MetricValue<string>>[]));
  for (const m of processFamilies) {
    if (typeof m?.name !== "string" || !Array.isArray(m.values)) continue; // validated: it crossed a process
    for (const v of m.values) add(m.name, m.help, m.type as unknown as Family["type"], v.value, v.labels as Labels, (v as { metricName?: string }).metricName);
  }
  const registry = new Registry();
  for (const f of families.values()) registry.registerMetric(asMetric(f));
  return registry.metrics();
}

export const METRICS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;

function addTable(add: (name: string, help: string, type: Family["type"], value: number, labels: Labels, metricName?: string) => void, t: TableSnapshot, at: Labels): void {
  for (const m of t.methods) {
    const labels = { ...at, class: m.namespace, method: m.method };
    add("sourdough_calls_total", "Calls received, by class and method.", "counter", m.calls, labels);
    for (const [code, n] of Object.entries(m.errors)) add("sourdough_call_errors_total", "Calls that failed, by error code (or error name).", "counter", n, { ...labels, code });
    let cumulative = 0;
    const name = "sourdough_call_duration_seconds";
    const help = "Time from a call's arrival at its isolate to its answer (queueing at the input gate included).";
    LATENCY_BOUNDS_MS.forEach((bound, k) => {
      cumulative += m.buckets[k] ?? 0;
      add(name, help, "histogram", cumulative, { ...labels, le: bound / 1000 }, `${name}_bucket`);
    });
    cumulative += m.buckets[LATENCY_BOUNDS_MS.length] ?? 0;
    add(name, help, "histogram", cumulative, { ...labels, le: "+Inf" }, `${name}_bucket`);
    add(name, help, "histogram", m.sumMs / 1000, labels, `${name}_sum`);
    add(name, help, "histogram", cumulative, labels, `${name}_count`);
  }
  for (const c of t.classes) {
    const labels = { ...at, class: c.namespace };
    add("sourdough_objects_resident", "Objects in memory, by class.", "gauge", c.resident, labels);
    add("sourdough_activations_total", "Objects constructed (first call, or after eviction or reset).", "counter", c.activations, labels);
    add("sourdough_evictions_total", "Idle objects evicted (idleEvictionMs).", "counter", c.evictions, labels);
    add("sourdough_object_resets_total", "Objects reset (instance discarded after an error).", "counter", c.resets, labels);
    add("sourdough_storage_bytes_written_total", "Bytes of KV keys and values written (SQL writes not counted).", "counter", c.storageBytesWritten, labels);
  }
}

// prom-client formats any object with name/help/type/get(): how its own cluster aggregation works.
function asMetric(f: Family): Metric {
  const metric = { name: f.name, help: f.help, type: f.type, aggregator: "sum", get: async () => ({ name: f.name, help: f.help, type: f.type, aggregator: "sum", values: f.values }), reset: () => {} };
  return metric as unknown as Metric;
}
