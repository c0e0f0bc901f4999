// The isolate's WebSocket registry (runtime/websocket/object-sockets.ts) without processes: what it
// writes to the gateway's connection, when (output gate), and the hibernation API's rules.
import { describe, expect, it } from "vitest";
import { WebSocketPair, WebSocketRequestResponsePair, type WebSocket } from "../../runtime/websocket/web-socket.ts";
import { ObjectSockets } from "../../runtime/websocket/object-sockets.ts";
import type { FrameConnection } from "../../runtime/transport/frame-connection.ts";
import { decodePayload, encodePayload } from "../../runtime/wire/payload.ts";

const ROOM = { namespace: "Room", objectId: "a".repeat(64), name: "r" };

function setup(dirty: { value: boolean }) {
  const written: Array<{ method: string; value: unknown }> = [];
  const releases: Array<(error: Error | undefined) => void> = [];
  const conn = {
    closed: false,
    writer: { writeCall: (_q: number, _k: number, _m: number, _ns: string, _id: string, method: string, payload: Uint8Array) => written.push({ method, value: decodePayload(payload, "test") }) },
    flushSoon: () => {},
  } as unknown as FrameConnection;
  const sockets = new ObjectSockets({ holdsOutput: () => dirty.value, afterCommit: (release) => releases.push(release), currentEvent: () => undefined });
  const accept = (tags?: string[]) => {
    const pair = new WebSocketPair();
    sockets.acceptWebSocket(ROOM, pair[1], tags);
    const link = sockets.link(pair[0], conn, ROOM, "Room.fetch") as { id: string; early: unknown[] };
    return { server: pair[1] as WebSocket, link };
  };
  return { sockets, written, releases, accept };
}

describe("ObjectSockets", () => {
  it("carries sends made before the 101 inside it, and writes later ones as operations", async () => {
    const { sockets, written } = setup({ value: false });
    const pair = new WebSocketPair();
    sockets.acceptWebSocket(ROOM, pair[1], ["a"]);
    pair[1].send("early");
    const conn = { closed: false, writer: { writeCall: (...a: unknown[]) => written.push({ method: a[5] as string, value: decodePayload(a[6] as Uint8Array, "t") }) }, flushSoon: () => {} } as unknown as FrameConnection;
    const link = sockets.link(pair[0], conn, ROOM, "Room.fetch") as { id: string; early: unknown[]; tags: string[] };
    expect(link.early).toEqual(["early"]);
    expect(link.tags).toEqual(["a"]);
    pair[1].send("later");
    await Promise.resolve();
    expect(written).toEqual([{ method: "send", value: { s: link.id, d: "later" } }]);
  });

  it("holds what an object sends after uncommitted writes until the commit (output gate), and drops it if the commit fails", async () => {
    const dirty = { value: true };
    const { written, releases, accept } = setup(dirty);
    const a = accept();
    a.server.send("after a write");
    await Promise.resolve();
    expect(written).toEqual([]); // not observable before the commit
    dirty.value = false;
    releases.shift()!(undefined);
    expect(written).toEqual([{ method: "send", value: { s: a.link.id, d: "after a write" } }]);
    dirty.value = true;
    a.server.send("lost with its writes");
    await Promise.resolve();
    releases.shift()!(new Error("disk full"));
    expect(written).toHaveLength(1);
  });

  it("sends one operation for a broadcast of one message to many sockets", async () => {
    const { sockets, written, accept } = setup({ value: false });
    const ids = [accept(["x"]), accept(["x"]), accept(["y"])].map((s) => s.link.id);
    for (const ws of sockets.getWebSockets(ROOM)) ws.send("hello");
    await Promise.resolve();
    expect(written).toEqual([{ method: "send", value: { m: ids, d: "hello" } }]);
    expect(sockets.getWebSockets(ROOM, "x")).toHaveLength(2);
  });

  it("applies workerd's limits and rules with clear errors", () => {
    const { sockets, accept } = setup({ value: false });
    const pair = new WebSocketPair();
    expect(() => sockets.acceptWebSocket(ROOM, pair[1], Array.from({ length: 11 }, (_, i) => `t${i}`))).toThrow("Room: ctx.acceptWebSocket(): more than 10 distinct tags given; a WebSocket can have at most 10 (Cloudflare's limit).");
    expect(() => sockets.acceptWebSocket(ROOM, pair[1], ["x".repeat(257)])).toThrow(/is 257 characters; a tag can have at most 256/);
    sockets.acceptWebSocket(ROOM, pair[1], ["dup", "dup", "other"]);
    expect(sockets.getTags(ROOM, pair[1])).toEqual(["dup", "other"]); // duplicates ignored, as workerd
    expect(() => sockets.acceptWebSocket(ROOM, {}, [])).toThrow("Room: ctx.acceptWebSocket(): expected a WebSocket from new WebSocketPair(), got an object.");
    expect(() => sockets.setWebSocketAutoResponse(ROOM, new WebSocketRequestResponsePair("p".repeat(2049), "q"))).toThrow(/the request is 2049 bytes; it can be at most 2048/);
    expect(() => sockets.setHibernatableWebSocketEventTimeout(ROOM, 604_800_001)).toThrow(RangeError);
    sockets.setHibernatableWebSocketEventTimeout(ROOM, 5000);
    expect(sockets.getHibernatableWebSocketEventTimeout(ROOM)).toBe(5000);
    sockets.setHibernatableWebSocketEventTimeout(ROOM, 0);
    expect(sockets.getHibernatableWebSocketEventTimeout(ROOM)).toBeNull();
    const { server } = accept();
    expect(() => server.serializeAttachment("x".repeat(17_000))).toThrow(/over the limit of 16384 bytes/);
    expect(() => server.close(1001)).toThrow(/code must be 1000 or an integer from 3000 to 4999, got 1001/);
    server.close(1000);
    expect(() => server.send("late")).toThrow(/the WebSocket is closed or closing/);
    const unaccepted = new WebSocketPair()[1];
    expect(() => unaccepted.send("x")).toThrow("WebSocket.send(): accept the WebSocket first (ws.accept() or this.ctx.acceptWebSocket(ws)).");
  });

  it("ends a handler that runs past setHibernatableWebSocketEventTimeout with ERR_DEADLINE_EXCEEDED", async () => {
    const { sockets, accept } = setup({ value: false });
    const { link } = accept();
    const never = { webSocketMessage: () => new Promise(() => {}) };
    const quick = { webSocketMessage: async (_ws: unknown, m: unknown) => m };
    const event = { s: link.id, d: "hi" };
    expect(await sockets.dispatch(ROOM, "webSocketMessage", event, quick)).toBe("hi");
    sockets.setHibernatableWebSocketEventTimeout(ROOM, 30);
    await expect(sockets.dispatch(ROOM, "webSocketMessage", event, never)).rejects.toMatchObject({ code: "ERR_DEADLINE_EXCEEDED", message: expect.stringContaining("Room.webSocketMessage: the handler ran longer than 30 ms (setHibernatableWebSocketEventTimeout)") });
  });

  it("admits gateway events in stream order: a re-sent one is not run twice, one ahead of a gap is refused (retryable)", () => {
    const { sockets, accept } = setup({ value: false });
    const { link } = accept();
    const event = (q: number, g = 7) => encodePayload({ s: link.id, d: `m${q}`, g, q }, "test");
    expect(sockets.admit(ROOM, "webSocketMessage", event(0))).toMatchObject({ d: "m0" });
    expect(sockets.admit(ROOM, "webSocketMessage", event(1))).toMatchObject({ d: "m1" });
    expect(sockets.admit(ROOM, "webSocketMessage", event(1))).toBeUndefined(); // already ran here
    expect(() => sockets.admit(ROOM, "webSocketMessage", event(3))).toThrow(expect.objectContaining({ code: "ERR_HOST_UNAVAILABLE", retryable: true, message: "Room.webSocketMessage: WebSocket event 3 arrived before event 2; the gateway re-sends them in order." }));
    expect(sockets.admit(ROOM, "webSocketMessage", event(2))).toMatchObject({ d: "m2" });
    // A new gateway stream (another generation) starts where it starts.
    expect(sockets.admit(ROOM, "webSocketMessage", event(0, 8))).toMatchObject({ d: "m0" });
  });

  it("refuses a hibernatable socket past 32 768 per object", () => {
    const { sockets } = setup({ value: false });
    for (let i = 0; i < 32_768; i++) sockets.acceptWebSocket(ROOM, new WebSocketPair()[1], undefined);
    expect(() => sockets.acceptWebSocket(ROOM, new WebSocketPair()[1], undefined)).toThrow("Room: ctx.acceptWebSocket(): this object already holds 32768 hibernatable WebSockets (Cloudflare's limit per object). Close some, or spread clients over more objects.");
  });

  it("drops a socket accepted in an event that ended without returning it in a 101", () => {
    const event = {};
    const sockets = new ObjectSockets({ holdsOutput: () => false, afterCommit: () => {}, currentEvent: () => event });
    const pair = new WebSocketPair();
    sockets.acceptWebSocket(ROOM, pair[1], undefined);
    expect(sockets.getWebSockets(ROOM)).toHaveLength(1);
    sockets.eventEnded(`${ROOM.namespace}:${ROOM.objectId}`, {}); // another event: no effect
    expect(sockets.getWebSockets(ROOM)).toHaveLength(1);
    sockets.eventEnded(`${ROOM.namespace}:${ROOM.objectId}`, event);
    expect(sockets.getWebSockets(ROOM)).toEqual([]);
    expect(pair[1].readyState).toBe(3);
  });
});
