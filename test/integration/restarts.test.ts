// When crashed hosts come back (runtime/util/restart-policy.ts): at once after serving, with a growing
// delay only while a host keeps dying right after it starts; a pre-forked standby takes a restart.
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it, onTestFinished } from "vitest";
import { ClusterCoordinator } from "sourdough";
import { TestCounter } from "../fixtures/objects.ts";
import { FIXTURES, isAlive, startCluster } from "../support/cluster.ts";

async function until(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

describe("host restarts", () => {
  it("back off a host that crashes right after it is ready: at once, then 100 ms doubling", async () => {
    const log: string[] = [];
    const coordinator = new ClusterCoordinator({
      hostCount: 1,
      modules: [FIXTURES],
      hostEntry: new URL("../fixtures/hosts/ready-then-crash.mjs", import.meta.url),
      output: (_host, _stream, text) => log.push(text),
    });
    const pids = new Set<number>();
    onTestFinished(async () => {
      await coordinator.close();
      for (const pid of pids) expect(isAlive(pid), `host pid ${pid} still running after close()`).toBe(false);
    });
    await coordinator.ready;
    const watch = setInterval(() => coordinator.hosts.forEach((h) => [h.pid, h.standbyPid].forEach((p) => p !== undefined && pids.add(p))), 5);
    await sleep(1_600).finally(() => clearInterval(watch));

    const restarts = log.filter((line) => line.includes("exited with code 9"));
    expect(restarts[0]).toMatch(/^sourdough: host 0 \(pid \d+\) exited with code 9 after \d+ ms ready \(its start took \d+ ms\); restarting it now\n$/);
    expect(restarts[1]).toMatch(/exited with code 9 after \d+ ms ready \(its start took \d+ ms\); restarting it in 100 ms \(2 early deaths in a row: backing off, at most restartBackoff\.maxMs\)\n$/);
    expect(restarts[2]).toMatch(/restarting it in 200 ms \(3 early deaths in a row/);
    // Restarting at once every time would start it ~15 times in 1.6 s; the backoff allows about 5.
    expect(coordinator.hosts[0]!.restarts).toBeGreaterThanOrEqual(3);
    expect(coordinator.hosts[0]!.restarts).toBeLessThanOrEqual(7);
    expect(log.join("")).toContain("fake host: crashing right after ready");
  });

  it("restart a host killed after serving at once, from its standby process after the first time", async () => {
    const log: string[] = [];
    const cluster = await startCluster({ hostCount: 1, isolatesPerHost: 1, output: (_host, _stream, text) => log.push(text) });
    onTestFinished(() => cluster.close());
    const { coordinator } = cluster;
    const stub = coordinator.get("standby", TestCounter);
    expect(await stub.increment(1)).toBe(1);
    expect(coordinator.hosts[0]!.standbyPid).toBeUndefined(); // no spare until the host has crashed once

    await sleep(600);
    const first = coordinator.hosts[0]!.pid!;
    process.kill(first, "SIGKILL");
    await until("the restart and its standby", () => coordinator.hosts[0]!.pid !== first && coordinator.hosts[0]!.state === "ready" && coordinator.hosts[0]!.standbyPid !== undefined);
    expect(log.join("")).toMatch(new RegExp(`host 0 \\(pid ${first}\\) exited with SIGKILL after \\d+ ms ready \\(its start took \\d+ ms\\); restarting it now\\n`));
    expect(await stub.increment(1)).toBe(2);

    const standby = coordinator.hosts[0]!.standbyPid!;
    await sleep(600);
    const second = coordinator.hosts[0]!.pid!;
    process.kill(second, "SIGKILL");
    await until("the second restart", () => coordinator.hosts[0]!.pid !== second && coordinator.hosts[0]!.state === "ready");
    expect(coordinator.hosts[0]!.pid).toBe(standby);
    expect(await stub.increment(1)).toBe(3);
    expect(coordinator.hosts[0]!.restarts).toBe(2);
  });

  it("refuses a restartBackoff that is no number of milliseconds", () => {
    expect(() => new ClusterCoordinator({ hostCount: 1, modules: [FIXTURES], restartBackoff: { maxMs: -5 } })).toThrow(
      expect.objectContaining({ code: "ERR_BAD_OPTIONS", message: "ClusterCoordinator: restartBackoff.maxMs: expected a number of milliseconds ≥ 0, got -5. Leave it out for the default (1000)." }),
    );
  });
});
