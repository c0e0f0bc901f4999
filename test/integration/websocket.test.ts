// WebSockets through serve(): real host processes, real sockets (the `ws` package as the client), real
// SQLite files. The client's socket is held by serve()'s process; these tests check that it outlives
// eviction and a kill -9 of the owning host, and that every bound and misuse has a clear outcome.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serve, type ServeHandle, type ServeOptions } from "sourdough";
import { WsRoom, worker } from "../fixtures/ws-room.ts";
import { isAlive, openFds } from "../support/cluster.ts";
import { TestClient } from "../support/ws-client.ts";

const ROOM_MODULE = new URL("../fixtures/ws-room.ts", import.meta.url);
const IDLE_MS = 300;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

interface App {
  app: ServeHandle;
  open(query: string): Promise<TestClient>;
  room(name: string): ReturnType<ServeHandle["coordinator"]["get"]> & WsRoomStub;
  close(): Promise<void>;
}
type WsRoomStub = { announce(text: string): Promise<number>; activations(): Promise<number>; lastClose(): Promise<unknown>; read(key: string): Promise<unknown>; socketCount(): Promise<number>; pid(): Promise<number> };

async function start(options: Partial<ServeOptions> = {}): Promise<App> {
  const fds = openFds();
  const storageDir = mkdtempSync(path.join(os.tmpdir(), "sourdough-ws-"));
  const app = serve(worker as never, { durableObjects: { ROOM: WsRoom }, modules: [ROOM_MODULE], hostCount: 2, isolatesPerHost: 1, idleEvictionMs: IDLE_MS, storageDir, output: () => {}, ...options });
  await app.ready;
  const clients: TestClient[] = [];
  const base = app.url.replace("http://", "ws://");
  return {
    app,
    async open(query) {
      const client = await TestClient.open(`${base}/?${query}`);
      clients.push(client);
      return client;
    },
    room: (name) => app.coordinator.get(name, WsRoom) as never,
    async close() {
      for (const c of clients) c.close();
      const pids = app.coordinator.hosts.flatMap((h) => [h.pid, h.standbyPid]).filter((p): p is number => p !== undefined);
      const runDir = app.coordinator.runDir;
      await app.close();
      for (const pid of pids) await until(`host ${pid} to exit`, () => !isAlive(pid));
      if (runDir !== undefined) await until("the run directory to go", async () => !(await import("node:fs")).existsSync(runDir));
      await until("file descriptors to be released", () => openFds() <= fds, 5_000);
      rmSync(storageDir, { recursive: true, force: true });
    },
  };
}

describe("WebSockets through serve() on 2 hosts (hibernation API)", () => {
  let t: App;
  beforeAll(async () => {
    t = await start({ webSockets: { maxBufferedBytes: 1024 * 1024 } });
  });
  afterAll(async () => {
    await t.close();
  });

  it("carries messages both ways and broadcasts to every socket of the room", async () => {
    const users = ["u0", "u1", "u2", "u3", "u4"];
    const clients = await Promise.all(users.map((u) => t.open(`room=b1&user=${u}`)));
    for (const [i, c] of clients.entries()) expect(await c.next()).toBe(`welcome ${users[i]}`);
    clients[0]!.send("broadcast:hello all");
    for (const c of clients) expect(await c.next()).toBe("u0: hello all");
    clients[3]!.send("plain");
    expect(await clients[3]!.next()).toBe("u3 said plain");
    clients[1]!.send(new Uint8Array([1, 2, 3]));
    expect(await clients[1]!.nextFrame()).toEqual(Buffer.from([3, 2, 1]));
    expect(await t.room("b1").socketCount()).toBe(5);
  });

  it("keeps tags and attachments, filters getWebSockets by tag, and refuses an attachment over 16 KiB", async () => {
    const red = await t.open("room=tags&user=ann&tag=red");
    const blue = await t.open("room=tags&user=bo&tag=blue&tag=red");
    const green = await t.open("room=tags&user=cy&tag=green");
    for (const c of [red, blue, green]) await c.next();
    green.send("to-tag:red");
    expect(await red.next()).toBe("to red from cy");
    expect(await blue.next()).toBe("to red from cy");
    red.send("attach:hi");
    expect(await red.next()).toBe("attached");
    green.send("who");
    expect(JSON.parse(await green.next())).toEqual([
      { tags: ["ann", "red"], attachment: { user: "ann", joined: 1, note: "hi" } },
      { tags: ["bo", "blue", "red"], attachment: { user: "bo", joined: 1 } },
      { tags: ["cy", "green"], attachment: { user: "cy", joined: 1 } },
    ]);
    red.send("attach-big");
    expect(await red.next()).toMatch(/^error: WebSocket.serializeAttachment\(\): the value serializes to \d+ bytes, over the limit of 16384 bytes/);
  });

  it("answers the auto-response in serve()'s process without waking the evicted object", async () => {
    const c = await t.open("room=auto&user=al");
    expect(await c.next()).toBe("welcome al");
    await sleep(IDLE_MS * 3); // evicted (the sweep runs every IDLE_MS / 2)
    for (let i = 0; i < 3; i++) {
      c.send("ping");
      expect(await c.next()).toBe("pong");
    }
    await sleep(IDLE_MS * 3);
    // This call activates it: a second activation only. Had a ping woken it, this would be the third.
    expect(await t.room("auto").activations()).toBe(2);
    c.send("auto-ts");
    const at = Number((await c.next()).slice("auto ".length));
    expect(Date.now() - at).toBeLessThan(10_000);
  });

  it("evicts an object holding only hibernated sockets; the next message re-activates it with sockets, tags and attachments intact", async () => {
    const a = await t.open("room=evict&user=alice&tag=x");
    const b = await t.open("room=evict&user=bob");
    await a.next();
    await b.next();
    await sleep(IDLE_MS * 3);
    a.send("activation");
    expect(await a.next()).toBe("activation 2"); // the constructor ran again
    a.send("who");
    expect(JSON.parse(await a.next())).toEqual([
      { tags: ["alice", "x"], attachment: { user: "alice", joined: 1 } },
      { tags: ["bob"], attachment: { user: "bob", joined: 1 } },
    ]);
    a.send("broadcast:still here");
    expect(await b.next()).toBe("alice: still here");
  });

  it("keeps clients connected through kill -9 of the owning host; the next message reaches the new instance", async () => {
    const a = await t.open("room=kill&user=alice");
    const b = await t.open("room=kill&user=bob");
    await a.next();
    await b.next();
    const pid = await t.room("kill").pid();
    process.kill(pid, "SIGKILL");
    a.send("broadcast:after the kill");
    expect(await b.next(15_000)).toBe("alice: after the kill");
    expect(await a.next()).toBe("alice: after the kill");
    a.send("activation");
    expect(await a.next()).toBe("activation 2");
    expect(await t.room("kill").pid()).not.toBe(pid);
    expect(a.ws.readyState).toBe(a.ws.OPEN);
    b.send("who");
    expect(JSON.parse(await b.next()).map((s: { tags: string[] }) => s.tags[0])).toEqual(["alice", "bob"]);
  });

  it("delivers every message in order across a kill -9 of the host (at least once: first occurrences in order)", async () => {
    const c = await t.open("room=order&user=o");
    await c.next();
    const pid = await t.room("order").pid();
    for (let i = 0; i < 10; i++) c.send(`order:${i}`);
    process.kill(pid, "SIGKILL");
    for (let i = 10; i < 30; i++) c.send(`order:${i}`);
    c.send("activation");
    expect(Number((await c.next(15_000)).slice("activation ".length))).toBeGreaterThanOrEqual(2); // a new instance
    const seen = (await t.room("order").read("order")) as number[];
    const first = seen.filter((n, i) => seen.indexOf(n) === i);
    expect(first).toEqual(Array.from({ length: 30 }, (_, i) => i));
  });

  it("counts messages as activity: an object receiving them is not evicted", async () => {
    const c = await t.open("room=busy&user=b");
    await c.next();
    for (let i = 0; i < 8; i++) {
      await sleep(IDLE_MS / 3);
      c.send("activation");
      expect(await c.next()).toBe("activation 1");
    }
  });

  it("tells a restarted host which sockets its objects hold before anything else reaches it", async () => {
    const a = await t.open("room=resync&user=alice&tag=t1");
    const b = await t.open("room=resync&user=bob");
    await a.next();
    await b.next();
    const room = t.room("resync");
    const pid = await room.pid();
    process.kill(pid, "SIGKILL");
    await until("the host to restart", () => t.app.coordinator.hosts.some((h) => h.pid !== pid && h.state === "ready") && !isAlive(pid));
    // An RPC, not a WebSocket message, activates the new instance: getWebSockets() already has both,
    // and what it sends reaches them.
    expect(await room.socketCount()).toBe(2);
    expect(await room.announce("back")).toBe(2);
    expect(await a.next()).toBe("announce: back");
    expect(await b.next()).toBe("announce: back");
    b.send("who");
    expect(JSON.parse(await b.next())).toEqual([
      { tags: ["alice", "t1"], attachment: { user: "alice", joined: 1 } },
      { tags: ["bob"], attachment: { user: "bob", joined: 1 } },
    ]);
  });

  it("closes a client that stops reading once 1 MiB is buffered for it, with 1008 and a reason", async () => {
    const slow = await t.open("room=slow&user=slow");
    await slow.next();
    const socket = (slow.ws as unknown as { _socket: import("node:net").Socket })._socket;
    socket.pause();
    slow.send("flood:200,65536"); // 12.5 MiB, far over the bound
    await sleep(1000);
    socket.resume();
    const closed = await slow.closed;
    expect(closed.code).toBe(1008);
    expect(closed.reason).toMatch(/^sourdough: client too slow: \d+ bytes unread$/);
    expect(slow.received.length).toBeLessThan(100);
    await until("the object to hear of the close", async () => ((await t.room("slow").lastClose()) as { user?: string } | null)?.user === "slow");
  });

  it("lets the object close a socket with its code and reason, and tells webSocketClose when the client closes", async () => {
    const c = await t.open("room=closing&user=cl");
    await c.next();
    c.send("close:see you");
    expect(await c.closed).toEqual({ code: 4000, reason: "see you" });
    const d = await t.open("room=closing&user=dd");
    await d.next();
    d.ws.close(3001, "leaving");
    await until("webSocketClose", async () => ((await t.room("closing").lastClose()) as { user?: string } | null)?.user === "dd");
    expect(await t.room("closing").lastClose()).toEqual({ code: 3001, reason: "leaving", wasClean: true, user: "dd" });
  });

  it("sends the object's 101 headers to the client; the object's Sec-WebSocket-Protocol picks the subprotocol", async () => {
    const base = t.app.url.replace("http://", "ws://");
    const chosen = await TestClient.open(`${base}/?room=proto&user=p&protocol=chat.v2`, ["chat.v1", "chat.v2"]);
    expect(chosen.ws.protocol).toBe("chat.v2");
    expect(chosen.headers["x-room"]).toBe("proto");
    // The object named none: no Sec-WebSocket-Protocol, which a client that offered some refuses (as browsers do).
    await expect(TestClient.open(`${base}/?room=proto&user=q`, ["chat.v1"])).rejects.toThrow("Server sent no subprotocol");
    chosen.close();
  });

  it("tells webSocketError, then webSocketClose, when a client breaks the protocol (invalid UTF-8: 1007)", async () => {
    const c = await t.open("room=broken&user=br");
    await c.next();
    // A masked text frame whose payload is not UTF-8, written under the client library.
    (c.ws as unknown as { _socket: import("node:net").Socket })._socket.write(Buffer.from([0x81, 0x82, 0, 0, 0, 0, 0xff, 0xfe]));
    await until("webSocketClose", async () => ((await t.room("broken").lastClose()) as { user?: string } | null)?.user === "br");
    expect(await t.room("broken").read("lastError")).toEqual({ message: expect.stringMatching(/UTF-8/), user: "br" });
    expect(await t.room("broken").lastClose()).toMatchObject({ code: 1006, wasClean: false });
  });

  it("refuses misuse with clear errors: accept twice, too many tags, send after close, 101 without an accepted socket or without a webSocket, handlers over RPC", async () => {
    const c = await t.open("room=misuse&user=m");
    await c.next();
    c.send("accept-twice");
    expect(await c.next()).toBe("error: WsRoom: ctx.acceptWebSocket(): this WebSocket was already accepted (with ctx.acceptWebSocket()). Accept each WebSocket once.");
    c.send("too-many-tags");
    expect(await c.next()).toBe("error: WsRoom: ctx.acceptWebSocket(): more than 10 distinct tags given; a WebSocket can have at most 10 (Cloudflare's limit).");
    c.send("send-closed");
    await c.closed;
    await until("the error to be stored", async () => (await t.room("misuse").read("sendClosedError")) !== null);
    expect(await t.room("misuse").read("sendClosedError")).toMatch(/^WebSocket.send\(\): the WebSocket is closed or closing/);
    const base = t.app.url.replace("http://", "ws://");
    await expect(TestClient.open(`${base}/?room=misuse&bad=no-accept`)).rejects.toThrow(/^HTTP 500: worker.fetch threw TypeError: WsRoom.fetch: accept the server end before returning the 101/);
    await expect(TestClient.open(`${base}/?room=misuse&bad=no-socket`)).rejects.toThrow(/^HTTP 500: worker.fetch threw RangeError: Response: status 101 needs a webSocket/);
    // Upgrade without Connection: upgrade is no upgrade for node:http: the object's 101 cannot be carried.
    const plain = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      http.get(`${t.app.url}/?room=misuse`, { headers: { upgrade: "websocket" } }, (res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += c.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      }).on("error", reject);
    });
    expect(plain).toEqual({ status: 500, body: "worker.fetch returned status 101 to a request without Upgrade: websocket. Forward only upgrade requests to a WebSocket object.\n" });
    const stub = t.room("misuse") as unknown as { webSocketMessage(): Promise<unknown> };
    await expect(stub.webSocketMessage()).rejects.toMatchObject({ code: "ERR_METHOD_NOT_FOUND", message: expect.stringContaining("webSocketMessage is reserved for the runtime") });
  });

  it("supports the standard API (accept + addEventListener): the object stays in memory, and its sockets close with 1011 when its host dies", async () => {
    const c = await t.open("room=std&user=s&mode=standard");
    expect(await c.next()).toBe("welcome s");
    c.send("one");
    expect(await c.next()).toBe("echo:one");
    await sleep(IDLE_MS * 3);
    c.send("two");
    expect(await c.next()).toBe("echo:two");
    expect(await t.room("std").activations()).toBe(1); // never evicted
    process.kill(await t.room("std").pid(), "SIGKILL");
    const closed = await c.closed;
    expect(closed.code).toBe(1011);
    expect(closed.reason).toMatch(/restarted/);
  });
});

describe("WebSockets while the owning host cannot answer (bounded queue)", () => {
  let t: App;
  beforeAll(async () => {
    t = await start({ hostCount: 1, maxCallBytes: 1024 * 1024, webSockets: { queueTimeoutMs: 800, maxQueuedEvents: 5 } });
  });
  afterAll(async () => {
    await t.close();
  });

  it("closes with 1011 the sender past maxQueuedEvents, and every socket of an object unreachable past queueTimeoutMs", async () => {
    const full = await t.open("room=q1&user=f");
    const waiting = await t.open("room=q2&user=w");
    await full.next();
    await waiting.next();
    const pid = await t.room("q1").pid();
    process.kill(pid, "SIGSTOP");
    try {
      // The signal is asynchronous: until the host is stopped it may still answer events.
      await until("the host to stop", () => /^\d+ \(.*\) T/.test(readFileSync(`/proc/${pid}/stat`, "utf8")));
      for (let i = 0; i < 10; i++) full.send(`m${i}`);
      const a = await full.closed;
      expect(a.code).toBe(1011);
      expect(a.reason).toBe("sourdough: 5 messages queued for the object (it is not keeping up)");
      waiting.send("hello?");
      const started = Date.now();
      const b = await waiting.closed;
      expect(b).toEqual({ code: 1011, reason: "sourdough: object unreachable for over 800 ms" });
      expect(Date.now() - started).toBeGreaterThanOrEqual(700);
    } finally {
      process.kill(pid, "SIGCONT");
    }
  });

  it("closes with 1009 a client message over the limit (Cloudflare's 32 MiB, within maxCallBytes)", async () => {
    const c = await t.open("room=big&user=b");
    await c.next();
    c.send("x".repeat(1024 * 1024));
    expect((await c.closed).code).toBe(1009);
    const d = await t.open("room=big&user=d");
    await d.next();
    d.send("x".repeat(1000 * 1024));
    expect(await d.next()).toMatch(/^d said x+$/);
  });
});

describe("WebSockets with hostCount: 0 (objects in serve()'s process)", () => {
  let t: App;
  beforeAll(async () => {
    t = await start({ hostCount: 0 });
  });
  afterAll(async () => {
    await t.close();
  });

  it("carries messages, broadcasts, and survives eviction", async () => {
    const a = await t.open("room=z&user=a");
    const b = await t.open("room=z&user=b");
    await a.next();
    await b.next();
    a.send("broadcast:x");
    expect(await a.next()).toBe("a: x");
    expect(await b.next()).toBe("a: x");
    await sleep(IDLE_MS * 3);
    b.send("activation");
    expect(await b.next()).toBe("activation 2");
    b.send("broadcast:y");
    expect(await a.next()).toBe("b: y");
    a.send("ping");
    expect(await a.next()).toBe("pong");
  });
});
