// Deadlines and cancellation from the caller (issue 8, item 4, caller side), in both modes:
// withCallOptions(stub, { timeoutMs, signal }) and the coordinator's callTimeoutMs.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SourdoughError, withCallOptions, type ClusterCoordinator } from "sourdough";
import { Values } from "../fixtures/rpc-values.ts";
import { FIXTURES, startCluster, type TestCluster } from "../support/cluster.ts";

const VALUES_MODULE = new URL("../fixtures/rpc-values.ts", import.meta.url);

describe.each([
  { mode: "2 host processes", hostCount: 2 },
  { mode: "in-process (hostCount: 0)", hostCount: 0 },
])("call deadlines and cancellation: $mode", ({ hostCount }) => {
  let cluster: TestCluster;
  let coordinator: ClusterCoordinator;
  beforeAll(async () => {
    cluster = await startCluster({ hostCount, isolatesPerHost: 1, modules: [FIXTURES, VALUES_MODULE], durableObjects: { VALUES: Values } });
    coordinator = cluster.coordinator;
  });
  afterAll(() => cluster.close());

  it("rejects a call past its timeoutMs with ERR_DEADLINE_EXCEEDED within 200-400 ms; other calls are unaffected", async () => {
    const stub = coordinator.get("deadline", Values);
    await stub.echo("warm"); // connected and activated: the deadline measures the call alone
    const started = performance.now();
    const slow = withCallOptions(stub, { timeoutMs: 200 }).sleep(5_000).catch((e: unknown) => e);
    const others = await Promise.all([stub.echo(1), stub.sleep(50), coordinator.get("neighbour", Values).echo(2)]);
    expect(others).toEqual([1, 50, 2]);
    const error = await slow;
    const elapsed = performance.now() - started;
    expect(error).toBeInstanceOf(SourdoughError);
    expect(error).toMatchObject({
      code: "ERR_DEADLINE_EXCEEDED",
      message: "Values.sleep: no answer within 200 ms (timeoutMs). The call was cancelled and may or may not have run; raise timeoutMs or make the method answer sooner.",
    });
    expect(elapsed).toBeGreaterThanOrEqual(195);
    expect(elapsed).toBeLessThan(400);
    expect(await stub.echo("after")).toBe("after");
  });

  it("rejects a call aborted through its AbortSignal with ERR_ABORTED", async () => {
    const stub = coordinator.get("abort", Values);
    const controller = new AbortController();
    const pending = withCallOptions(stub, { signal: controller.signal }).sleep(5_000).catch((e: unknown) => e);
    setTimeout(() => controller.abort(new Error("client disconnected")), 50);
    const error = await pending;
    expect(error).toBeInstanceOf(SourdoughError);
    expect(error).toMatchObject({ name: "AbortError", code: "ERR_ABORTED", cause: { message: "client disconnected" } });
    expect((error as Error).message).toContain("Values.sleep: the call was aborted by its AbortSignal (Error: client disconnected).");
    expect(await stub.echo("still here")).toBe("still here");
  });

  it("carries options into fetch() and keeps the stub's type and other methods", async () => {
    const stub = withCallOptions(coordinator.get("typed", Values), { timeoutMs: 5_000 });
    expect(await stub.echo({ a: 1 })).toEqual({ a: 1 });
    const aborted = withCallOptions(stub, { signal: AbortSignal.abort() });
    await expect(aborted.fetch("http://do/")).rejects.toMatchObject({ code: "ERR_ABORTED" });
    expect(String(aborted)).toBe(String(stub));
  });

  it("refuses bad options with ERR_BAD_OPTIONS", () => {
    const stub = coordinator.get("bad", Values);
    expect(() => withCallOptions(stub, { timeoutMs: -1 })).toThrow(expect.objectContaining({ code: "ERR_BAD_OPTIONS", message: expect.stringContaining("withCallOptions: timeoutMs must be a number of milliseconds > 0") }));
    expect(() => withCallOptions(stub, { signal: {} as AbortSignal })).toThrow(expect.objectContaining({ code: "ERR_BAD_OPTIONS" }));
    expect(() => withCallOptions({}, { timeoutMs: 1 })).toThrow(expect.objectContaining({ code: "ERR_BAD_OPTIONS", message: expect.stringContaining("expected a Durable Object stub") }));
  });
});

describe.each([
  { mode: "2 host processes", hostCount: 2 },
  { mode: "in-process (hostCount: 0)", hostCount: 0 },
])("callTimeoutMs: $mode", ({ hostCount }) => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startCluster({ hostCount, isolatesPerHost: 1, callTimeoutMs: 300, modules: [FIXTURES, VALUES_MODULE], durableObjects: { VALUES: Values } });
  });
  afterAll(() => cluster.close());

  it("bounds every call of the coordinator and of objects; withCallOptions lifts it for one call", async () => {
    const stub = cluster.coordinator.get("bounded", Values);
    const error = await stub.sleep(5_000).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "ERR_DEADLINE_EXCEEDED", message: expect.stringContaining("Values.sleep: no answer within 300 ms (callTimeoutMs).") });
    expect(await withCallOptions(stub, { timeoutMs: Infinity }).sleep(400)).toBe(400);
    // An object's own outgoing call: its 300 ms deadline passes inside the 2 s the outer call may take.
    const inner = await withCallOptions(stub, { timeoutMs: 2_000 }).sleepOther("callee", 5_000);
    expect(inner).toMatchObject({ code: "ERR_DEADLINE_EXCEEDED", message: expect.stringContaining("no answer within 300 ms (callTimeoutMs)") });
  });

  it("is validated", () => {
    expect(() => new (cluster.coordinator.constructor as new (o: object) => unknown)({ hostCount: 0, callTimeoutMs: 0 })).toThrow(
      expect.objectContaining({ code: "ERR_BAD_OPTIONS", message: expect.stringContaining("ClusterCoordinator: callTimeoutMs must be a number of milliseconds > 0, got 0") }),
    );
  });
});
