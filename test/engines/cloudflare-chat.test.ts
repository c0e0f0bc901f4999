// The chat example (WebSockets, hibernation API, SQL history) on both engines: sourdough through
// serve() (a real host process) and workerd through miniflare running the project
// `sourdough-cloudflare build examples/chat/main.ts` writes, bundled with the workerd/worker
// conditions, inside a Worker. The same clients, the same script, the same frames back.
import { existsSync } from "node:fs";
import { serve } from "sourdough";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ChatRoom, type Env } from "../../examples/chat/room.ts";
import { worker } from "../../examples/chat/worker.ts";
import { ioHandles } from "../support/cluster.ts";
import { miniflareSkipReason } from "../support/miniflare.ts";
import { TestClient } from "../support/ws-client.ts";
import { startTwoEngines, type TwoEngines } from "./cloudflare-harness.ts";

const skip = miniflareSkipReason();
if (skip !== undefined) console.log(skip);

/** A frame with its clock readings replaced, so two engines' transcripts compare equal. */
function normalize(frame: string): unknown {
  const value = JSON.parse(frame) as Record<string, unknown>;
  if ("at" in value) value.at = "<time>";
  if (Array.isArray(value.messages)) value.messages = (value.messages as Array<Record<string, unknown>>).map((m) => ({ ...m, at: "<time>" }));
  return value;
}

/** Two users in one room: join, chat, a direct message, ping, a bad frame, one leaves; then the history. */
async function script(origin: string, room: string): Promise<unknown[]> {
  const ws = origin.replace(/^http/, "ws");
  const out: unknown[] = [];
  const alice = await TestClient.open(`${ws}/room/${room}/ws?user=alice`);
  out.push(["alice joined", normalize(await alice.next()), normalize(await alice.next())]);
  const bob = await TestClient.open(`${ws}/room/${room}/ws?user=bob`);
  out.push(["bob joined", normalize(await bob.next()), normalize(await bob.next()), "alice hears", normalize(await alice.next())]);
  alice.send(JSON.stringify({ type: "message", text: "hello bob" }));
  out.push(["message", normalize(await alice.next()), normalize(await bob.next())]);
  bob.send(JSON.stringify({ type: "dm", to: "alice", text: "psst" }));
  out.push(["dm", normalize(await alice.next()), normalize(await bob.next())]);
  alice.send("ping");
  out.push(["auto-response", await alice.next()]);
  bob.send("not json");
  out.push(["bad frame", normalize(await bob.next())]);
  bob.ws.close(1000, "bye");
  out.push(["bob closed", await bob.closed, "alice hears", normalize(await alice.next())]);
  const history = await fetch(`${origin}/room/${room}/history`);
  out.push(["history", history.status, normalize(JSON.stringify({ messages: await history.json() }))]);
  alice.ws.close(1000, "done");
  await alice.closed;
  return out;
}

describe.skipIf(skip)("chat example on sourdough and workerd", () => {
  let engines: TwoEngines;
  let handlesBefore: string[];

  beforeAll(async () => {
    handlesBefore = ioHandles();
    engines = await startTwoEngines("examples/chat/main.ts", (storageDir) =>
      serve<Env>(worker, { durableObjects: { ROOMS: ChatRoom }, modules: [new URL("../../examples/chat/room.ts", import.meta.url)], hostCount: 1, isolatesPerHost: 1, storageDir, handleSignals: false }),
    );
  });

  afterAll(() => engines?.close());

  it("writes a wrangler project for the chat room from its serve() call", () => {
    const { project } = engines;
    expect(project.wrangler.durable_objects.bindings).toEqual([{ name: "ROOMS", class_name: "ChatRoom" }]);
    expect(project.wrangler.migrations).toEqual([{ tag: "v1", new_sqlite_classes: ["ChatRoom"] }]);
    expect(project.bundle).not.toMatch(/better-sqlite3|cluster-coordinator|node:fs|node:net|node:http/);
  });

  it("gives the same frames, closes and history for the same WebSocket script", async () => {
    const onSourdough = await script(engines.app.url, "lobby");
    const onWorkerd = await script(engines.workerdOrigin, "lobby");
    expect(onSourdough[4]).toEqual(["auto-response", "pong"]);
    expect(onSourdough[7]).toMatchObject(["history", 200, { messages: [{ id: 1, user: "alice", text: "hello bob" }] }]);
    expect(onWorkerd).toEqual(onSourdough);
  });

  it("leaves no process, socket or temp dir behind once both engines are closed", async () => {
    await engines.close();
    await vi.waitFor(() => expect(ioHandles()).toEqual(handlesBefore), { timeout: 5000 });
    expect([existsSync(engines.project.dir), existsSync(engines.storageDir)]).toEqual([false, false]);
  });
});
