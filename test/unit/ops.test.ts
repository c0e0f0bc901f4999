// Pure parts of runtime/ops: health status rules, percentiles from histogram buckets, per-call
// counters, and the default log writer.
import { describe, expect, it } from "vitest";
import { percentile } from "../../runtime/ops/dashboard.ts";
import { buildHealth, type HostView } from "../../runtime/ops/health.ts";
import { createLogger } from "../../runtime/ops/logger.ts";
import type { IsolateReport } from "../../runtime/ops/ops-messages.ts";
import { LATENCY_BOUNDS_MS, TableStats } from "../../runtime/ops/table-stats.ts";

const iso = (over: Partial<IsolateReport> = {}): IsolateReport => ({ isolate: 0, state: "up", restarts: 0, objectsResident: 0, eventsQueued: 0, callsInFlight: 0, socketsOpen: 0, eventLoopUtilization: 0.1, heapUsedBytes: 10, heapLimitBytes: 100, ...over });
const host = (over: Partial<HostView> = {}, isolates: IsolateReport[] = [iso()]): HostView => ({ host: 0, pid: 1, state: "ready", restarts: 0, uptimeMs: 1000, report: { pid: 1, isolates, cpuLimitKills: 0, memoryLimitKills: 0, isolateRestarts: 0 }, ...over });
const health = (hosts: HostView[], failure?: string) => buildHealth({ instanceId: "x", uptimeMs: 5000, isolatesPerHost: 1, hosts, failure, reportTimeoutMs: 1000 });

describe("buildHealth", () => {
  const table: Array<{ given: string; hosts: HostView[]; failure?: string; want: { status: string; reasons: string[]; isolates?: object } }> = [
    { given: "every isolate up and idle", hosts: [host(), host({ host: 1 })], want: { status: "healthy", reasons: [], isolates: { total: 2, available: 2, busy: 0 } } },
    { given: "a call running", hosts: [host({}, [iso({ callsInFlight: 1 })])], want: { status: "healthy", reasons: [], isolates: { total: 1, available: 0, busy: 1 } } },
    { given: "a host restarting", hosts: [host(), host({ host: 1, state: "restarting", report: undefined })], want: { status: "degraded", reasons: ["host 1 is restarting"] } },
    { given: "a host that does not answer", hosts: [host(), host({ host: 1, report: undefined })], want: { status: "degraded", reasons: ["host 1 did not answer within 1000 ms"] } },
    { given: "an isolate down", hosts: [host({}, [iso(), iso({ isolate: 1, state: "down" })])], want: { status: "degraded", reasons: ["host 0 isolate 1 is down (being replaced)"] } },
    { given: "a saturated event loop", hosts: [host({}, [iso({ eventLoopUtilization: 0.97 })])], want: { status: "degraded", reasons: ["host 0 isolate 0: event loop 97 % busy"] } },
    { given: "a heap near its limit", hosts: [host({}, [iso({ heapUsedBytes: 95 })])], want: { status: "degraded", reasons: ["host 0 isolate 0: heap at 95 % of its limit"] } },
    { given: "no isolate answering", hosts: [host({ report: undefined })], want: { status: "unhealthy", reasons: ["no isolate is serving", "host 0 did not answer within 1000 ms"] } },
    { given: "a failed start", hosts: [host()], failure: "the cluster failed to start: boom", want: { status: "unhealthy", reasons: ["the cluster failed to start: boom"] } },
  ];
  for (const { given, hosts, failure, want } of table) {
    it(`says ${want.status} given ${given}`, () => {
      expect(health(hosts, failure)).toMatchObject(want);
    });
  }
});

describe("percentile", () => {
  const buckets = (counts: Record<number, number>) => Array.from({ length: LATENCY_BOUNDS_MS.length + 1 }, (_, k) => counts[k] ?? 0);
  it("interpolates inside the bucket holding the rank", () => {
    // 10 calls in (0.025, 0.05] ms, 10 in (1, 2.5] ms.
    const b = buckets({ 1: 10, [LATENCY_BOUNDS_MS.indexOf(2.5)]: 10 });
    expect(percentile(b, 0.5)).toBe(0.05);
    expect(percentile(b, 0.95)).toBe(1 + 0.9 * 1.5);
  });
  it("is null without calls", () => {
    expect(percentile(buckets({}), 0.5)).toBe(null);
  });
});

describe("TableStats", () => {
  it("counts calls, errors by code or name, and latency buckets; nothing with perCall off", () => {
    const stats = new TableStats();
    const m = stats.method("Counter", "add")!;
    m.done(m.start());
    m.done(m.start(), Object.assign(new Error("x"), { code: "ERR_OVERLOADED" }));
    m.done(m.start(), new RangeError("y"));
    m.refused("a string");
    const snap = stats.snapshot({ residentByClass: new Map([["Counter", 2]]), eventsQueued: 0, socketsOpen: 1 }, new Map([["Counter", 7]]));
    expect(snap.methods).toEqual([{ namespace: "Counter", method: "add", calls: 4, inFlight: 0, sumMs: expect.any(Number), buckets: expect.any(Array), errors: { ERR_OVERLOADED: 1, RangeError: 1, thrown: 1 } }]);
    expect(snap.methods[0]!.buckets.reduce((a, b) => a + b, 0)).toBe(3);
    expect(snap.classes).toEqual([{ namespace: "Counter", resident: 2, activations: 0, evictions: 0, resets: 0, storageBytesWritten: 7 }]);
    expect(new TableStats({ perCall: false }).method("Counter", "add")).toBe(undefined);
  });

  it("records resets with their error and tells its listener", () => {
    const stats = new TableStats();
    const told: string[] = [];
    stats.onReset = (r) => told.push(`${r.namespace} ${r.objectId} ${r.error}`);
    stats.reset("Counter", "ab", new TypeError("bad"));
    expect(told).toEqual(["Counter ab TypeError: bad"]);
    expect(stats.snapshot({ residentByClass: new Map(), eventsQueued: 0, socketsOpen: 0 }, new Map()).classes[0]).toMatchObject({ namespace: "Counter", resets: 1 });
  });
});

describe("createLogger", () => {
  it("writes concise text lines, or JSON lines", () => {
    const lines: string[] = [];
    createLogger("text", (l) => lines.push(l)).warn("host 0 exited", { host: 0 });
    createLogger("json", (l) => lines.push(l)).error("boom", { host: 1 });
    expect(lines[0]).toBe("sourdough: host 0 exited\n");
    expect(JSON.parse(lines[1]!)).toMatchObject({ level: "error", msg: "boom", host: 1, time: expect.any(String) });
  });
});
