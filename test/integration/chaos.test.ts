// Availability under repeated kill -9 (issue 8): a random host of two is killed every second for 10 s
// while callers deposit into objects on every slot; each slot must serve most of the time (hosts are
// restarted at once, not after a growing backoff) and no acknowledged deposit may be lost.
import { describe, expect, it, onTestFinished } from "vitest";
import type { DurableObjectClass } from "sourdough";
import { runChaos, targetsOnEverySlot } from "../../bench/chaos-driver.ts";
import { isAlive, startCluster } from "../support/cluster.ts";

interface JsCounterStub {
  add(n: number): Promise<number>;
}

describe("kill -9 of a random host every second", () => {
  it("keeps every slot serving most of the time and loses no acknowledged deposit", async () => {
    // Compiled JavaScript, so that restarts measure sourdough rather than tsx on a busy machine.
    const url = new URL("../fixtures/compiled/js-counter.mjs", import.meta.url);
    const { JsCounter } = (await import(url.href)) as { JsCounter: DurableObjectClass };
    const cluster = await startCluster({ hostCount: 2, isolatesPerHost: 1, modules: [url], durableObjects: { JS: JsCounter } });
    const { coordinator } = cluster;
    const standbys = new Set<number>();
    onTestFinished(async () => {
      await cluster.close();
      for (const pid of standbys) expect(isAlive(pid), `standby pid ${pid} still running after close()`).toBe(false);
    });
    const stub = (name: string) => coordinator.get(name, JsCounter) as unknown as JsCounterStub;
    const targets = targetsOnEverySlot(2, 2, (name) => coordinator.locate(JsCounter, coordinator.namespace(JsCounter).idFromName(name))!.host);
    const watch = setInterval(() => coordinator.hosts.forEach((h) => h.standbyPid !== undefined && standbys.add(h.standbyPid)), 50);
    // Two callers per slot with 5 ms between calls: continuous traffic that does not itself starve the
    // restarting host of CPU on a 2-core machine (bench/chaos.ts measures callers back to back).
    const report = await runChaos({
      coordinator,
      targets,
      deposit: (name) => stub(name).add(1),
      balance: (name) => stub(name).add(0),
      durationMs: 10_000,
      killEveryMs: 1_000,
      seed: 8,
      pauseMs: 5,
      // A slot that answers again within 200 ms counts as serving: on a machine shared with other
      // work, the scheduler alone pauses a process for 100 ms now and then.
      outageGapMs: 200,
    }).finally(() => clearInterval(watch));

    const summary = JSON.stringify(report.slots.map((s) => ({ slot: s.slot, serving: s.serving.toFixed(3), outages: s.outages, longestOutageMs: Math.round(s.longestOutageMs), failed: s.failed })));
    expect(Object.values(report.kills).reduce((a, b) => a + b, 0)).toBe(9);
    expect(report.restarts.reduce((a, b) => a + b, 0), JSON.stringify(report.kills)).toBeGreaterThanOrEqual(5);
    for (const slot of report.slots) {
      // Measured 62–93 % with 100 ms gaps (14 runs) and 75–98 % with 200 ms gaps (4 runs) on a 2-core
      // machine that other benchmarks kept at load average 6–10, where one restart took up to 2 s.
      // The former 100 ms → 5 s backoff: 28–47 % and 5 s outages over 25 s, about 55 % over 10 s (its
      // delays reach 1.6 s by a host's fifth kill).
      expect(slot.serving, summary).toBeGreaterThanOrEqual(0.6);
      expect(slot.longestOutageMs, summary).toBeLessThan(3_000);
      expect(Object.keys(slot.failed).filter((code) => code !== "ERR_HOST_UNAVAILABLE"), summary).toEqual([]);
    }
    expect(report.lost).toEqual([]);
    expect(report.overcounted).toEqual([]);
  });
});
