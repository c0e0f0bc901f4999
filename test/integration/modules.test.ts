// How hosts find classes: by module URL. Compiled JavaScript loads as is; TypeScript through tsx.
import { describe, expect, it } from "vitest";
import type { DurableObjectClass } from "sourdough";
import { startCluster } from "../support/cluster.ts";

describe("class modules", () => {
  it("loads compiled JavaScript classes without a loader", async () => {
    const url = new URL("../fixtures/compiled/js-counter.mjs", import.meta.url);
    const { JsCounter } = (await import(url.href)) as { JsCounter: DurableObjectClass };
    const cluster = await startCluster({ hostCount: 1, isolatesPerHost: 1, modules: [url], durableObjects: { JS: JsCounter } });
    try {
      const stub = cluster.coordinator.get("js", JsCounter) as unknown as { add(n: number): Promise<number> };
      expect(await stub.add(2)).toBe(2);
      expect(await stub.add(3)).toBe(5);
    } finally {
      await cluster.close();
    }
  });

  it("loads TypeScript classes and plain paths next to file URLs", async () => {
    const path = new URL("../fixtures/objects.ts", import.meta.url).pathname;
    const { TestCounter } = await import("../fixtures/objects.ts");
    const cluster = await startCluster({ hostCount: 1, isolatesPerHost: 1, modules: [path], durableObjects: { C: TestCounter } });
    try {
      expect(await cluster.coordinator.get("ts", TestCounter).increment(4)).toBe(4);
    } finally {
      await cluster.close();
    }
  });
});
