// One behavioural suite, two modes: objects in real host processes, and in-process (`hostCount: 0`).
// Everything a caller can observe must be the same in both.
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SourdoughError, type ClusterCoordinator } from "sourdough";
import { Caller, TestCounter } from "../fixtures/objects.ts";
import { startCluster, type TestCluster } from "../support/cluster.ts";

describe.each([
  { mode: "2 host processes × 2 isolates", hostCount: 2 },
  { mode: "in-process (hostCount: 0)", hostCount: 0 },
])("behaviour: $mode", ({ hostCount }) => {
  let cluster: TestCluster;
  let coordinator: ClusterCoordinator;
  beforeAll(async () => {
    cluster = await startCluster({ hostCount, env: { GREETING: "hello" } });
    coordinator = cluster.coordinator;
  });
  afterAll(() => cluster.close());

  it("runs a method and returns its result, keeping state per object", async () => {
    const a = coordinator.get("a", TestCounter);
    expect(await a.increment(5)).toBe(5);
    expect(await a.increment()).toBe(6);
    expect(await coordinator.get("b", TestCounter).increment(2)).toBe(2);
    expect(await a.get()).toBe(6);
  });

  it("gives namespaces Cloudflare's id API", async () => {
    const ns = coordinator.namespace(TestCounter);
    const id = ns.idFromName("room");
    expect(id.toString()).toMatch(/^[0-9a-f]{64}$/);
    expect(ns.idFromName("room").equals(id)).toBe(true);
    expect(ns.idFromString(id.toString()).equals(id)).toBe(true);
    const unique = ns.newUniqueId();
    expect(unique.equals(ns.newUniqueId())).toBe(false);
    const where = await ns.get(id).whereAmI();
    expect(where).toMatchObject({ id: id.toString(), name: "room" });
    expect((await ns.getByName("room").whereAmI()).id).toBe(id.toString());
    expect((await ns.get(unique).whereAmI()).name).toBeUndefined();
  });

  it("copies arguments and results with structured-clone semantics", async () => {
    const value = {
      date: new Date(1234),
      map: new Map<unknown, unknown>([["k", { deep: [1, 2] }], [3, null]]),
      set: new Set(["x", "y"]),
      big: 2n ** 70n,
      bytes: new Uint8Array([1, 2, 3]),
      floats: new Float64Array([1.5, -2]),
      undef: undefined,
      nil: null,
      nested: { list: [1, "two", { three: 3 }] },
    };
    const back = (await coordinator.get("clone", TestCounter).echo(value)) as typeof value; // generic methods lose T on stubs
    expect(back).toEqual(value);
    expect(back).not.toBe(value);
    expect("undef" in back).toBe(true);
    expect(back.map.get(3)).toBeNull();
  });

  it("passes env variables and bindings to objects", async () => {
    expect(await coordinator.get("env", TestCounter).greeting()).toBe("hello");
  });

  it("lets an object call another through env (DO → DO)", async () => {
    const result = await coordinator.get("caller", Caller).incrementOther("callee", 3);
    expect(result.value).toBe(3);
    expect(await coordinator.get("callee", TestCounter).get()).toBe(3);
    expect(await coordinator.get("caller-2", Caller).callSelfKind("caller-3")).toBe(42);
  });

  it("propagates errors with name, message, code and the remote stack", async () => {
    const stub = coordinator.get("errors", TestCounter);
    const typeError = await stub.fail("type").catch((e: unknown) => e);
    expect(typeError).toBeInstanceOf(TypeError);
    expect(typeError).toMatchObject({ name: "TypeError", message: "bad input: expected a number", remote: true });
    expect((typeError as { remoteStack: string }).remoteStack).toContain("fail");
    const coded = await stub.fail("coded").catch((e: unknown) => e);
    expect(coded).toMatchObject({ name: "Error", message: "quota exceeded", code: "E_QUOTA" });
    const custom = await stub.fail("custom").catch((e: unknown) => e);
    expect(custom).toMatchObject({ name: "ValidationError", message: "name must not be empty" });
    const nested = await coordinator.get("caller", Caller).propagate("errors").catch((e: unknown) => e);
    expect(nested).toMatchObject({ message: "quota exceeded", code: "E_QUOTA" });
  });

  it("refuses methods the class does not expose, naming class and method, without running them", async () => {
    const stub = coordinator.get("refuse", TestCounter) as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
    // constructor, toString, hasOwnProperty and __proto__ are the stub's own (test/integration/stub-values.test.ts).
    for (const name of ["_private", "ctx", "env", "nope", "alarm"]) {
      const error = await stub[name]!().catch((e: unknown) => e);
      expect(error, name).toBeInstanceOf(SourdoughError);
      expect(error, name).toMatchObject({ code: "ERR_METHOD_NOT_FOUND" });
      expect((error as Error).message, name).toContain(`TestCounter.${name}`);
    }
    expect(((await stub["nope"]!().catch((e: unknown) => e)) as Error).message).toContain("Callable methods: ");
  });

  it("refuses values that cannot be copied, saying where", async () => {
    const stub = coordinator.get("unsupported", TestCounter);
    const error = await stub.echo({ handler: Symbol("h") }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "ERR_UNSUPPORTED_TYPE" });
    expect((error as Error).message).toContain("TestCounter.echo arguments[0].handler: Symbol(h) cannot cross RPC");
    // Functions cross by reference now (issue 14; test/integration/rpc-references.test.ts).
    const result = (await stub.returnsFunction()) as { callback: () => Promise<number> } & Disposable;
    expect(await result.callback()).toBe(1);
    result[Symbol.dispose]();
  });

  it("rejects bad ids with a clear error", () => {
    const ns = coordinator.namespace(TestCounter);
    expect(() => ns.idFromString("xyz")).toThrow(/is not a Durable Object id. An id is 64 lowercase hex characters/);
    expect(() => ns.idFromString("A".repeat(64))).toThrow(/64 lowercase hex/);
    const foreign = coordinator.namespace(Caller).idFromName("x").toString();
    expect(() => ns.idFromString(foreign)).toThrow(/was not made by namespace TestCounter/);
  });

  it("keeps names that look like paths inside storageDir", async () => {
    for (const name of ["../../escape", "/etc/passwd", "a/../../b", "\0nul", "..", "C:\\win"]) {
      expect(await coordinator.get(name, TestCounter).increment(1)).toBe(1);
    }
    if (hostCount === 0) return; // same code path; the files are checked once
    const files = readdirSync(cluster.storageDir, { recursive: true, encoding: "utf8" }).filter((f) => f.includes("."));
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) expect(file).toMatch(/^(\.sourdough\.lock|(_alarms\.sqlite|(TestCounter|Caller)\/[0-9a-f]{64}\.(sqlite|name))(-wal|-shm|-journal)?)$/);
    expect(existsSync(path.join(cluster.storageDir, "..", "..", "escape.sqlite"))).toBe(false);
  });

  it("serves stub.fetch() with the object's fetch handler", async () => {
    const stub = coordinator.get("fetcher", TestCounter);
    await stub.increment(4);
    const res = await stub.fetch("http://do/path?q=1", { method: "POST", body: "payload" });
    expect(res.status).toBe(201);
    expect(res.headers.get("x-object")).toBe(stub.id.toString().slice(0, 8));
    expect(await res.json()).toEqual({ method: "POST", path: "/path", body: "payload", n: 4 });
    const boom = await stub.fetch("http://do/boom").catch((e: unknown) => e);
    expect(boom).toMatchObject({ code: "ERR_BAD_OPTIONS", message: "fetch failed on purpose" });
  });

  it("stores with sql.exec and the async KV API", async () => {
    const stub = coordinator.get("storage", TestCounter);
    expect(await stub.sqlRoundTrip("one")).toEqual([{ id: 1, text: "one" }]);
    expect(await stub.sqlRoundTrip("two")).toEqual([{ id: 1, text: "one" }, { id: 2, text: "two" }]);
    const kv = await stub.asyncKv();
    expect(kv.single).toEqual({ nested: [1, 2] });
    expect(kv.many).toEqual([["a", 1], ["c", new Date(0)]]);
    expect(kv.listed).toEqual(["a", "b", "c"]);
    expect(kv.deleted).toBe(1);
  });

  it("answers many calls in flight on one connection", async () => {
    const stub = coordinator.get("inflight", TestCounter);
    const results = await Promise.all(Array.from({ length: 500 }, () => stub.increment(1)));
    expect(new Set(results).size).toBe(500);
    expect(Math.max(...results)).toBe(500);
  });
});
