// Cloudflare's object lifecycle and concurrency rules (durable-objects/reference/in-memory-state,
// api/state#blockconcurrencywhile, api/state#waituntil), in both modes.
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ClusterCoordinator } from "sourdough";
import { Lifecycle } from "../fixtures/objects.ts";
import { startCluster, type TestCluster } from "../support/cluster.ts";

const IDLE = 300;

describe.each([
  { mode: "2 host processes", hostCount: 2 },
  { mode: "in-process (hostCount: 0)", hostCount: 0 },
])("lifecycle: $mode", ({ hostCount }) => {
  let cluster: TestCluster;
  let coordinator: ClusterCoordinator;
  beforeAll(async () => {
    cluster = await startCluster({ hostCount, isolatesPerHost: 1, idleEvictionMs: IDLE });
    coordinator = cluster.coordinator;
  });
  afterAll(() => cluster.close());
  const object = (name: string) => coordinator.get(name, Lifecycle);

  it("evicts an idle object from memory and re-activates it with its stored data (in-memory-state)", async () => {
    const stub = object("evict");
    await stub.persist(41);
    const first = await stub.touch();
    expect((await stub.touch()).calls).toBe(2);
    await sleep(IDLE * 3);
    const after = await stub.touch();
    expect(after.calls).toBe(1); // fresh instance: in-memory state is gone
    expect(after.instance).not.toBe(first.instance);
    expect(await stub.stored()).toBe(41);
  });

  it("never evicts in the middle of a call, and never runs two instances of one object", async () => {
    const stub = object("busy");
    const long = stub.slow(IDLE * 3);
    await sleep(IDLE * 2);
    const during = await stub.touch(); // arrives after the idle time, while `slow` still runs
    const done = await long;
    expect(during.instance).toBe(done.instance);
    expect(during.calls).toBe(2);
    expect(done.calls).toBe(2);
  });

  it("keeps an object with pending waitUntil work in memory (state#waituntil)", async () => {
    const stub = object("linger");
    const instance = await stub.linger(IDLE * 10);
    await sleep(IDLE * 2.5);
    expect((await stub.touch()).instance).toBe(instance);
  });

  it("blockConcurrencyWhile in the constructor holds the first call until it finishes", async () => {
    expect(await object("bcw-ctor-1").isReady()).toBe(true);
  });

  it("blockConcurrencyWhile from a method holds other events and does not deadlock", async () => {
    const stub = object("gate");
    const held = stub.holdGate(150);
    await sleep(30);
    const marked = await stub.mark("other-call");
    expect(marked).toEqual(["gate-start", "gate-end", "other-call"]);
    // The held call's own code after the gate runs before the next event starts (input gate), so it
    // sees the order as it was when the gate opened.
    expect((await held).slice(0, 2)).toEqual(["gate-start", "gate-end"]);
  });

  it("a throwing blockConcurrencyWhile callback resets the object", async () => {
    const stub = object("reset");
    expect((await stub.touch()).calls).toBe(1);
    await expect(stub.failGate()).rejects.toMatchObject({ name: "RangeError", message: "gate failed" });
    const after = await stub.touch();
    expect(after.calls).toBe(1); // a new instance
  });

  it("does not deliver other events at awaits on storage (input gate)", async () => {
    const stub = object("input-gate");
    const loop = stub.storageLoop();
    await sleep(0);
    const mark = stub.mark("interleaved");
    const order = await loop;
    await mark;
    const at = order.indexOf("interleaved");
    expect(at === -1 || at === 20).toBe(true);
  });
});
