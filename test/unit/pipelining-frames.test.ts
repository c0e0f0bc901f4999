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
}

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

function setUp() {
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
  });
  const client = new RpcClient(
    async () => {
      const [mine, theirs] = memoryPipePair();
      table.serve(counted(theirs, callee));
      return counted(mine, caller);
    },
    { peer: "the test table", connectTimeoutMs: 1_000 },
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
