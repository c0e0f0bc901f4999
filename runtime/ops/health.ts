// coordinator.health(): the seed's GET /health answer (status, instance id, isolates total /
// available / busy, uptime), extended per host and per isolate with what the isolates report of
// themselves (ops-messages.ts). Pure: turns reports into the answer and decides the status.
import type { HostReport } from "./ops-messages.ts";

/** One isolate as its host's main thread sees it. */
export interface IsolateHealth {
  isolate: number;
  /** busy: calls running or queued; available: idle; down: exited and not yet replaced. */
  state: "busy" | "available" | "down";
  restarts: number;
  objects_resident: number;
  events_queued: number;
  calls_in_flight: number;
  sockets_open: number;
  /** Share of the last second the isolate's event loop ran (0-1). */
  event_loop_utilization: number;
  heap_used_bytes: number;
  heap_limit_bytes: number;
}

export interface HostHealth {
  host: number;
  pid: number | undefined;
  state: "starting" | "ready" | "restarting" | "stopped" | "in-process";
  restarts: number;
  uptime_seconds: number;
  isolates: IsolateHealth[];
}

/** What coordinator.health() returns and GET /health serves (HTTP 503 when unhealthy). */
export interface ClusterHealth {
  status: "healthy" | "degraded" | "unhealthy";
  /** Why the status is not healthy, one sentence each. */
  reasons: string[];
  instance_id: string;
  uptime_seconds: number;
  isolates: { total: number; available: number; busy: number };
  hosts: HostHealth[];
}

export interface HostView {
  host: number;
  pid: number | undefined;
  state: HostHealth["state"];
  restarts: number;
  uptimeMs: number | undefined;
  /** undefined: not ready, or no answer in time. */
  report: HostReport | undefined;
}

const BUSY_ELU = 0.95;
const HEAP_SHARE = 0.9;

export function isolateHealth(r: HostReport["isolates"][number]): IsolateHealth {
  return {
    isolate: r.isolate,
    state: r.state === "down" ? "down" : r.callsInFlight + r.eventsQueued > 0 ? "busy" : "available",
    restarts: r.restarts,
    objects_resident: r.objectsResident,
    events_queued: r.eventsQueued,
    calls_in_flight: r.callsInFlight,
    sockets_open: r.socketsOpen,
    event_loop_utilization: Math.round(r.eventLoopUtilization * 1000) / 1000,
    heap_used_bytes: r.heapUsedBytes,
    heap_limit_bytes: r.heapLimitBytes,
  };
}

export function buildHealth(input: { instanceId: string; uptimeMs: number; isolatesPerHost: number; hosts: HostView[]; failure: string | undefined; reportTimeoutMs: number }): ClusterHealth {
  const reasons: string[] = [];
  const hosts: HostHealth[] = input.hosts.map((h) => {
    const isolates = h.report?.isolates.map(isolateHealth) ?? [];
    if (h.state !== "ready" && h.state !== "in-process") reasons.push(`host ${h.host} is ${h.state}`);
    else if (h.report === undefined) reasons.push(`host ${h.host} did not answer within ${input.reportTimeoutMs} ms`);
    for (const i of isolates) {
      const where = h.state === "in-process" ? "the in-process table" : `host ${h.host} isolate ${i.isolate}`;
      if (i.state === "down") reasons.push(`${where} is down (being replaced)`);
      if (i.event_loop_utilization >= BUSY_ELU) reasons.push(`${where}: event loop ${Math.round(i.event_loop_utilization * 100)} % busy`);
      if (i.heap_limit_bytes > 0 && i.heap_used_bytes >= HEAP_SHARE * i.heap_limit_bytes) reasons.push(`${where}: heap at ${Math.round((100 * i.heap_used_bytes) / i.heap_limit_bytes)} % of its limit`);
    }
    return { host: h.host, pid: h.pid, state: h.state, restarts: h.restarts, uptime_seconds: Math.round((h.uptimeMs ?? 0) / 100) / 10, isolates };
  });
  const all = hosts.flatMap((h) => h.isolates);
  const total = input.hosts.some((h) => h.state === "in-process") ? 1 : input.hosts.length * input.isolatesPerHost;
  const busy = all.filter((i) => i.state === "busy").length;
  const available = all.filter((i) => i.state === "available").length;
  let status: ClusterHealth["status"] = reasons.length === 0 ? "healthy" : "degraded";
  if (input.failure !== undefined) {
    status = "unhealthy";
    reasons.unshift(input.failure);
  } else if (busy + available === 0) {
    status = "unhealthy";
    reasons.unshift("no isolate is serving");
  }
  return { status, reasons, instance_id: input.instanceId, uptime_seconds: Math.round(input.uptimeMs / 100) / 10, isolates: { total, available, busy }, hosts };
}
