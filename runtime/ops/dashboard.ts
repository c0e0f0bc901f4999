// The live dashboard's server side: samples the cluster every 2 s while someone looks (calls/s and
// latency percentiles from the isolates' histograms, over the last 5 minutes), and serves the page
// (dashboard-page.ts, static HTML and JS shipped as a string: no build step), its data as JSON, and
// uPlot's files from the installed uplot package.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { ServerResponse } from "node:http";
import type { ClusterCoordinator } from "../coordinator/cluster-coordinator.ts";
import { dashboardPage } from "./dashboard-page.ts";
import type { ClusterHealth } from "./health.ts";
import type { RecentEvent } from "./recent-events.ts";
import { LATENCY_BOUNDS_MS, type TableSnapshot } from "./table-stats.ts";

export const SAMPLE_INTERVAL_MS = 2000;
const KEEP_POINTS = 150; // 5 minutes
const IDLE_STOP_MS = 60_000; // nobody polled for a minute: stop sampling

export interface Dashboard {
  handle(path: string, res: ServerResponse): boolean;
  close(): void;
}

interface Totals {
  at: number;
  calls: number;
  buckets: number[];
}

export interface DashboardData {
  at: number;
  health: ClusterHealth;
  series: { t: number[]; callsPerSecond: number[]; p50: Array<number | null>; p95: Array<number | null>; p99: Array<number | null> };
  classes: Array<{ class: string; resident: number; activations: number; evictions: number; resets: number }>;
  methods: Array<{ class: string; method: string; calls: number; errors: number; meanMs: number }>;
  events: RecentEvent[];
}

export function createDashboard(coordinator: ClusterCoordinator, base: string): Dashboard {
  const require = createRequire(import.meta.url);
  let assets: { js: Buffer; css: Buffer } | undefined;
  const uplot = () => (assets ??= { js: readFileSync(require.resolve("uplot/dist/uPlot.iife.min.js")), css: readFileSync(require.resolve("uplot/dist/uPlot.min.css")) });
  const html = dashboardPage(base);
  const series: DashboardData["series"] = { t: [], callsPerSecond: [], p50: [], p95: [], p99: [] };
  let previous: Totals | undefined;
  let latest: DashboardData | undefined;
  let timer: NodeJS.Timeout | undefined;
  let polledAt = 0;
  let sampling: Promise<DashboardData> | undefined;

  const sample = (): Promise<DashboardData> =>
    (sampling ??= coordinator
      .opsSnapshot()
      .then(({ health, tables, events }) => {
        const now = Date.now();
        const totals = sumTables(tables, now);
        // A point per interval, however often the page polls (each poll refreshes health only).
        if (previous !== undefined && now - previous.at < SAMPLE_INTERVAL_MS * 0.9) {
          latest = { at: now, health, series, classes: classRows(tables), methods: methodRows(tables), events };
          return latest;
        }
        if (previous !== undefined) {
          const dt = (now - previous.at) / 1000;
          const calls = Math.max(0, totals.calls - previous.calls);
          const delta = totals.buckets.map((n, k) => Math.max(0, n - (previous!.buckets[k] ?? 0)));
          series.t.push(now / 1000);
          series.callsPerSecond.push(Math.round((calls / dt) * 10) / 10);
          series.p50.push(percentile(delta, 0.5));
          series.p95.push(percentile(delta, 0.95));
          series.p99.push(percentile(delta, 0.99));
          if (series.t.length > KEEP_POINTS) for (const s of Object.values(series)) s.shift();
        }
        previous = totals;
        latest = { at: now, health, series, classes: classRows(tables), methods: methodRows(tables), events };
        return latest;
      })
      .finally(() => (sampling = undefined)));

  const ensureSampling = () => {
    polledAt = Date.now();
    if (timer !== undefined) return;
    timer = setInterval(() => {
      if (Date.now() - polledAt > IDLE_STOP_MS) {
        clearInterval(timer);
        timer = undefined;
        previous = undefined;
        return;
      }
      void sample();
    }, SAMPLE_INTERVAL_MS);
    timer.unref();
  };

  const send = (res: ServerResponse, type: string, body: string | Buffer) => {
    res.writeHead(200, { "content-type": type, "cache-control": "no-store", "content-length": Buffer.byteLength(body) });
    res.end(body);
  };

  return {
    handle(path, res) {
      if (path === base || path === `${base}/`) {
        ensureSampling();
        send(res, "text/html; charset=utf-8", html);
      } else if (path === `${base}/data.json`) {
        ensureSampling();
        // Fresh health on every poll (so the page matches coordinator.health()); the series advance every 2 s.
        void sample().then((data) => send(res, "application/json", JSON.stringify(data)));
      } else if (path === `${base}/uplot.js`) {
        send(res, "text/javascript; charset=utf-8", uplot().js);
      } else if (path === `${base}/uplot.css`) {
        send(res, "text/css; charset=utf-8", uplot().css);
      } else {
        return false;
      }
      return true;
    },
    close() {
      clearInterval(timer);
      timer = undefined;
    },
  };
}

function sumTables(tables: TableSnapshot[], at: number): Totals {
  const buckets = new Array<number>(LATENCY_BOUNDS_MS.length + 1).fill(0);
  let calls = 0;
  for (const t of tables) {
    for (const m of t.methods) {
      calls += m.calls - m.inFlight;
      m.buckets.forEach((n, k) => (buckets[k] = buckets[k]! + n));
    }
  }
  return { at, calls, buckets };
}

/** The q-quantile in ms from per-bucket counts, interpolated inside its bucket; null with no calls. */
export function percentile(buckets: number[], q: number): number | null {
  const total = buckets.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let k = 0; k < buckets.length; k++) {
    const n = buckets[k]!;
    if (seen + n >= rank && n > 0) {
      const low = k === 0 ? 0 : LATENCY_BOUNDS_MS[k - 1]!;
      const high = LATENCY_BOUNDS_MS[k] ?? low * 2;
      return Math.round((low + ((rank - seen) / n) * (high - low)) * 1000) / 1000;
    }
    seen += n;
  }
  return LATENCY_BOUNDS_MS.at(-1)!;
}

function classRows(tables: TableSnapshot[]): DashboardData["classes"] {
  const rows = new Map<string, DashboardData["classes"][number]>();
  for (const t of tables) {
    for (const c of t.classes) {
      const row = rows.get(c.namespace) ?? { class: c.namespace, resident: 0, activations: 0, evictions: 0, resets: 0 };
      row.resident += c.resident;
      row.activations += c.activations;
      row.evictions += c.evictions;
      row.resets += c.resets;
      rows.set(c.namespace, row);
    }
  }
  return [...rows.values()].sort((a, b) => a.class.localeCompare(b.class));
}

function methodRows(tables: TableSnapshot[]): DashboardData["methods"] {
  const rows = new Map<string, DashboardData["methods"][number] & { sumMs: number }>();
  for (const t of tables) {
    for (const m of t.methods) {
      const key = `${m.namespace}.${m.method}`;
      const row = rows.get(key) ?? { class: m.namespace, method: m.method, calls: 0, errors: 0, meanMs: 0, sumMs: 0 };
      row.calls += m.calls;
      row.errors += Object.values(m.errors).reduce((a, b) => a + b, 0);
      row.sumMs += m.sumMs;
      rows.set(key, row);
    }
  }
  return [...rows.values()]
    .sort((a, b) => b.calls - a.calls)
    .slice(0, 20)
    .map(({ sumMs, ...row }) => ({ ...row, meanMs: row.calls === 0 ? 0 : Math.round((sumMs / row.calls) * 1000) / 1000 }));
}
