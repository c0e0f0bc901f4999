// Failure: a host killed with SIGKILL under load, a dead isolate, a garbage frame on a live socket.
import net from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { SourdoughError } from "sourdough";
import { TestCounter } from "../fixtures/objects.ts";
import { startCluster, type TestCluster } from "../support/cluster.ts";

let cluster: TestCluster | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

async function until(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe("kill -9 of a host under load", () => {
  it("loses no acknowledged write, fails in-flight calls as retryable, and restores service", async () => {
    cluster = await startCluster({ hostCount: 2, isolatesPerHost: 1, restartBackoff: { initialMs: 50 } });
    const { coordinator } = cluster;
    const ns = coordinator.namespace(TestCounter);
    const names = Array.from({ length: 40 }, (_, i) => `load-${i}`);
    const acked = new Map<string, number>(names.map((n) => [n, 0]));
    const failures: unknown[] = [];
    let stop = false;
    // One writer per object, sequential: the acknowledged count is exact.
    const writers = names.map(async (name) => {
      while (!stop) {
        try {
          const value = await ns.getByName(name).increment(1);
          acked.set(name, value);
        } catch (error) {
          failures.push(error);
          await sleep(5);
        }
      }
    });
    await sleep(300);
    const victim = coordinator.hosts[1]!;
    process.kill(victim.pid!, "SIGKILL");
    await until("the host to restart", () => coordinator.hosts[1]!.state === "ready" && coordinator.hosts[1]!.pid !== victim.pid);
    await sleep(300);
    stop = true;
    await Promise.all(writers);

    expect(failures.length).toBeGreaterThan(0);
    for (const error of failures) {
      expect(error).toBeInstanceOf(SourdoughError);
      expect(error).toMatchObject({ code: "ERR_HOST_UNAVAILABLE", retryable: true });
    }
    expect(coordinator.hosts[1]!.restarts).toBe(1);
    // Every acknowledged write is there; a failed call may or may not have committed (at most one more).
    const values = await Promise.all(names.map((n) => ns.getByName(n).get()));
    names.forEach((name, i) => {
      expect(values[i]!, name).toBeGreaterThanOrEqual(acked.get(name)!);
      expect(values[i]!, name).toBeLessThanOrEqual(acked.get(name)! + 1);
    });
    const onVictim = names.filter((n) => coordinator.locate(TestCounter, ns.idFromName(n))!.host === 1);
    expect(onVictim.length).toBeGreaterThan(0);
    expect(Math.min(...onVictim.map((n) => acked.get(n)!))).toBeGreaterThan(0);
  });
});

describe("a dead isolate", () => {
  it("is replaced inside its host, and its objects come back with their data", async () => {
    cluster = await startCluster({ hostCount: 1, isolatesPerHost: 2 });
    const { coordinator } = cluster;
    const stub = coordinator.get("isolate-victim", TestCounter);
    expect(await stub.increment(7)).toBe(7);
    const before = await stub.whereAmI();
    const crash = await stub.crashIsolate().catch((e: unknown) => e);
    expect(crash).toMatchObject({ code: "ERR_HOST_UNAVAILABLE", retryable: true });
    // The next call waits for the replacement isolate's socket, then runs there with the data intact.
    expect(await stub.increment(1)).toBe(8);
    const after = await stub.whereAmI();
    expect(after.pid).toBe(before.pid); // same host process
    expect(after.threadId).not.toBe(before.threadId); // new isolate
    expect(coordinator.hosts[0]!.restarts).toBe(0);
    expect(coordinator.hosts[0]!.threadIds).toContain(after.threadId);
  });
});

describe("a malformed frame on a live isolate socket", () => {
  it("closes only that connection with a protocol error; the isolate keeps serving", async () => {
    cluster = await startCluster({ hostCount: 1, isolatesPerHost: 1 });
    const { coordinator } = cluster;
    const stub = coordinator.get("survivor", TestCounter);
    expect(await stub.increment(1)).toBe(1);
    const socketPath = coordinator.locate(TestCounter, stub.id)!.socketPath;
    const garbage = [
      Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), // not Cap'n Proto at all
      Buffer.from([0, 0, 0, 0, 0xff, 0xff, 0xff, 0x0f, 1, 2]), // declares a 1 GiB segment
      Buffer.from([0, 0, 0, 0, 1, 0, 0, 0, 0xfd, 0xff, 0xff, 0xff, 0, 0, 0, 0]), // root pointer far outside
      Buffer.from([0, 0, 0, 0, 2, 0, 0, 0, 1, 2, 3]), // truncated, then the peer hangs up
    ];
    for (const bytes of garbage) {
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = net.connect(socketPath);
        const chunks: Buffer[] = [];
        socket.on("data", (d) => chunks.push(d));
        socket.on("error", reject);
        socket.on("close", () => resolve(Buffer.concat(chunks).toString("latin1")));
        socket.write(bytes, () => {
          if (bytes.length === 11) socket.end();
        });
        setTimeout(() => socket.destroy(), 3000);
      });
      if (bytes.length !== 11) expect(answer).toContain("sourdough wire:");
      expect(await stub.increment(1)).toBeGreaterThan(1);
    }
    expect(await stub.get()).toBe(1 + garbage.length);
  });
});
