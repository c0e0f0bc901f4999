// `npm run example:chat` (examples/chat/main.ts) starts, serves its page and a room, keeps the
// history in CHAT_STORAGE across restarts, and stops cleanly on SIGINT.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { TestClient } from "../support/ws-client.ts";

const root = new URL("../../", import.meta.url);
const storage = mkdtempSync(path.join(os.tmpdir(), "sourdough-chat-example-"));
afterAll(() => rmSync(storage, { recursive: true, force: true }));

/** Starts the example; resolves with its URL and a stop() that SIGINTs it and returns its output and exit code. */
async function start(): Promise<{ url: string; stop(): Promise<{ code: number | null; stderr: string }> }> {
  const child = spawn(process.execPath, ["--import", "tsx", "examples/chat/main.ts"], { cwd: root, env: { ...process.env, CHAT_STORAGE: storage }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL within 30 s; stdout: ${stdout} stderr: ${stderr}`)), 30_000);
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
      const m = /open (http:\/\/127\.0\.0\.1:\d+)\//.exec(stdout);
      if (m !== null) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    void exited.then((code) => reject(new Error(`exited ${code} before printing a URL: ${stderr}`)));
  });
  return {
    url,
    async stop() {
      child.kill("SIGINT");
      const code = await exited;
      return { code, stderr };
    },
  };
}

describe("examples/chat (npm run example:chat)", () => {
  it("serves the page and a room, keeps the history across restarts, and stops on SIGINT", async () => {
    const first = await start();
    const page = await fetch(`${first.url}/`);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(await page.text()).toContain("<title>sourdough chat</title>");
    const alice = await TestClient.open(`${first.url.replace("http", "ws")}/room/lobby/ws?user=alice`);
    expect(await alice.nextJson()).toEqual({ type: "history", messages: [] });
    expect(await alice.nextJson()).toEqual({ type: "presence", online: ["alice"] });
    alice.send(JSON.stringify({ type: "message", text: "kept" }));
    expect(await alice.nextJson()).toMatchObject({ type: "message", user: "alice", text: "kept" });
    const stopped = await first.stop();
    expect(stopped.code).toBe(0);
    expect(stopped.stderr).toMatch(/SIGINT: shutting down[\s\S]*shut down after \d+ ms/); // serve()'s own signal handling
    await alice.closed; // the server went away under it

    const second = await start();
    const bob = await TestClient.open(`${second.url.replace("http", "ws")}/room/lobby/ws?user=bob`);
    expect(await bob.nextJson()).toMatchObject({ type: "history", messages: [{ user: "alice", text: "kept" }] });
    await bob.close();
    expect((await second.stop()).code).toBe(0);
  });
});
