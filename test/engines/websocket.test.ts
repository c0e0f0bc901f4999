// One behavioural WebSocket suite on both engines: sourdough (serve(), real host processes) and
// workerd (miniflare, the same classes bundled into a Worker). Clients use the `ws` package and talk
// to test/engines/ws-room.ts (every API call by JSON command) and to the chat example's room.
// Where the engines differ on purpose or by limit, the difference is in DIFFERENCES below and in
// docs/compatibility.md (WebSocket section); everything else must match exactly.
import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ioHandles, isAlive } from "../support/cluster.ts";
import { miniflareSkipReason } from "../support/miniflare.ts";
import { startSourdough, startWorkerd, type WsEngine } from "./ws-engines.ts";
import { TestClient } from "../support/ws-client.ts";

const workerdSkip = miniflareSkipReason();
if (workerdSkip !== undefined) console.log(workerdSkip);

/**
 * What each engine says where they differ, asserted on both sides so a change on either shows here
 * (and goes into docs/compatibility.md, "WebSockets: sourdough and workerd side by side").
 */
const DIFFERENCES = {
  /** Largest serialized attachment: 16 KiB on both (the same limit, different messages). */
  attachmentLimit: { sourdough: 16_384, workerd: 16_384 },
  attachmentTooLarge: {
    workerd: /^Error: A WebSocket 'attachment' cannot be larger than 16384 bytes\.'attachment' was \d+ bytes\.$/,
    sourdough: /^SourdoughError: WebSocket\.serializeAttachment\(\): the value serializes to \d+ bytes, over the limit of 16384 bytes \(16 KiB, Cloudflare's\)\. Keep a small key in the attachment and the rest in storage\.$/,
  },
  closeCode999: {
    workerd: /^InvalidAccessError: Invalid WebSocket close code: 999\.$/,
    sourdough: /^TypeError: WebSocket\.close\(\): code must be 1000 or an integer from 3000 to 4999, got 999\.$/,
  },
  closeReason124Bytes: {
    workerd: /^SyntaxError: WebSocket close reason must not be longer than 123 bytes when UTF-8 encoded\.$/,
    sourdough: /^TypeError: WebSocket\.close\(\): reason must be a string of at most 123 bytes, got .+\.$/,
  },
  elevenTags: {
    workerd: /^HTTP 400: Error: a Hibernatable WebSocket cannot have more than 10 tags$/,
    sourdough: /^HTTP 400: RangeError: WsTestRoom: ctx\.acceptWebSocket\(\): more than 10 distinct tags given; a WebSocket can have at most 10 \(Cloudflare's limit\)\.$/,
  },
  tag257Characters: {
    workerd: /^HTTP 400: Error: "z{257}" is longer than the max tag length \(256 characters\)\.$/,
    sourdough: /^HTTP 400: RangeError: WsTestRoom: ctx\.acceptWebSocket\(\): tag .+ is 257 characters; a tag can have at most 256 \(Cloudflare's limit\)\.$/,
  },
  /** ws.send() of 32 MiB + 1 from the object: workerd (locally) delivers it, sourdough refuses it. */
  sendTooLarge: { workerd: "delivered", sourdough: /^SourdoughError: WebSocket\.send\(\): the message is 33554433 bytes, over the limit of 33554432 bytes \(32 MiB, Cloudflare's\)\. Send it in parts\.$/ },
  /** The close a client gets for a message over 32 MiB: code 1009 on both; workerd adds a reason. */
  messageTooLarge: { workerd: { code: 1009, reason: "Message is too large" }, sourdough: { code: 1009, reason: "" } },
} as const;

const engines: Array<{ name: "sourdough" | "workerd"; start: () => Promise<WsEngine>; skip: string | undefined }> = [
  { name: "sourdough", start: () => startSourdough(), skip: undefined },
  { name: "workerd", start: startWorkerd, skip: workerdSkip },
];

let rooms = 0;
const room = () => `r${++rooms}-${process.pid}`;

for (const { name, start, skip } of engines) {
  describe.skipIf(skip !== undefined)(`WebSockets on ${name}`, () => {
    let engine: WsEngine;
    const clients: TestClient[] = [];
    const connect = async (roomName: string, query = "") => {
      const client = await TestClient.open(`${engine.wsOrigin}/t/${roomName}/ws${query === "" ? "" : `?${query}`}`);
      clients.push(client);
      return client;
    };
    const closes = async (roomName: string) => (await (await fetch(`${engine.origin}/t/${roomName}/closes`)).json()) as Array<{ code: number; reason: string; clean: number; tags: string }>;
    const until = async <T>(probe: () => Promise<T>, ok: (value: T) => boolean, ms = 5000): Promise<T> => {
      const deadline = Date.now() + ms;
      for (;;) {
        const value = await probe();
        if (ok(value) || Date.now() > deadline) return value;
        await new Promise((r) => setTimeout(r, 25));
      }
    };

    let handlesBefore: string[];
    beforeAll(async () => {
      handlesBefore = ioHandles();
      engine = await start();
    });
    afterAll(async () => {
      await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
      const pids = engine?.app?.coordinator.hosts.flatMap((h) => [h.pid, h.standbyPid]).filter((p): p is number => p !== undefined) ?? [];
      await engine?.close();
      // Nothing this suite started is left: host processes, workerd, sockets, temp dirs.
      for (const pid of pids) expect(isAlive(pid), `host pid ${pid} still running`).toBe(false);
      for (const dir of engine?.dirs ?? []) expect(existsSync(dir), `${dir} left behind`).toBe(false);
      await vi.waitFor(() => expect(ioHandles()).toEqual(handlesBefore), { timeout: 5000 });
    });

    it("echoes text and binary frames unchanged", async () => {
      const c = await connect(room());
      c.send(JSON.stringify({ op: "echo", text: "héllo ✓" }));
      expect(await c.next()).toBe("héllo ✓");
      const bytes = Buffer.from([0, 1, 2, 253, 254, 255]);
      c.send(bytes);
      expect(Buffer.compare((await c.nextFrame()) as Buffer, bytes)).toBe(0);
    });

    it("broadcasts to every socket of the room, to a tag's sockets only, and never across rooms", async () => {
      const r = room();
      const a = await connect(r, "tag=red");
      const b = await connect(r, "tag=blue");
      const c = await connect(r, "tag=red&tag=blue");
      const other = await connect(room(), "tag=red");
      a.send(JSON.stringify({ op: "broadcast", text: "all" }));
      expect(await Promise.all([a.next(), b.next(), c.next()])).toEqual(["all", "all", "all"]);
      b.send(JSON.stringify({ op: "broadcast", text: "reds", tag: "red" }));
      expect(await Promise.all([a.next(), c.next()])).toEqual(["reds", "reds"]);
      expect(await b.ask({ op: "count", tag: "red" })).toEqual({ count: 2 });
      expect(await b.ask({ op: "count" })).toEqual({ count: 3 });
      expect(await c.ask({ op: "tags" })).toEqual({ tags: ["red", "blue"] });
      expect(await other.ask({ op: "count" })).toEqual({ count: 1 });
      expect(a.pending + b.pending + c.pending + other.pending).toBe(0);
    });

    it("keeps an attachment per socket, replaces it, and rejects one over the limit", async () => {
      const r = room();
      const a = await connect(r, `attach=${encodeURIComponent(JSON.stringify({ user: "ada", n: [1, 2] }))}`);
      const b = await connect(r);
      expect(await a.ask({ op: "attachment" })).toEqual({ attachment: { user: "ada", n: [1, 2] } });
      expect(await b.ask({ op: "attachment" })).toEqual({ attachment: null });
      expect(await b.ask({ op: "attach", value: { user: "bob", nested: { deep: true } } })).toEqual({ ok: true });
      expect(await b.ask({ op: "attachment" })).toEqual({ attachment: { user: "bob", nested: { deep: true } } });
      const limit = DIFFERENCES.attachmentLimit[name];
      expect(await b.ask({ op: "attach", value: "x".repeat(limit - 100) })).toEqual({ ok: true });
      const tooBig = await b.ask<{ error?: string }>({ op: "attach", value: "x".repeat(limit + 100) });
      expect(tooBig.error).toMatch(DIFFERENCES.attachmentTooLarge[name]);
      expect(await b.ask<{ attachment: string }>({ op: "attachment" })).toEqual({ attachment: "x".repeat(limit - 100) });
    });

    it("answers the auto-response request without the object, and records when", async () => {
      const c = await connect(room());
      expect(await c.ask({ op: "autoResponse" })).toEqual({ request: "ping", response: "pong", timestamp: null });
      const before = Date.now();
      c.send("ping");
      expect(await c.next()).toBe("pong");
      const after = await c.ask<{ timestamp: number }>({ op: "autoResponse" });
      expect(after.timestamp).toBeGreaterThanOrEqual(before - 1000); // workerd's clock is coarse (I/O time)
      expect(after.timestamp).toBeLessThanOrEqual(Date.now() + 1000);
      c.send("ping ");
      expect(await c.next()).toBe("not a command: ping "); // only the exact text is answered
    });

    it("delivers close codes and reasons both ways and reports the client's close to webSocketClose", async () => {
      const r = room();
      const a = await connect(r, "tag=a");
      a.send(JSON.stringify({ op: "close", code: 4000, reason: "server says bye" }));
      expect(await a.closed).toEqual({ code: 4000, reason: "server says bye" });
      const b = await connect(r, "tag=b");
      expect(await b.close(4321, "client says bye")).toEqual({ code: 4321, reason: "client says bye" });
      const recorded = await until(() => closes(r), (rows) => rows.some((row) => row.tags === "b"));
      expect(recorded.find((row) => row.tags === "b")).toEqual({ code: 4321, reason: "client says bye", clean: 1, tags: "b" });
    });

    it("rejects an invalid close code and an over-long reason", async () => {
      const c = await connect(room());
      expect((await c.ask<{ error: string }>({ op: "close", code: 999 })).error).toMatch(DIFFERENCES.closeCode999[name]);
      expect((await c.ask<{ error: string }>({ op: "close", code: 4001, reason: "r".repeat(124) })).error).toMatch(DIFFERENCES.closeReason124Bytes[name]);
      c.send(JSON.stringify({ op: "echo", text: "still open" }));
      expect(await c.next()).toBe("still open");
    });

    it("refuses more than 10 tags and a tag over 256 characters at accept", async () => {
      const r = room();
      const eleven = Array.from({ length: 11 }, (_, i) => `tag=t${i}`).join("&");
      await expect(connect(r, eleven)).rejects.toThrow(DIFFERENCES.elevenTags[name]);
      await expect(connect(r, `tag=${"z".repeat(257)}`)).rejects.toThrow(DIFFERENCES.tag257Characters[name]);
      const ten = await connect(r, Array.from({ length: 10 }, (_, i) => `tag=t${i}`).join("&"));
      expect(await ten.ask({ op: "count" })).toEqual({ count: 1 });
    });

    it("closes a socket that sends a message over 32 MiB with 1009", async () => {
      const c = await connect(room());
      c.send("z".repeat((32 << 20) + 1));
      expect(await c.closed).toEqual(DIFFERENCES.messageTooLarge[name]);
    });

    it("sends a message over 32 MiB from the object as listed in DIFFERENCES", async () => {
      const c = await connect(room());
      c.send(JSON.stringify({ op: "send", bytes: (32 << 20) + 1 }));
      const expected = DIFFERENCES.sendTooLarge[name];
      const reply = await c.next(15_000);
      if (expected === "delivered") expect(reply.length).toBe((32 << 20) + 1);
      else expect((JSON.parse(reply) as { error: string }).error).toMatch(expected);
      c.send(JSON.stringify({ op: "echo", text: "still open" }));
      expect(await c.next()).toBe("still open");
    });

    it("runs the standard (accept + addEventListener) API", async () => {
      const c = await connect(room(), "mode=standard");
      c.send("hi");
      expect(await c.next()).toBe("standard:hi");
      c.send(Buffer.from([7, 8, 9]));
      expect([...((await c.nextFrame()) as Buffer)]).toEqual([7, 8, 9]);
      c.send("close");
      expect(await c.closed).toEqual({ code: 4101, reason: "standard:bye" });
    });

    it("runs the chat room: history, presence, broadcast, direct messages by tag, ping", async () => {
      const r = room();
      const chat = (user: string) => TestClient.open(`${engine.wsOrigin}/room/${r}/ws?user=${user}`).then((c) => (clients.push(c), c));
      const alice = await chat("alice");
      expect(await alice.nextJson()).toEqual({ type: "history", messages: [] });
      expect(await alice.nextJson()).toEqual({ type: "presence", online: ["alice"] });
      alice.send(JSON.stringify({ type: "message", text: "first" }));
      expect(await alice.nextJson()).toMatchObject({ type: "message", id: 1, user: "alice", text: "first" });
      const bob = await chat("bob");
      expect(await bob.nextJson()).toMatchObject({ type: "history", messages: [{ id: 1, user: "alice", text: "first" }] });
      expect(await bob.nextJson()).toEqual({ type: "presence", online: ["alice", "bob"] });
      expect(await alice.nextJson()).toEqual({ type: "join", user: "bob" });
      bob.send(JSON.stringify({ type: "dm", to: "alice", text: "psst" }));
      expect(await alice.nextJson()).toMatchObject({ type: "dm", from: "bob", text: "psst" });
      expect(await bob.nextJson()).toMatchObject({ type: "dm", from: "bob", text: "psst" });
      bob.send("ping");
      expect(await bob.next()).toBe("pong");
      bob.send("{oops");
      expect(await bob.nextJson()).toEqual({ type: "error", message: 'not JSON: "{oops"' });
      await bob.close(1000, "bye");
      expect(await alice.nextJson()).toEqual({ type: "leave", user: "bob" });
      const history = (await (await fetch(`${engine.origin}/room/${r}/history`)).json()) as unknown[];
      expect(history).toHaveLength(1);
      await expect(TestClient.open(`${engine.wsOrigin}/room/${r}/ws?user=${"x".repeat(40)}`)).rejects.toThrow(/HTTP 400: bad \?user=/);
    });
  });
}

describe("serve().close() with WebSocket clients still connected", () => {
  it("closes them with 1001 and returns (it used to wait forever for the upgraded sockets)", async () => {
    const engine = await startSourdough();
    const client = await TestClient.open(`${engine.wsOrigin}/t/closing/ws`);
    const started = Date.now();
    await engine.close();
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(await client.closed).toEqual({ code: 1001, reason: "server shutting down" });
  });
});
