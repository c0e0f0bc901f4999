// Objects spread over hosts and isolates, each with its own state, and placement is what every
// process computes: the object reports the pid and thread it actually ran on.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestCounter } from "../fixtures/objects.ts";
import { startCluster, type TestCluster } from "../support/cluster.ts";

describe("placement over 2 hosts × 3 isolates", () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startCluster({ hostCount: 2, isolatesPerHost: 3 });
  });
  afterAll(() => cluster.close());

  it("keeps 1000 objects' state apart and spreads them over every slot", async () => {
    const { coordinator } = cluster;
    const ns = coordinator.namespace(TestCounter);
    const names = Array.from({ length: 1000 }, (_, i) => `object-${i}`);
    await Promise.all(names.map((name, i) => ns.getByName(name).increment(i)));
    await Promise.all(names.map((name) => ns.getByName(name).increment(1)));
    const values = await Promise.all(names.map((name) => ns.getByName(name).get()));
    expect(values).toEqual(names.map((_, i) => i + 1));

    const hosts = coordinator.hosts;
    const slotOfThread = new Map<string, string>();
    hosts.forEach((h) => h.threadIds.forEach((t, isolate) => slotOfThread.set(`${h.pid}:${t}`, `${h.index}/${isolate}`)));
    const perSlot = new Map<string, number>();
    const wheres = await Promise.all(names.map((name) => ns.getByName(name).whereAmI()));
    names.forEach((name, i) => {
      const ran = slotOfThread.get(`${wheres[i]!.pid}:${wheres[i]!.threadId}`);
      const predicted = coordinator.locate(TestCounter, ns.idFromName(name))!;
      expect(ran, `${name} ran on a thread the coordinator does not know`).toBeDefined();
      expect(ran).toBe(`${predicted.host}/${predicted.isolate}`);
      perSlot.set(ran!, (perSlot.get(ran!) ?? 0) + 1);
    });
    expect(perSlot.size).toBe(6);
    for (const [slot, count] of perSlot) expect(count, `slot ${slot}`).toBeGreaterThan(1000 / 6 / 2);
  });
});
