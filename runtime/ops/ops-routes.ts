// The paths serve() answers itself, before the worker: GET /health (the seed's path; JSON, 503 when
// unhealthy), GET /metrics (Prometheus text) and, when enabled, the dashboard. Each is configurable
// or disabled by an option; a path given to sourdough is never seen by worker.fetch.
import type { IncomingMessage, ServerResponse } from "node:http";
import { Counter, Histogram } from "prom-client";
import type { ClusterCoordinator } from "../coordinator/cluster-coordinator.ts";
import { ErrorCode, SourdoughError, describeValue } from "../errors.ts";
import { METRICS_CONTENT_TYPE } from "./cluster-metrics.ts";
import { createDashboard, type Dashboard } from "./dashboard.ts";

export const DEFAULT_DASHBOARD_PATH = "/_sourdough/dashboard";

export interface OpsRouteOptions {
  /** Path of the health answer, or false. Default "/health". */
  healthPath?: string | false;
  /** Path of the Prometheus exposition, or false. Default "/metrics". */
  metricsPath?: string | false;
  /** The live dashboard: true serves it at /_sourdough/dashboard, a string at that path. Default off. */
  dashboard?: boolean | string;
}

export interface OpsRoutes {
  /** Answers `req` if it is one of sourdough's paths; false leaves it to the worker. */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  /** Counts a request the worker answered (status) or failed (threw). */
  observe(status: number, threw: boolean, startedAt: number): void;
  close(): void;
}

export function createOpsRoutes(coordinator: ClusterCoordinator, options: OpsRouteOptions): OpsRoutes {
  const health = checkPath(options.healthPath, "/health", "healthPath");
  const metrics = checkPath(options.metricsPath, "/metrics", "metricsPath");
  const dashboardPath = options.dashboard === true ? DEFAULT_DASHBOARD_PATH : options.dashboard === false || options.dashboard === undefined ? undefined : checkPath(options.dashboard, DEFAULT_DASHBOARD_PATH, "dashboard");
  const dashboard: Dashboard | undefined = dashboardPath === undefined ? undefined : createDashboard(coordinator, dashboardPath);
  const registry = coordinator.gatewayRegistry;
  const requests = registry && new Counter({ name: "sourdough_http_requests_total", help: "HTTP requests answered by worker.fetch, by status.", labelNames: ["status"], registers: [registry] });
  const failed = registry && new Counter({ name: "sourdough_http_requests_failed_total", help: "HTTP requests whose worker.fetch threw (answered 500).", registers: [registry] });
  const latency = registry && new Histogram({ name: "sourdough_http_request_duration_seconds", help: "Time worker.fetch took to answer.", buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [registry] });
  return {
    handle(req, res) {
      if (req.method !== "GET" && req.method !== "HEAD") return false;
      const url = req.url ?? "/";
      const query = url.indexOf("?");
      const path = query < 0 ? url : url.slice(0, query);
      if (path === health) {
        void coordinator.health().then((h) => send(res, h.status === "unhealthy" ? 503 : 200, "application/json", `${JSON.stringify(h, null, 2)}\n`));
        return true;
      }
      if (path === metrics) {
        coordinator.metrics().then(
          (text) => send(res, 200, METRICS_CONTENT_TYPE, text),
          (error: unknown) => send(res, 500, "text/plain; charset=utf-8", `metrics failed: ${error instanceof Error ? error.message : String(error)}\n`),
        );
        return true;
      }
      return dashboard?.handle(path, res) ?? false;
    },
    observe(status, threw, startedAt) {
      if (requests === undefined) return;
      requests.inc({ status: String(status) });
      if (threw) failed!.inc();
      latency!.observe((performance.now() - startedAt) / 1000);
    },
    close() {
      dashboard?.close();
    },
  };
}

function send(res: ServerResponse, status: number, type: string, body: string | Uint8Array): void {
  if (res.destroyed) return;
  res.writeHead(status, { "content-type": type, "cache-control": "no-store", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

function checkPath(value: string | false | undefined, fallback: string, name: string): string | undefined {
  if (value === false) return undefined;
  if (value === undefined) return fallback;
  if (typeof value !== "string" || !value.startsWith("/") || /[?#\s]/.test(value)) {
    throw new SourdoughError(ErrorCode.BAD_OPTIONS, `serve: ${name} must be a path starting with "/" (no query, no spaces), or false to turn it off; got ${describeValue(value)}.`);
  }
  return value.length > 1 ? value.replace(/\/+$/, "") : value;
}
