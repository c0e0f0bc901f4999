// Promise pipelining, counted in frames and writes (issue 14 part 4): `stub.getRoom().post()` leaves
// the caller as two Calls in one write and comes back as two Returns in one write; the returned
// reference and the answer the callee held for it go with one Release, with no Finish, when the
// caller holds that reference only through this result; otherwise the caller sends Finish.
import { afterEach, describe, expect, it } from "vitest";
import { RpcTarget } from "../../runtime/rpc/capabilities.ts";
import { RpcClient } from "../../runtime/rpc/rpc-client.ts";
import { DurableObjectNamespace, withCallOptions } from "../../runtime/rpc/stub.ts";
import { DurableObject } from "../../runtime/object/durable-object.ts";
import { ObjectTable } from "../../runtime/object/object-table.ts";
import { CodecTable } from "../../runtime/rpc/generated.ts";
import { openAlarmIndex } from "../../runtime/storage/alarm-index.ts";
import { memoryPipePair, type Pipe } from "../../runtime/transport/pipe.ts";
import { decodeMessage } from "../../runtime/wire/decode-message.ts";
import { Which, type Message } from "../../runtime/wire/envelope.ts";
import { FrameReader } from "../../runtime/wire/frame-reader.ts";

let disposed = 0;
class Room extends RpcTarget {
  constructor(readonly posts: string[]) {
    super();
  }
  post(text: string): number {
    this.posts.push(text);
    return this.posts.length;
  }
  [Symbol.dispose](): void {
    disposed++;
  }
}

class Rooms extends DurableObject {
  readonly #posts: string[] = [];
  readonly #lobby = new Room(this.#posts);
  getRoom(): Room {
    return new Room(this.#posts);
  }
  /** A new RpcTarget after `ms`. */
  async slowRoom(ms: number): Promise<Room> {
    await new Promise((r) => setTimeout(r, ms));
    return new Room(this.#posts);
  }
  /** The same RpcTarget every time. */
  lobby(): Room {
    return this.#lobby;
  }
  /** An object holding a new RpcTarget after `ms` (not a held answer: the reference is inside). */
  async slowWrapped(ms: number): Promise<{ room: Room }> {
    await new Promise((r) => setTimeout(r, ms));
    return { room: new Room(this.#posts) };
  }
  /** A ReadableStream after `ms`; its source counts cancels. */
  async slowStream(ms: number): Promise<ReadableStream<Uint8Array>> {
    await new Promise((r) => setTimeout(r, ms));
    return new ReadableStream<Uint8Array>({
      pull: (c) => c.enqueue(new Uint8Array(16)),
      cancel: () => void cancelled++,
    });
  }
  /** A new RpcTarget in a result of `bytes` more bytes. */
  bigRoom(bytes: number): { room: Room; big: string } {
    return { room: new Room(this.#posts), big: "x".repeat(bytes) };
  }
}
let cancelled = 0;

/** What one side wrote: one entry per write, the kinds of the frames in it. */
type Writes = string[][];
const KIND: Record<number, string> = { [Which.Call]: "Call", [Which.Return]: "Return", [Which.Exception]: "Exception", [Which.Cancel]: "Cancel", [Which.Control]: "Control", [Which.Release]: "Release", [Which.Finish]: "Finish" };

function describeFrame(m: Message): string {
  if (m.which === Which.Call) return m.promisedAnswer !== 0 ? `Call(on answer ${m.promisedAnswer})` : m.target !== 0 ? `Call(on export ${m.target})` : `Call(${m.method})`;
  if (m.which === Which.Return) return m.heldAnswer ? "Return(held)" : "Return";
  return KIND[m.which] ?? String(m.which);
}

// A pipe that records, per write, the frames written through it.
function counted(pipe: Pipe, writes: Writes): Pipe {
  let batch: string[] = [];
  const reader = new FrameReader((buf, start, end) => void batch.push(describeFrame(decodeMessage(buf, start, end))));
  return {
    write: (bytes) => {
      batch = [];
      reader.push(bytes);
      writes.push(batch);
      pipe.write(bytes);
    },
    end: () => pipe.end(),
    destroy: (error) => pipe.destroy(error),
    attach: (handlers) => pipe.attach(handlers),
  };
}

const settle = () => new Promise((r) => setTimeout(r, 20));

/** An output gate the test opens (RpcClient holds calls until it does). */
function manualGate() {
  let waiting: Array<(error: Error | undefined) => void> = [];
  return {
    afterCommit: (release: (error: Error | undefined) => void) => void waiting.push(release),
    open(): void {
      const now = waiting;
      waiting = [];
      for (const release of now) release(undefined);
    },
  };
}

function setUp(options: { outputGate?: ReturnType<typeof manualGate>; maxCallBytes?: number } = {}) {
  const caller: Writes = [];
  const callee: Writes = [];
  const table = new ObjectTable({
    classes: new Map([["Rooms", Rooms as never]]),
    env: {},
    storageDir: undefined,
    codecs: new CodecTable(),
    idleEvictionMs: 0,
    label: "test",
    alarms: { index: openAlarmIndex(undefined), retryBaseMs: 100, owns: () => true },
    log: () => {},
    ...(options.maxCallBytes === undefined ? {} : { maxCallBytes: options.maxCallBytes }),
  });
  const client = new RpcClient(
    async () => {
      const [mine, theirs] = memoryPipePair();
      table.serve(counted(theirs, callee));
      return counted(mine, caller);
    },
    { peer: "the test table", connectTimeoutMs: 1_000, ...(options.outputGate === undefined ? {} : { outputGate: options.outputGate }) },
  );
  const ns = new DurableObjectNamespace<Rooms>("Rooms", { clientFor: () => client, clusterId: "test" });
  const stub = ns.getByName("a");
  const close = () => {
    client.close();
    table.close();
  };
  return { caller, callee, table, stub, close };
}

let close: (() => void) | undefined;
afterEach(() => {
  close?.();
  close = undefined;
});

describe("promise pipelining on the wire", () => {
  it("sends a pipelined 2-step call as two Calls in one write, answers with two Returns in one write, and lets the answer go with one Release", async () => {
    const t = setUp();
    close = t.close;
    (await t.stub.getRoom())[Symbol.dispose](); // connects and activates the object
    await settle();
    t.caller.length = 0;
    t.callee.length = 0;
    disposed = 0;

    expect(await t.stub.getRoom().post("hi")).toBe(1);
    await settle();
    expect(t.caller[0]).toEqual(["Call(getRoom)", expect.stringMatching(/^Call\(on answer \d+\)$/)]);
    expect(t.callee).toEqual([["Return(held)", "Return"]]);
    // The result was only pipelined on: the caller releases it, and that Release alone lets the
    // callee drop both the export and the answer it held (no Finish).
    expect(t.caller.slice(1)).toEqual([["Release"]]);
    expect(t.caller.flat()).not.toContain("Finish");
    expect(t.table.exportCount).toBe(0);
    expect(t.table.heldAnswerCount).toBe(0);
    expect(disposed).toBe(1);
  });

  it("keeps the answer while the awaited result is held, and lets both go with its Release", async () => {
    const t = setUp();
    close = t.close;
    const p = t.stub.getRoom();
    const [posted, room] = await Promise.all([p.post("one"), p]); // awaited: the result belongs to the caller
    expect(posted).toBe(1);
    await settle();
    expect(t.table.exportCount).toBe(1);
    expect(t.table.heldAnswerCount).toBe(1);
    expect(await room.post("two")).toBe(2);
    room[Symbol.dispose]();
    await settle();
    expect(t.caller.flat().filter((f) => f === "Release" || f === "Finish")).toEqual(["Release"]);
    expect(t.table.exportCount).toBe(0);
    expect(t.table.heldAnswerCount).toBe(0);
  });

  it("sends Finish for an answer whose reference the caller already holds, so held answers do not pile up", async () => {
    const t = setUp();
    close = t.close;
    const first = await t.stub.lobby();
    for (let i = 0; i < 5; i++) (await t.stub.lobby())[Symbol.dispose]();
    await settle();
    // The first result is the caller's only reference: no Finish; each later one is not.
    expect(t.caller.flat().filter((f) => f === "Finish")).toHaveLength(5);
    expect(t.table.heldAnswerCount).toBe(1);
    expect(t.table.exportCount).toBe(1);
    first[Symbol.dispose]();
    await settle();
    expect(t.caller.flat().filter((f) => f === "Release")).toHaveLength(1);
    expect(t.table.exportCount).toBe(0);
    expect(t.table.heldAnswerCount).toBe(0);
  });

  it("releases a reference that arrives after its call was given up on, which also lets the held answer go", async () => {
    const t = setUp();
    close = t.close;
    disposed = 0;
    const hurried = withCallOptions(t.stub, { timeoutMs: 20 });
    await expect(hurried.slowRoom(100)).rejects.toMatchObject({ code: "ERR_DEADLINE_EXCEEDED" });
    await new Promise((r) => setTimeout(r, 150));
    expect(t.caller.flat()).toContain("Release");
    expect(t.caller.flat()).not.toContain("Finish");
    expect(t.table.exportCount).toBe(0);
    expect(t.table.heldAnswerCount).toBe(0);
    expect(disposed).toBe(1);
  });
});

describe("held answers and references under load and failure", () => {
  it("two loops taking and disposing the same RpcTarget concurrently: held answers stay bounded and go back to 0", async () => {
    const t = setUp();
    close = t.close;
    let most = 0;
    let posted = 0;
    const loop = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const room = await t.stub.lobby();
        try {
          if ((await room.post("x")) > 0) posted++;
        } finally {
          room[Symbol.dispose]();
        }
        most = Math.max(most, t.table.heldAnswerCount);
      }
    };
    await Promise.all([loop(300), loop(300), loop(300)]);
    expect(posted).toBe(900);
    // The import is disposed and re-created while the export lives on (the other loops hold it):
    // each re-created import's first Return is not finished, and its Release lets the answer go.
    expect(most).toBeLessThanOrEqual(6);
    await settle();
    expect(t.table.heldAnswerCount).toBe(0);
    expect(t.table.exportCount).toBe(0);
  });

  it("a Finish issued while a call pipelined on its answer waits for the output gate goes after that call", async () => {
    const gate = manualGate();
    const t = setUp({ outputGate: gate });
    close = t.close;
    const warm = t.stub.lobby();
    gate.open();
    const first = await warm; // held: later Returns of the lobby are finished
    const p = t.stub.lobby();
    gate.open(); // p is written
    const pipelined = p.post("pipelined"); // waits for the gate, addressed to p's answer
    await settle(); // p's Return arrives: its Finish must not overtake the pipelined call
    gate.open();
    expect(await pipelined).toBe(1);
    (await p)[Symbol.dispose]();
    await settle();
    const frames = t.caller.flat();
    expect(frames.indexOf("Finish")).toBeGreaterThan(frames.findIndex((f) => f.startsWith("Call(on answer")));
    first[Symbol.dispose]();
    gate.open();
    await settle();
    expect(t.table.heldAnswerCount).toBe(0);
    expect(t.table.exportCount).toBe(0);
  });

  it("a Release issued while a call pipelined on the answer waits for the output gate goes after that call", async () => {
    const gate = manualGate();
    const t = setUp({ outputGate: gate });
    close = t.close;
    const warm = t.stub.getRoom();
    gate.open();
    (await warm)[Symbol.dispose]();
    gate.open();
    await settle();
    const p = t.stub.getRoom();
    gate.open();
    const pipelined = p.post("pipelined");
    await settle();
    (await p)[Symbol.dispose](); // the only reference: its Release would let the answer go
    gate.open();
    expect(await pipelined).toBe(1);
    await settle();
    expect(t.table.heldAnswerCount).toBe(0);
    expect(t.table.exportCount).toBe(0);
  });

  it("references inside a result that arrives after its call was given up on are released (RpcTarget, stream)", async () => {
    const t = setUp();
    close = t.close;
    disposed = 0;
    cancelled = 0;
    const hurried = withCallOptions(t.stub, { timeoutMs: 20 });
    await expect(hurried.slowWrapped(80)).rejects.toMatchObject({ code: "ERR_DEADLINE_EXCEEDED" });
    const abort = new AbortController();
    const aborted = withCallOptions(t.stub, { signal: abort.signal }).slowStream(80);
    abort.abort();
    await expect(aborted).rejects.toMatchObject({ code: "ERR_ABORTED" });
    await new Promise((r) => setTimeout(r, 200));
    expect(t.table.exportCount).toBe(0);
    expect(disposed).toBe(1);
    expect(cancelled).toBe(1); // the stream's source was cancelled, not left open
  });

  it("a result too large for maxCallBytes fails its call and gives back the references it exported", async () => {
    const t = setUp({ maxCallBytes: 4096 });
    close = t.close;
    disposed = 0;
    await expect(t.stub.bigRoom(10_000)).rejects.toMatchObject({ code: "ERR_TOO_LARGE" });
    await settle();
    expect(t.table.exportCount).toBe(0);
    expect(disposed).toBe(1);
    const small = await t.stub.bigRoom(10);
    expect(await small.room.post("fits")).toBeGreaterThan(0);
    expect(t.table.exportCount).toBe(1);
    (small as unknown as Disposable)[Symbol.dispose]();
    await settle();
    expect(t.table.exportCount).toBe(0);
  });

  it("a reference result that fails to be sent fails the calls pipelined on it and holds nothing", async () => {
    const t = setUp({ maxCallBytes: 2 }); // an RpcTarget's encoding is longer than 2 bytes
    close = t.close;
    disposed = 0;
    const p = t.stub.getRoom();
    const pipelined = p.post("x");
    await expect(p).rejects.toMatchObject({ code: "ERR_TOO_LARGE" });
    await expect(pipelined).rejects.toMatchObject({ code: "ERR_TOO_LARGE" });
    await settle();
    expect(t.table.heldAnswerCount).toBe(0);
    expect(t.table.exportCount).toBe(0);
    expect(disposed).toBe(1);
  });
});
