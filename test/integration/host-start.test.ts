// A host that fails to start is reported with its stderr and a clear code; nothing is left behind.
import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ClusterCoordinator, type ClusterCoordinatorOptions } from "sourdough";
import { TestCounter } from "../fixtures/objects.ts";
import { FIXTURES, isAlive, openFds } from "../support/cluster.ts";

async function failedStart(options: ClusterCoordinatorOptions): Promise<Error> {
  const fds = openFds();
  const coordinator = new ClusterCoordinator({ hostCount: 1, modules: [FIXTURES], output: () => {}, ...options });
  const error = await coordinator.ready.then(
    () => new Error("expected the start to fail"),
    (e: unknown) => e as Error,
  );
  const pids = coordinator.hosts.map((h) => h.pid).filter((p): p is number => p !== undefined);
  await coordinator.close();
  for (const pid of pids) expect(isAlive(pid)).toBe(false);
  // This coordinator's own run directory (never a scan of the shared temp dir, where other sourdough
  // processes on the machine keep theirs): it had one, and it is gone.
  expect(coordinator.runDir).toMatch(/sourdough-run-/);
  expect(existsSync(coordinator.runDir as string)).toBe(false);
  const call = await coordinator.get("x", TestCounter).get().catch((e: unknown) => e);
  expect(call).toBe(error); // calls fail fast with the start error
  for (let i = 0; i < 50 && openFds() > fds; i++) await new Promise((r) => setTimeout(r, 10));
  expect(openFds()).toBeLessThanOrEqual(fds);
  return error;
}

const fake = (name: string) => new URL(`../fixtures/hosts/${name}`, import.meta.url);

describe("host start failures", () => {
  it("reports a host that crashes before ready, with its stderr", async () => {
    const error = await failedStart({ hostEntry: fake("crash-before-ready.mjs") });
    expect(error).toMatchObject({ code: "ERR_HOST_START" });
    expect(error.message).toContain("host 0 failed to start: exited with code 7 before it was ready");
    expect(error.message).toContain("fake host: cannot open database: disk on fire");
  });

  it("gives up on a host that never becomes ready", async () => {
    const error = await failedStart({ hostEntry: fake("never-ready.mjs"), startTimeoutMs: 500 });
    expect(error).toMatchObject({ code: "ERR_HOST_START" });
    expect(error.message).toContain("not ready within 500 ms");
    expect(error.message).toContain("fake host: waiting forever");
  });

  it("ignores garbage on the control channel and reports the host's fatal message", async () => {
    const error = await failedStart({ hostEntry: fake("garbage-ipc.mjs"), startTimeoutMs: 5000 });
    expect(error).toMatchObject({ code: "ERR_HOST_START" });
    expect(error.message).toContain("fake host: configuration rejected");
  });

  it("reports a user module that throws while loading, with its stack", async () => {
    const error = await failedStart({ modules: [new URL("../fixtures/broken-module.ts", import.meta.url)] });
    expect(error).toMatchObject({ code: "ERR_HOST_START" });
    expect(error.message).toContain("broken-module: top-level failure while loading");
    expect(error.message).toContain("broken-module.ts");
  });

  it("refuses a binding whose class no module exports", async () => {
    class NotExported extends TestCounter {}
    const error = await failedStart({ durableObjects: { MISSING: NotExported } });
    expect(error).toMatchObject({ code: "ERR_BAD_CLASS" });
    expect(error.message).toContain("class NotExported is not exported by any of the modules");
  });

  it("needs modules when hostCount > 0", () => {
    expect(() => new ClusterCoordinator({ hostCount: 1 })).toThrow(/no modules were given/);
    expect(() => new ClusterCoordinator({ hostCount: -1 })).toThrow(/hostCount must be a whole number/);
  });
});
