// Cloudflare's alarms (durable-objects/api/alarms): one alarm per object, at-least-once, retried with
// exponential backoff when alarm() throws, fired for objects not in memory, surviving restarts.
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ClusterCoordinator } from "sourdough";
import { AlarmClock, type AlarmFiring } from "../fixtures/objects.ts";
import { startCluster, type TestCluster } from "../support/cluster.ts";

const RETRY_BASE = 20;

async function until<T>(what: string, read: () => Promise<T>, done: (v: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let value: T | undefined;
    try {
      value = await read();
    } catch (error) {
      // A host being restarted answers with retryable errors until it is back: retry, as a caller would.
      if ((error as { retryable?: unknown }).retryable !== true) throw error;
    }
    if (value !== undefined && done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last value ${JSON.stringify(value)}`);
    await sleep(25);
  }
}

describe.each([
  { mode: "2 host processes", hostCount: 2 },
  { mode: "in-process (hostCount: 0)", hostCount: 0 },
])("alarms: $mode", ({ hostCount }) => {
  let cluster: TestCluster;
  let coordinator: ClusterCoordinator;
  beforeAll(async () => {
    // Objects are evicted after 100 ms, so alarms below fire for objects that are not in memory.
    cluster = await startCluster({ hostCount, isolatesPerHost: 1, idleEvictionMs: 100, alarmRetryBaseMs: RETRY_BASE, output: () => {} });
    coordinator = cluster.coordinator;
  });
  afterAll(() => cluster.close());
  const clock = (name: string) => coordinator.get(name, AlarmClock);
  const fired = (name: string, n: number) => until(`${n} firings of ${name}`, () => clock(name).fired(), (f: AlarmFiring[]) => f.length >= n);

  it("fires at the scheduled time, for an object no longer in memory; getAlarm is null during and after", async () => {
    const scheduledFor = await clock("once").schedule(400, "ok");
    expect(scheduledFor).toBeGreaterThan(Date.now());
    expect(await clock("once").scheduled()).toBe(scheduledFor);
    const [firing] = await fired("once", 1);
    expect(firing).toMatchObject({ retryCount: 0, isRetry: false, alarmDuringHandler: null });
    expect(firing!.late).toBeGreaterThanOrEqual(0);
    expect(await clock("once").scheduled()).toBeNull();
    await sleep(300);
    expect(await clock("once").fired()).toHaveLength(1);
  });

  it("retries a throwing alarm() with retryCount and isRetry", async () => {
    await clock("flaky").schedule(0, "fail-once");
    const firings = await fired("flaky", 2);
    expect(firings.map((f) => [f.retryCount, f.isRetry])).toEqual([[0, false], [1, true]]);
    await sleep(RETRY_BASE * 4);
    expect(await clock("flaky").fired()).toHaveLength(2);
    expect(await clock("flaky").scheduled()).toBeNull();
  });

  it("gives up after 6 retries, with exponential backoff between them", async () => {
    await clock("doomed").schedule(0, "fail-always");
    const firings = await fired("doomed", 7);
    expect(firings.map((f) => f.retryCount)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    await sleep(RETRY_BASE * 2 ** 7);
    expect(await clock("doomed").fired()).toHaveLength(7);
  });

  it("deleteAlarm cancels; setAlarm from the handler schedules the next one", async () => {
    await clock("cancelled").schedule(300, "ok");
    await clock("cancelled").cancel();
    expect(await clock("cancelled").scheduled()).toBeNull();
    await clock("chain").schedule(0, "reschedule");
    await fired("chain", 3);
    await sleep(300);
    expect(await clock("cancelled").fired()).toHaveLength(0);
    expect(await clock("chain").fired()).toHaveLength(3);
  });
});

describe("alarms across restarts", () => {
  it("fire after the owning host is killed with SIGKILL", async () => {
    const cluster = await startCluster({ hostCount: 2, isolatesPerHost: 1, restartBackoff: { initialMs: 50 }, output: () => {} });
    try {
      const { coordinator } = cluster;
      const ns = coordinator.namespace(AlarmClock);
      await ns.getByName("restart").schedule(1500, "ok");
      const host = coordinator.locate(AlarmClock, ns.idFromName("restart"))!.host;
      process.kill(coordinator.hosts[host]!.pid!, "SIGKILL");
      const firings = await until("the alarm after a host restart", () => ns.getByName("restart").fired(), (f) => f.length >= 1);
      expect(firings).toHaveLength(1);
      expect(coordinator.hosts[host]!.restarts).toBe(1);
    } finally {
      await cluster.close();
    }
  });

  it.each([{ hostCount: 2 }, { hostCount: 0 }])("fire after the coordinator is closed and a new one starts (hostCount $hostCount)", async ({ hostCount }) => {
    const storageDir = mkdtempSync(path.join(os.tmpdir(), "sourdough-test-"));
    try {
      const first = await startCluster({ hostCount, storageDir, output: () => {} });
      await first.coordinator.get("survivor", AlarmClock).schedule(800, "ok");
      await first.close();
      await sleep(1000); // due while nothing runs
      const second = await startCluster({ hostCount, storageDir, output: () => {}, durableObjects: { CLOCK: AlarmClock } });
      try {
        const firings = await until("the alarm after a coordinator restart", () => second.coordinator.get("survivor", AlarmClock).fired(), (f) => f.length >= 1);
        expect(firings[0]!.late).toBeGreaterThan(0);
      } finally {
        await second.close();
      }
    } finally {
      rmSync(storageDir, { recursive: true, force: true });
    }
  });
});
