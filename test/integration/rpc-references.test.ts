// Functions and RpcTargets passed by reference, and promise pipelining (issue 14 parts 2 and 4), in
// both modes: real hosts over real sockets, and in-process (hostCount: 0).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode, RpcTarget, type ClusterCoordinator, type RpcHandle } from "sourdough";
import { Rooms } from "../fixtures/rpc-caps.ts";
import { FIXTURES, startCluster, type TestCluster } from "../support/cluster.ts";
import { failOnUnhandledRejections } from "../support/unhandled.ts";

const CAPS_MODULE = new URL("../fixtures/rpc-caps.ts", import.meta.url);

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe.each([
  { mode: "2 host processes", hostCount: 2 },
  { mode: "in-process (hostCount: 0)", hostCount: 0 },
])("references over RPC: $mode", ({ hostCount }) => {
  let cluster: TestCluster;
  let coordinator: ClusterCoordinator;
  failOnUnhandledRejections(30);
  const exportsOf = (name: string) => {
    const stub = coordinator.get(name, Rooms);
    return coordinator.clientFor("Rooms", stub.id.toString()).caps.exportCount;
  };
  beforeAll(async () => {
    cluster = await startCluster({ hostCount, isolatesPerHost: 1, modules: [FIXTURES, CAPS_MODULE], durableObjects: { ROOMS: Rooms } });
    coordinator = cluster.coordinator;
  });
  afterAll(async () => {
    await cluster.close();
  });

  it("a callback passed as an argument is called by the object while the call runs, then released", async () => {
    const stub = coordinator.get("cb", Rooms);
    const seen: number[] = [];
    const result = await stub.callBack(async (x: number) => (seen.push(x), x * 10), 3);
    expect(result).toEqual([0, 10, 20]);
    expect(seen).toEqual([0, 1, 2]);
    await until("the object to release the callback", () => exportsOf("cb") === 0);
  });

  it("a callback that throws: the error reaches the object with name, message and code", async () => {
    const stub = coordinator.get("cb", Rooms);
    const got = await stub.catchFrom(async () => {
      throw Object.assign(new RangeError("out of range"), { code: "E_RANGE" });
    });
    expect(got).toEqual({ name: "RangeError", message: "out of range", code: "E_RANGE" });
  });

  it("a reference not dup()ed is released when the call completes; a dup()ed one lives until disposed", async () => {
    const stub = coordinator.get("keep", Rooms);
    await stub.keep(async (x: unknown) => `dropped ${String(x)}`, false);
    await stub.keep(async (x: unknown) => `kept ${String(x)}`, true);
    const outcomes = await stub.callKept("now");
    expect(outcomes[0]).toMatchObject({ ok: false, code: ErrorCode.REFERENCE_RELEASED });
    expect(outcomes[0]!.message).toMatch(/released.*dup\(\)/);
    expect(outcomes[1]).toEqual({ ok: true, value: "kept now" });
    expect(exportsOf("keep")).toBe(1); // the dup()ed one
    const after = await stub.disposeKept(); // disposes twice, then calls
    expect(after).toMatchObject({ code: ErrorCode.REFERENCE_RELEASED });
    expect(after!.message).toMatch(/called after the reference was released/);
    await until("the caller's export table to empty", () => exportsOf("keep") === 0);
  });

  it("an RpcTarget returned by the object is called by reference; disposing it releases it there", async () => {
    const stub = coordinator.get("rooms", Rooms);
    const before = await stub.liveTargets();
    const room = await stub.getRoom("a");
    expect(await room.post("hi")).toBe(1);
    expect(await room.post("there")).toBe(2);
    expect(await room.name()).toBe("a");
    expect(await stub.posts("a")).toEqual(["hi", "there"]);
    expect(await room.visit(async (name: string) => `visited ${name}`)).toBe("visited a");
    expect(await stub.liveTargets()).toBe(before + 1);
    room[Symbol.dispose]();
    room[Symbol.dispose](); // twice is harmless
    await until("the object to drop the RpcTarget", async () => (await stub.liveTargets()) === before);
    const late = await room.post("late").catch((e: unknown) => e);
    expect(late).toMatchObject({ code: ErrorCode.REFERENCE_RELEASED });
    const noMethod = await (await stub.getRoom("b") as unknown as { nope(): Promise<unknown> }).nope().catch((e: unknown) => e);
    expect(noMethod).toMatchObject({ code: ErrorCode.METHOD_NOT_FOUND });
  });

  it("`using` releases a returned RpcTarget at the end of the block", async () => {
    const stub = coordinator.get("using", Rooms);
    const before = await stub.liveTargets();
    {
      using room = await stub.getRoom("u");
      expect(await room.post("x")).toBe(1);
    }
    await until("the object to drop the RpcTarget", async () => (await stub.liveTargets()) === before);
  });

  it("pipelining: stub.getRoom(name).post(text) sends both calls at once, and chains further", async () => {
    const stub = coordinator.get("pipe", Rooms);
    const before = await stub.liveTargets();
    // Both calls are issued at once: their question ids are taken before anything is awaited.
    const client = coordinator.clientFor("Rooms", stub.id.toString());
    const q0 = client.lastQuestionId;
    const both = stub.getRoom("p").post("one");
    expect(client.lastQuestionId).toBe(q0 + 2);
    const n = await both;
    expect(n).toBe(1);
    expect(await stub.getRoom("p").sibling().post("two")).toBe(2);
    expect(await stub.posts("p")).toEqual(["one", "two"]);
    // A chain whose middle step is slow: the last call waits for it at the callee.
    expect(await stub.getRoom("p").slowSibling(50).post("three")).toBe(3);
    expect(await stub.getRoom("p").slowSibling(20).slowSibling(20).sibling().post("four")).toBe(4);
    // A step of the chain fails: every call pipelined after it gets that failure.
    const room = stub.getRoom("p") as unknown as { slowSibling(ms: number): { nothing(): { post(t: string): Promise<unknown> } } };
    const chainFail = await room.slowSibling(20).nothing().post("x").catch((e: unknown) => e);
    expect(chainFail).toMatchObject({ code: ErrorCode.METHOD_NOT_FOUND });
    expect(await stub.posts("p")).toEqual(["one", "two", "three", "four"]);
    // A pipelined call on a result that is no RpcTarget fails with a clear error.
    const bad = await (stub.count() as unknown as { post(t: string): Promise<unknown> }).post("x").catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(Error);
    expect(String((bad as Error).message)).toMatch(/no such answer|not an RpcTarget/);
    // Pipelined on a failed call: the failure reaches the pipelined call too.
    const failed = await (stub as unknown as { missing(): { post(t: string): Promise<unknown> } }).missing().post("x").catch((e: unknown) => e);
    expect(failed).toMatchObject({ code: ErrorCode.METHOD_NOT_FOUND });
    // Results only pipelined on (never awaited) are released once their pipelined calls settled.
    await until("every RpcTarget made for the pipelines to be released", async () => (await stub.liveTargets()) === before);
    await until("the caller's export table to empty", () => exportsOf("pipe") === 0);
  });

  it("loops taking and disposing the same RpcTarget concurrently, with pipelined calls on it, all succeed and release it at the end", async () => {
    // The caller's import of the lobby is disposed and re-created while the object's export lives on
    // (another loop holds it): each re-created import's first answer is let go by its Release.
    const stub = coordinator.get("lobby", Rooms);
    const drops = await stub.lobbyDrops();
    let ok = 0;
    const loop = async (n: number) => {
      for (let i = 0; i < n; i++) {
        using room = await stub.lobby();
        if ((await room.post("x")) > 0) ok++;
        if ((await stub.lobby().name()) === "lobby") ok++; // pipelined, never awaited: released after
      }
    };
    await Promise.all([loop(150), loop(150), loop(150)]);
    expect(ok).toBe(900);
    await until("the object to drop the lobby once every reference was released", async () => (await stub.lobbyDrops()) > drops);
    await until("the caller's export table to empty", () => exportsOf("lobby") === 0);
  });

  it("an RpcTarget of the caller passed as an argument is called back by reference", async () => {
    class Counter extends RpcTarget {
      n = 0;
      async add(by: number): Promise<number> {
        return (this.n += by);
      }
    }
    const counter = new Counter();
    const stub = coordinator.get("cb", Rooms);
    const got = await stub.callBack(((x: number) => (counter as unknown as { add(n: number): Promise<number> }).add(x)) as (x: number) => Promise<number>, 3);
    expect(got).toEqual([0, 1, 3]);
    expect(counter.n).toBe(3);
  });

  it("a forged export id or held answer is refused with ERR_REFERENCE_RELEASED; the connection survives", async () => {
    const stub = coordinator.get("forged", Rooms);
    const client = coordinator.clientFor("Rooms", stub.id.toString());
    const forged = await client.capWire.call(424242, 0, "post", new Uint8Array([0x90]), "forged export").catch((e: unknown) => e);
    expect(forged).toMatchObject({ code: ErrorCode.REFERENCE_RELEASED });
    const forgedAnswer = await client.capWire.call(0, 999_999, "post", new Uint8Array([0x90]), "forged answer").catch((e: unknown) => e);
    expect(forgedAnswer).toMatchObject({ code: ErrorCode.REFERENCE_RELEASED });
    expect(await stub.count()).toBe(0); // same connection, still serving
  });

  it("the export table per connection is bounded: past the limit, a clear ERR_TOO_MANY_REFERENCES", async () => {
    const stub = coordinator.get("limit", Rooms);
    const caps = coordinator.clientFor("Rooms", stub.id.toString()).caps;
    const max = 10_000;
    const fns = Array.from({ length: max + 1 }, (_, i) => () => i);
    const err = await stub.keep(fns as unknown as () => Promise<unknown>, false).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCode.TOO_MANY_REFERENCES });
    expect((err as Error).message).toMatch(/10000 functions and RpcTargets/);
    expect(caps.exportCount).toBe(0); // the refused call gave its references back
    expect(await stub.count()).toBe(0);
  });
});

describe("a caller holding references dies", () => {
  let cluster: TestCluster;
  let coordinator: ClusterCoordinator;
  beforeAll(async () => {
    cluster = await startCluster({ hostCount: 2, isolatesPerHost: 1, modules: [FIXTURES, CAPS_MODULE], durableObjects: { ROOMS: Rooms } });
    coordinator = cluster.coordinator;
  });
  afterAll(async () => {
    await cluster.close();
  });

  it("kill -9 of the host that passed a callback: the object's calls on it fail with ERR_REFERENCE_RELEASED", async () => {
    // Two objects on different hosts: A lends B a function of its own, B keeps it (dup).
    const names = Array.from({ length: 40 }, (_, i) => `lend-${i}`);
    const pids = await Promise.all(names.map((n) => coordinator.get(n, Rooms).pid()));
    const a = names[0]!;
    const bIndex = pids.findIndex((p) => p !== pids[0]);
    expect(bIndex).toBeGreaterThan(0);
    const b = names[bIndex]!;
    const stubA = coordinator.get(a, Rooms);
    const stubB = coordinator.get(b, Rooms);
    await stubA.lendTo(stubB);
    // A also holds an RpcTarget of B: B's export table has it until A's connection goes.
    const baseline = await stubB.liveTargets();
    expect(await stubA.holdRoomOf(stubB)).toBe(1);
    expect(await stubB.liveTargets()).toBe(baseline + 1);
    const ok = await stubB.callKept("x");
    expect(ok).toEqual([{ ok: true, value: `from ${pids[0]}: x` }]);
    process.kill(pids[0]!, "SIGKILL");
    await until("the object's reference to break", async () => {
      const [outcome] = await stubB.callKept("y");
      return outcome?.ok === false;
    });
    const [outcome] = await stubB.callKept("z");
    expect(outcome).toMatchObject({ ok: false, code: ErrorCode.REFERENCE_RELEASED });
    expect(outcome!.message).toMatch(/closed/);
    expect(await stubB.pid()).toBe(pids[bIndex]); // B's host survived
    // The closed connection released B's exports: the RpcTarget A held was dropped (its dispose ran).
    await until("B to drop the RpcTarget the dead host held", async () => (await stubB.liveTargets()) === baseline);
  });
});
