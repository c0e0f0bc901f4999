// The export/import tables of one connection side (runtime/rpc/capabilities.ts) against a recording
// wire: ids, reference counts, Release, dup/dispose, the limit, and what a connection's close does.
import { describe, expect, it } from "vitest";
import { CapSession, RpcTarget, decodeWithSession, encodeWithSession, type CapWire, type RpcHandle } from "../../runtime/rpc/capabilities.ts";
import { decodePayload, encodePayload } from "../../runtime/wire/payload.ts";
import { ErrorCode } from "../../runtime/errors.ts";

function recordingWire(): CapWire & { calls: unknown[][]; releases: Array<[number, number]> } {
  const calls: unknown[][] = [];
  const releases: Array<[number, number]> = [];
  return {
    peer: "the test peer",
    lastQuestionId: 0,
    calls,
    releases,
    call: async (target, promisedAnswer, method) => (calls.push([target, promisedAnswer, method]), "answered"),
    release: (id, count) => void releases.push([id, count]),
    canPipeline: () => false,
  };
}

class Counter extends RpcTarget {
  disposed = 0;
  add(n: number): number {
    return n + 1;
  }
  [Symbol.dispose](): void {
    this.disposed++;
  }
}

describe("CapSession", () => {
  it("exports a value once per connection, counts its references, drops it when all are released", () => {
    const session = new CapSession(recordingWire());
    const counter = new Counter();
    const fn = () => 1;
    const a = session.exportValue(counter, undefined);
    const b = session.exportValue(fn, undefined);
    expect(session.exportValue(counter, undefined)).toBe(a);
    expect(a).not.toBe(b);
    expect(session.exportCount).toBe(2);
    session.releaseExport(a, 1);
    expect(counter.disposed).toBe(0);
    session.releaseExport(a, 1);
    expect(counter.disposed).toBe(1); // Cloudflare: the RpcTarget's dispose runs when the last stub goes
    session.releaseExport(a, 5); // unknown now: ignored
    expect(session.exportCount).toBe(1);
    expect(session.resolveCall(b, "", "test").fn).toBe(fn);
    expect(() => session.resolveCall(a, "add", "test")).toThrow(expect.objectContaining({ code: ErrorCode.REFERENCE_RELEASED }));
    expect(() => session.resolveCall(999, "add", "test")).toThrow(/does not exist/);
  });

  it("exposes an RpcTarget's prototype methods only", () => {
    const session = new CapSession(recordingWire());
    const counter = Object.assign(new Counter(), { own: () => 2 });
    const id = session.exportValue(counter, undefined);
    expect(session.resolveCall(id, "add", "t").fn).toBe(Counter.prototype.add);
    for (const name of ["own", "constructor", "toString", "__proto__", "dup", "", "nope"]) {
      expect(() => session.resolveCall(id, name, "t"), name).toThrow(expect.objectContaining({ code: ErrorCode.METHOD_NOT_FOUND }));
    }
  });

  it("bounds the export table with ERR_TOO_MANY_REFERENCES", () => {
    const session = new CapSession(recordingWire(), 3);
    for (let i = 0; i < 3; i++) session.exportValue(() => i, undefined);
    expect(() => session.exportValue(() => 4, undefined)).toThrow(expect.objectContaining({ code: ErrorCode.TOO_MANY_REFERENCES }));
  });

  it("imports: dup() adds a handle; one Release with the peer's count once every handle is disposed; twice is harmless", async () => {
    const wire = recordingWire();
    const session = new CapSession(wire);
    const h1 = session.importRef(7);
    const h2 = session.importRef(7); // the peer sent it twice
    const h3 = h1.dup();
    expect(session.importCount).toBe(1);
    expect(await (h1 as unknown as { add(n: number): Promise<unknown> }).add(1)).toBe("answered");
    expect(wire.calls).toEqual([[7, 0, "add"]]);
    h1[Symbol.dispose]();
    h1[Symbol.dispose]();
    h2[Symbol.dispose]();
    expect(wire.releases).toEqual([]);
    h3[Symbol.dispose]();
    expect(wire.releases).toEqual([[7, 2]]);
    expect(session.importCount).toBe(0);
    await expect((h3 as unknown as () => Promise<unknown>)()).rejects.toMatchObject({ code: ErrorCode.REFERENCE_RELEASED });
  });

  it("close() drops every export (dispose runs) and breaks every import with a reason", async () => {
    const session = new CapSession(recordingWire());
    const counter = new Counter();
    session.exportValue(counter, undefined);
    const handle = session.importRef(3) as unknown as () => Promise<unknown>;
    session.close("the connection closed");
    expect(session.exportCount).toBe(0);
    expect(counter.disposed).toBe(1);
    await expect(handle()).rejects.toThrow(/the connection closed/);
    expect(() => session.exportValue(() => 1, undefined)).toThrow(expect.objectContaining({ code: ErrorCode.REFERENCE_RELEASED }));
  });

  it("references cross a payload only within a session: encoded as export ids, decoded as handles", () => {
    const sender = new CapSession(recordingWire());
    const receiver = new CapSession(recordingWire());
    const fn = () => 1;
    const { value: bytes, exported } = encodeWithSession(sender, undefined, () => encodePayload([fn, { nested: new Counter() }], "args"));
    expect(exported).toBe(2);
    const { value, imported } = decodeWithSession(receiver, () => decodePayload(bytes, "args"));
    expect(imported).toHaveLength(2);
    expect(typeof (value as unknown[])[0]).toBe("function");
    expect(receiver.importCount).toBe(2);
    expect(() => encodePayload([fn], "outside a call")).toThrow(/function fn cannot cross RPC/);
    // A failed encode gives back the references it took.
    expect(() => encodeWithSession(sender, undefined, () => encodePayload([() => 2, Symbol("no")], "args"))).toThrow();
    expect(sender.exportCount).toBe(2);
    for (const h of imported as RpcHandle[]) h[Symbol.dispose]();
  });

  it("a held answer goes when the peer's Release covers the Return that carried it, counted in written sends", () => {
    const dropped: number[] = [];
    const session = new CapSession(recordingWire(), undefined, (q) => void dropped.push(q));
    const room = new Counter();
    // Three sends of the same export: Return 10 (held), a plain send, Return 11 (held).
    const id = session.exportValue(room, undefined);
    session.wrote([id], 10, room);
    session.exportValue(room, undefined);
    session.wrote([id]);
    session.exportValue(room, undefined);
    session.wrote([id], 11, room);
    expect(session.heldAnswerCount).toBe(2);
    session.releaseExport(id, 1); // the peer received and dropped the first send
    expect(dropped).toEqual([10]);
    session.releaseExport(id, 1);
    expect(dropped).toEqual([10]); // the plain send: nothing held in it
    expect(session.exportCount).toBe(1);
    // A fourth send encoded but not yet written does not count: the last Release drops the answer
    // of the third send, the export lives for the fourth.
    session.exportValue(room, undefined);
    session.releaseExport(id, 1);
    expect(dropped).toEqual([10, 11]);
    expect(session.heldAnswerCount).toBe(0);
    expect(session.exportCount).toBe(1);
    session.unsent([id]); // the fourth was never sent: its reference goes back
    expect(session.exportCount).toBe(0);
    expect(room.disposed).toBe(1);
  });

  it("Finish (unholdAnswer) lets one held answer go; dropping the export lets the rest go", () => {
    const dropped: number[] = [];
    const session = new CapSession(recordingWire(), undefined, (q) => void dropped.push(q));
    const fn = () => 1;
    const id = session.exportValue(fn, undefined);
    session.exportValue(fn, undefined);
    session.wrote([id, id], 5, fn); // one payload carrying it twice: only the first is the answer
    session.exportValue(fn, undefined);
    session.wrote([id], 6, fn);
    session.unholdAnswer(fn, 5);
    expect(session.heldAnswerCount).toBe(1);
    session.releaseExport(id, 3);
    expect(dropped).toEqual([6]);
    expect(session.exportCount).toBe(0);
  });

  it("handles share one Proxy target, so freezing or changing one is refused and the others keep working", async () => {
    const session = new CapSession(recordingWire());
    const h1 = session.importRef(7) as unknown as Record<string, () => Promise<unknown>>;
    const h2 = session.importRef(7) as unknown as Record<string, () => Promise<unknown>>;
    expect(() => Object.freeze(h1)).toThrow(TypeError);
    expect(() => Object.freeze(h1)).toThrow(/cannot be frozen.*RPC stub/);
    expect(() => Object.seal(h1)).toThrow(TypeError);
    expect(() => Object.preventExtensions(h1)).toThrow(TypeError);
    expect(() => Object.defineProperty(h1, "x", { value: 1 })).toThrow(/cannot define property x/);
    expect(() => delete (h1 as Record<string, unknown>)["name"]).toThrow(/cannot delete property name/);
    expect(() => Object.setPrototypeOf(h1, null)).toThrow(/cannot change its prototype/);
    expect(Object.isFrozen(h2)).toBe(false);
    expect(Object.isExtensible(h2)).toBe(true);
    expect(await h2.name!()).toBe("answered");
    expect(await h1.name!()).toBe("answered");
  });
});
