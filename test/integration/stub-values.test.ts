// Stubs are safe values and values are copied faithfully or refused (issue 8, items 6 and 7), in both
// modes: nothing here may reject unhandled or crash the caller's process.
import { Console } from "node:console";
import { Writable } from "node:stream";
import util from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SourdoughError, type ClusterCoordinator, type DurableObjectStub } from "sourdough";
import { TestCounter } from "../fixtures/objects.ts";
import { Msg, Values } from "../fixtures/rpc-values.ts";
import { FIXTURES, startCluster, type TestCluster } from "../support/cluster.ts";
import { failOnUnhandledRejections } from "../support/unhandled.ts";

const VALUES_MODULE = new URL("../fixtures/rpc-values.ts", import.meta.url);

describe.each([
  { mode: "2 host processes", hostCount: 2 },
  { mode: "in-process (hostCount: 0)", hostCount: 0 },
])("stubs and values: $mode", ({ hostCount }) => {
  let cluster: TestCluster;
  let coordinator: ClusterCoordinator;
  failOnUnhandledRejections(50);
  beforeAll(async () => {
    cluster = await startCluster({ hostCount, isolatesPerHost: 1, modules: [FIXTURES, VALUES_MODULE], durableObjects: { VALUES: Values, COUNTER: TestCounter } });
    coordinator = cluster.coordinator;
  });
  afterAll(async () => {
    await cluster.close();
  });

  const describes = (stub: DurableObjectStub<Values>) => `DurableObjectStub(Values, ${stub.id.toString()}, name "a")`;

  it("describes itself locally: String, template literals, toPrimitive, inspect, console.log, JSON", () => {
    const stub = coordinator.get("a", Values);
    const text = describes(stub);
    expect(String(stub)).toBe(text);
    expect(`${stub}`).toBe(text);
    expect(stub + "").toBe(text);
    expect((stub as unknown as { [Symbol.toPrimitive](hint: string): unknown })[Symbol.toPrimitive]("number")).toBe(text);
    expect(util.inspect(stub)).toBe(text);
    expect(util.inspect({ nested: [stub] })).toContain(text);
    expect(util.format("%s %o", stub, stub)).toContain(text);
    expect(JSON.stringify({ stub })).toBe(JSON.stringify({ stub: text }));
    expect(Object.prototype.toString.call(stub)).toBe("[object DurableObjectStub]");
    expect((stub as unknown as Record<symbol, unknown>)[Symbol.toStringTag]).toBe("DurableObjectStub");
    const logged: unknown[] = [];
    const out = new Writable({ write: (chunk: Buffer, _encoding, done) => (logged.push(chunk.toString()), done()) });
    const log = new Console({ stdout: out });
    log.log(stub);
    log.log("%s", stub);
    expect(logged).toEqual([`${text}\n`, `${text}\n`]);
  });

  it("answers Object.prototype's methods locally, never as calls", async () => {
    const stub = coordinator.get("a", Values);
    expect(stub.hasOwnProperty("id")).toBe(true);
    expect(Object.hasOwn(stub, "increment")).toBe(false);
    expect(stub.toString()).toBe(describes(stub));
    expect(stub.toLocaleString()).toBe(describes(stub));
    expect(stub.valueOf()).toBe(stub);
    expect(stub.isPrototypeOf({})).toBe(false);
    expect(stub.propertyIsEnumerable("id")).toBe(true);
    expect(typeof stub.constructor).toBe("function");
    expect((stub as unknown as { then?: unknown }).then).toBeUndefined();
    expect(await Promise.resolve(stub)).toBe(stub); // not a thenable
    expect(await stub.calls()).toBe(0); // none of the above reached the object
  });

  it("passes a stub as an argument: it arrives as a working stub of the same object", async () => {
    const stub = coordinator.get("through", Values);
    const other = coordinator.get("other", Values);
    const before = await other.calls();
    const result = await stub.echoThrough(other, { hello: [1, 2n] });
    expect(result).toEqual({ arrived: "[object DurableObjectStub]", answer: { hello: [1, 2n] } });
    expect(await other.calls()).toBe(before + 1);
    // Nested in a structure, as the same value twice, and sent back: still the same object.
    const [first, second] = (await stub.echo([{ peer: other }, { peer: other }])) as Array<{ peer: DurableObjectStub<Values> }>;
    expect(String(first!.peer)).toBe(String(other));
    expect(first!.peer.id.equals(other.id)).toBe(true);
    expect(first!.peer.name).toBe("other");
    expect(await second!.peer.calls()).toBe(before + 1);
  });

  it("returns stubs and ids from an object as working stubs and ids", async () => {
    const stub = coordinator.get("returns-peers", Values);
    const { stubs, ids, me } = await stub.peers(["p1", "p2"]);
    expect(stubs.map(String)).toEqual(["p1", "p2"].map((n) => String(coordinator.get(n, Values))));
    expect(await stubs[0]!.echo("via returned stub")).toBe("via returned stub");
    expect(await coordinator.get("p1", Values).calls()).toBe(1);
    expect(ids.map((id) => id.toString())).toEqual(["p1", "p2"].map((n) => coordinator.get(n, Values).id.toString()));
    expect(ids.map((id) => id.name)).toEqual(["p1", "p2"]);
    expect(me.equals(stub.id)).toBe(true);
    const returned = (await stub.returnsStub()) as DurableObjectStub<Values>;
    expect(returned.id.equals(coordinator.get("other", Values).id)).toBe(true);
  });

  it("passes a DurableObjectId: it arrives as an id usable with its namespace, and only there", async () => {
    const stub = coordinator.get("ids", Values);
    const target = coordinator.get("id-target", Values);
    await target.echo(1);
    const used = await stub.useId(target.id);
    expect(used).toEqual({ isId: true, hex: target.id.toString(), name: "id-target", mine: false, calls: 1 });
    expect((await stub.useId(stub.id)).mine).toBe(true);
    expect(await stub.wrongNamespace(target.id)).toBe(
      `ERR_BAD_ID: TestCounter.get: ID is not for this Durable Object class: ${target.id.toString()} was made by namespace Values. Pass it to the Values binding's get(), or make the id with this namespace.`,
    );
  });

  it("refuses class instances in both directions, as workerd's DataCloneError", async () => {
    const stub = coordinator.get("instances", Values);
    const sent = await stub.echo({ msg: new Msg("hi") }).catch((e: unknown) => e);
    expect(sent).toMatchObject({ code: "ERR_UNSUPPORTED_TYPE", name: "DataCloneError" });
    expect((sent as Error).message).toBe(
      "Values.echo arguments[0].msg: a Msg instance cannot cross RPC (class instances lose their prototype and methods). Pass a plain object (e.g. { ...value }) and rebuild the instance on the other side.",
    );
    const returned = await stub.returnsInstance().catch((e: unknown) => e);
    expect(returned).toBeInstanceOf(SourdoughError);
    expect(returned).toMatchObject({ code: "ERR_UNSUPPORTED_TYPE", name: "DataCloneError" });
    expect((returned as Error).message).toContain("Values.returnsInstance result.msg: a Msg instance cannot cross RPC");
    expect(await stub.calls()).toBe(0);
  });

  it("copies Error values with their class name in both directions", async () => {
    const stub = coordinator.get("errors", Values);
    class Custom extends Error {
      override name = "Custom";
    }
    expect(await stub.received(new TypeError("t"), new RangeError("r"), new Custom("c"))).toEqual([
      { kind: "TypeError", name: "TypeError", message: "t" },
      { kind: "RangeError", name: "RangeError", message: "r" },
      { kind: "Error", name: "Custom", message: "c" },
    ]);
    const [type, range, validation] = await stub.returnsErrors();
    expect(type).toBeInstanceOf(TypeError);
    expect(range).toBeInstanceOf(RangeError);
    expect(validation).toBeInstanceOf(Error);
    expect([type, range, validation].map((e) => [e?.name, e?.message])).toEqual([
      ["TypeError", "bad type"],
      ["RangeError", "out of range"],
      ["ValidationError", "name must not be empty"],
    ]);
  });

  it("gives a coded error for a value nested 10 000 levels deep, in both directions", async () => {
    const stub = coordinator.get("deep", Values);
    let deep: unknown = 1;
    for (let i = 0; i < 10_000; i++) deep = [deep];
    const sent = await stub.echo(deep).catch((e: unknown) => e);
    expect(sent).toMatchObject({ code: "ERR_UNSUPPORTED_TYPE" });
    expect((sent as Error).message).toContain("Values.echo arguments: the value is nested too deeply to copy");
    const returned = await stub.returnsDeep(10_000).catch((e: unknown) => e);
    expect(returned).toMatchObject({ code: "ERR_UNSUPPORTED_TYPE" });
    expect((returned as Error).message).toContain("Values.returnsDeep result: the value is nested too deeply to copy");
    expect(await stub.echo({ still: "answering" })).toEqual({ still: "answering" });
  });
});
