// Issue 11, parts 1 and 2: coordinator.health() and metrics() from what the isolates report through
// their hosts, over 2 real host processes; GET /health and /metrics from serve(); a killed host and a
// stopped one show in both.
import { describe, expect, it, beforeAll, afterAll } from "vitest";
import { serve, type ClusterCoordinator } from "sourdough";
import { Lifecycle, TestCounter } from "../fixtures/objects.ts";
import { FIXTURES, startCluster, type TestCluster } from "../support/cluster.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Gauges are refreshed by each isolate every 250 ms: wait for one refresh. */
const GAUGE_SETTLE_MS = 400;

/** Value of the series `name{labels...}` in exposition text (labels must all match); undefined if absent. */
function series(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return undefined;
}
function sum(text: string, name: string, labels: Record<string, string>): number {
  let total = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith(`${name}{`) && Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) total += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return total;
}

describe("ops: health and metrics over 2 hosts × 2 isolates", () => {
  let cluster: TestCluster;
  let coordinator: ClusterCoordinator;
  beforeAll(async () => {
    cluster = await startCluster({ hostCount: 2, isolatesPerHost: 2, durableObjects: { COUNTER: TestCounter, LIFECYCLE: Lifecycle } });
    coordinator = cluster.coordinator;
  });
  afterAll(() => cluster.close());

  it("reports the seed's shape, per host and isolate, with objects counted by the isolates that hold them", async () => {
    const names = Array.from({ length: 12 }, (_, i) => `health-${i}`);
    for (const name of names) await coordinator.get(name, TestCounter).increment(2);
    await sleep(GAUGE_SETTLE_MS);
    const h = await coordinator.health();
    expect(h.status).toBe("healthy");
    expect(h.reasons).toEqual([]);
    expect(h.instance_id).toMatch(/:\d+$/);
    expect(h.uptime_seconds).toBeGreaterThan(0);
    expect(h.isolates).toEqual({ total: 4, available: 4, busy: 0 });
    expect(h.hosts.map((x) => [x.host, x.pid, x.state])).toEqual(coordinator.hosts.map((x) => [x.index, x.pid, "ready"]));
    // Where each object lives (placement) must match where the isolates say they hold objects.
    const expected = new Map<string, number>();
    for (const name of names) {
      const at = coordinator.locate(TestCounter, coordinator.namespace(TestCounter).idFromName(name))!;
      expected.set(`${at.host}/${at.isolate}`, (expected.get(`${at.host}/${at.isolate}`) ?? 0) + 1);
    }
    for (const host of h.hosts) {
      expect(host.isolates).toHaveLength(2);
      for (const i of host.isolates) {
        expect(i.objects_resident).toBe(expected.get(`${host.host}/${i.isolate}`) ?? 0);
        expect(i).toMatchObject({ state: "available", events_queued: 0, calls_in_flight: 0 });
        expect(i.heap_used_bytes).toBeGreaterThan(1_000_000);
        expect(i.heap_limit_bytes).toBe(1024 * 1048576); // isolateHeapMb default
        expect(i.event_loop_utilization).toBeGreaterThanOrEqual(0);
        expect(i.event_loop_utilization).toBeLessThanOrEqual(1);
      }
    }
  });

  it("sees calls in flight and a busy isolate while an event runs", async () => {
    const slow = coordinator.get("busy-one", Lifecycle).slow(1500);
    await sleep(GAUGE_SETTLE_MS + 100);
    const h = await coordinator.health();
    const busy = h.hosts.flatMap((x) => x.isolates).filter((i) => i.state === "busy");
    expect(busy).toHaveLength(1);
    expect(busy[0]!.calls_in_flight).toBe(1);
    expect(h.isolates.busy).toBe(1);
    await slow;
  });

  it("exposes calls, errors by code, latency histograms and class counters, every process labelled", async () => {
    const name = "metrics-1";
    const stub = coordinator.get(name, TestCounter);
    for (let i = 0; i < 5; i++) await stub.increment(1);
    await expect(stub.fail("coded")).rejects.toThrow("quota exceeded");
    await expect(stub.fail("type")).rejects.toThrow(TypeError);
    await expect(coordinator.get("reset-me", Lifecycle).failGate()).rejects.toThrow("gate failed");
    const at = coordinator.locate(TestCounter, coordinator.namespace(TestCounter).idFromName(name))!;
    const slot = { host: String(at.host), isolate: String(at.isolate) };
    const text = await coordinator.metrics();
    expect(series(text, "sourdough_calls_total", { ...slot, class: "TestCounter", method: "increment" })).toBeGreaterThanOrEqual(5);
    expect(series(text, "sourdough_call_errors_total", { ...slot, class: "TestCounter", method: "fail", code: "E_QUOTA" })).toBe(1);
    expect(series(text, "sourdough_call_errors_total", { ...slot, class: "TestCounter", method: "fail", code: "TypeError" })).toBe(1);
    const count = series(text, "sourdough_call_duration_seconds_count", { ...slot, class: "TestCounter", method: "increment" })!;
    expect(series(text, "sourdough_call_duration_seconds_bucket", { ...slot, class: "TestCounter", method: "increment", le: "+Inf" })).toBe(count);
    expect(count).toBe(series(text, "sourdough_calls_total", { ...slot, class: "TestCounter", method: "increment" }));
    expect(sum(text, "sourdough_object_resets_total", { class: "Lifecycle" })).toBe(1);
    expect(sum(text, "sourdough_activations_total", { class: "TestCounter" })).toBeGreaterThanOrEqual(13);
    expect(sum(text, "sourdough_storage_bytes_written_total", { class: "TestCounter" })).toBeGreaterThan(0);
    expect(sum(text, "sourdough_objects_resident", { class: "TestCounter" })).toBeGreaterThanOrEqual(13);
    expect(series(text, "sourdough_isolates_total", {})).toBe(4);
    for (const host of ["gateway", "0", "1"]) expect(series(text, "process_resident_memory_bytes", { host }), `default metrics of ${host}`).toBeGreaterThan(0);
    // One HELP/TYPE block per metric, as Prometheus requires.
    const types = text.split("\n").filter((l) => l.startsWith("# TYPE "));
    expect(new Set(types).size).toBe(types.length);
    expect(text).toContain("# TYPE sourdough_call_duration_seconds histogram");
  });

  it("shows a killed host in health until it is back, and counts its restart", async () => {
    const victim = coordinator.hosts[1]!;
    process.kill(victim.pid!, "SIGKILL");
    // Until its exit is noticed the host merely does not answer; then it is restarting, then starting.
    let during = await coordinator.health();
    for (let i = 0; i < 40 && !/host 1 is (restarting|starting)/.test(during.reasons.join(" ")); i++) during = await coordinator.health();
    expect(during.status).toBe("degraded");
    expect(during.reasons.join(" ")).toMatch(/host 1 is (restarting|starting)/);
    for (let i = 0; i < 200 && coordinator.hosts[1]!.state !== "ready"; i++) await sleep(25);
    await sleep(GAUGE_SETTLE_MS);
    expect((await coordinator.health()).status).toBe("healthy");
    const text = await coordinator.metrics();
    expect(series(text, "sourdough_host_restarts_total", { host: "1" })).toBe(1);
    expect(series(text, "sourdough_host_restarts_total", { host: "0" })).toBe(0);
  });

  it("counts an isolate that died and was replaced", async () => {
    const name = "crash-iso";
    const at = coordinator.locate(TestCounter, coordinator.namespace(TestCounter).idFromName(name))!;
    await expect(coordinator.get(name, TestCounter).crashIsolate()).rejects.toThrow();
    for (let i = 0; i < 100; i++) {
      const h = await coordinator.health();
      const iso = h.hosts[at.host]!.isolates[at.isolate]!;
      if (iso.state !== "down" && iso.restarts === 1) break;
      await sleep(50);
    }
    const text = await coordinator.metrics();
    expect(series(text, "sourdough_isolate_restarts_total", { host: String(at.host) })).toBe(1);
  });
});

describe("ops: metrics off", () => {
  it("counts no call but keeps gauges and lifecycle counters", async () => {
    const cluster = await startCluster({ hostCount: 1, isolatesPerHost: 1, metrics: false });
    try {
      await cluster.coordinator.get("off", TestCounter).increment(1);
      const text = await cluster.coordinator.metrics();
      expect(text).not.toContain("sourdough_calls_total");
      expect(text).not.toContain("process_resident_memory_bytes");
      expect(series(text, "sourdough_activations_total", { class: "TestCounter" })).toBe(1);
      expect(series(text, "sourdough_isolates_total", {})).toBe(1);
    } finally {
      await cluster.close();
    }
  });
});

describe("ops: GET /health and /metrics from serve()", () => {
  it("answers before the worker, 503 when no isolate answers, and gives the path back to the worker when disabled", async () => {
    const worker = { fetch: (req: Request) => new Response(`worker saw ${new URL(req.url).pathname}`) };
    const app = serve(worker, { durableObjects: { COUNTER: TestCounter }, modules: [FIXTURES], hostCount: 1, isolatesPerHost: 1, output: () => {}, inMemoryNotice: false, handleSignals: false });
    await app.ready;
    try {
      const ok = await fetch(`${app.url}/health`);
      expect(ok.status).toBe(200);
      expect(ok.headers.get("content-type")).toBe("application/json");
      const body = (await ok.json()) as { status: string; isolates: { total: number } };
      expect(body.isolates.total).toBe(1);
      const metrics = await fetch(`${app.url}/metrics`);
      expect(metrics.headers.get("content-type")).toContain("text/plain; version=0.0.4");
      expect(await metrics.text()).toContain('sourdough_isolates_total 1');
      await fetch(`${app.url}/anything`);
      expect(series(await (await fetch(`${app.url}/metrics`)).text(), "sourdough_http_requests_total", { status: "200", host: "gateway" })).toBe(1);
      // A stopped host answers nothing: no isolate serves, so the cluster is unhealthy.
      const pid = app.coordinator.hosts[0]!.pid!;
      process.kill(pid, "SIGSTOP");
      try {
        const down = await fetch(`${app.url}/health`);
        expect(down.status).toBe(503);
        const h = (await down.json()) as { status: string; reasons: string[] };
        expect(h.status).toBe("unhealthy");
        expect(h.reasons).toContain("host 0 did not answer within 1000 ms");
      } finally {
        process.kill(pid, "SIGCONT");
      }
    } finally {
      await app.close();
    }
    const moved = serve(worker, { durableObjects: {}, hostCount: 0, healthPath: "/_ops/health", metricsPath: false, inMemoryNotice: false, handleSignals: false });
    await moved.ready;
    try {
      expect(await (await fetch(`${moved.url}/health`)).text()).toBe("worker saw /health");
      expect(await (await fetch(`${moved.url}/metrics`)).text()).toBe("worker saw /metrics");
      expect((await (await fetch(`${moved.url}/_ops/health`)).json()) as object).toMatchObject({ status: "healthy", isolates: { total: 1, available: 1 } });
    } finally {
      await moved.close();
    }
    expect(() => serve(worker, { durableObjects: {}, hostCount: 0, healthPath: "health" })).toThrow('serve: healthPath must be a path starting with "/" (no query, no spaces), or false to turn it off; got "health".');
  });
});
