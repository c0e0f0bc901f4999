// The chat example in a real headless browser (Debian's chromium, driven by playwright-core): two
// users chat, the room's host process is killed with SIGKILL and both pages stay connected and keep
// chatting, then one user reloads and sees the whole history. Real host processes, real SQLite.
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Page } from "playwright-core";
import type { ServeHandle } from "sourdough";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { browserSkipReason, launchChromium, type LaunchedBrowser } from "../support/browser.ts";
import { isAlive } from "../support/cluster.ts";

const skip = browserSkipReason();
if (skip !== undefined) console.log(skip);

/** The texts of the page's chat lines ("user: text"). */
const lines = (page: Page) => page.locator("#log li.message").allTextContents();
const say = async (page: Page, text: string) => {
  await page.fill("#text", text);
  await page.press("#text", "Enter");
};
const connects = (page: Page) => page.evaluate<number>("Number(document.body.dataset.connects ?? 0)");

describe.skipIf(skip !== undefined)("chat example in headless Chromium", () => {
  let app: ServeHandle;
  let browser: LaunchedBrowser;
  let storageDir: string;
  let hostPids: number[] = [];

  beforeAll(async () => {
    const { serve } = await import("sourdough");
    const { ChatRoom } = await import("../../examples/chat/room.ts");
    const { worker } = await import("../../examples/chat/worker.ts");
    storageDir = mkdtempSync(path.join(os.tmpdir(), "sourdough-chat-browser-"));
    app = serve(worker, { durableObjects: { ROOMS: ChatRoom }, modules: [new URL("../../examples/chat/room.ts", import.meta.url)], hostCount: 2, isolatesPerHost: 1, storageDir, output: () => {} });
    await app.ready;
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    hostPids = (app?.coordinator.hosts ?? []).flatMap((h) => [h.pid, h.standbyPid]).filter((p): p is number => p !== undefined);
    await app?.close();
    for (const pid of hostPids) expect(isAlive(pid), `host pid ${pid} still running after close()`).toBe(false);
    if (storageDir !== undefined) rmSync(storageDir, { recursive: true, force: true });
  });

  it("two users chat, survive kill -9 of the room's host, and a reload shows the history", async () => {
    const { ChatRoom } = await import("../../examples/chat/room.ts");
    const open = async (user: string) => {
      const page = await (await browser.browser.newContext()).newPage();
      await page.goto(`${app.url}/?room=lobby&user=${user}`);
      await page.locator('#status[data-state="open"]').waitFor({ timeout: 10_000 });
      return page;
    };
    const alice = await open("alice");
    const bob = await open("bob");
    await expect.poll(() => alice.locator("#online").textContent()).toBe("alice, bob");

    await say(alice, "hello bob");
    await expect.poll(() => lines(bob)).toEqual(["alice: hello bob"]);
    await say(bob, "hi alice");
    await expect.poll(() => lines(alice)).toEqual(["alice: hello bob", "bob: hi alice"]);

    // kill -9 the host process that owns the room; the sockets live in serve()'s process.
    const where = app.coordinator.locate(ChatRoom, app.coordinator.namespace(ChatRoom).idFromName("lobby"));
    const victim = app.coordinator.hosts[where!.host]!;
    process.kill(victim.pid!, "SIGKILL");
    await say(alice, "are you still there?");
    await expect.poll(() => lines(bob), { timeout: 15_000 }).toEqual(["alice: hello bob", "bob: hi alice", "alice: are you still there?"]);
    await say(bob, "yes, same socket");
    await expect.poll(() => lines(alice)).toEqual(["alice: hello bob", "bob: hi alice", "alice: are you still there?", "bob: yes, same socket"]);
    expect(app.coordinator.hosts[where!.host]!.pid, "the room's host was restarted").not.toBe(victim.pid);
    expect([await connects(alice), await connects(bob)], "neither page reconnected").toEqual([1, 1]);
    // ping is answered by the gateway (auto-response), also after the restart
    await alice.evaluate("window.chatPing()");
    await expect.poll(() => alice.evaluate<boolean>("document.body.dataset.lastPong !== undefined")).toBe(true);

    await bob.reload();
    await bob.locator('#status[data-state="open"]').waitFor({ timeout: 10_000 });
    await expect.poll(() => lines(bob)).toEqual(["alice: hello bob", "bob: hi alice", "alice: are you still there?", "bob: yes, same socket"]);
    await expect.poll(() => alice.locator("#online").textContent()).toBe("alice, bob");
    await say(bob, "back after a reload");
    await expect.poll(() => lines(alice)).toContain("bob: back after a reload");
    expect(await connects(alice)).toBe(1);
  });
});
