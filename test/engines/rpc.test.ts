// References over RPC on both engines: the same worker script (callbacks to an object, an error thrown
// by a callback, RpcTargets returned and called, pipelined calls, a reference not dup()ed released
// with its call, a disposed RpcTarget) on sourdough through serve() (a real host process) and on
// workerd through miniflare, inside a Worker. Same observations on both.
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { ServeHandle } from "sourdough";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadMiniflare, miniflareSkipReason, type MiniflareInstance } from "../support/miniflare.ts";
import { buildWorkerdProject, compatibilityDate, startWorkerd, type WorkerdProject } from "./cloudflare-harness.ts";
import { startRpcApp } from "./fixtures/rpc-app/main.ts";

const skip = miniflareSkipReason();
if (skip !== undefined) console.log(skip);

const EXPECTED = {
  callback: [0, 10, 20],
  seenByCaller: [0, 1, 2],
  thrown: { name: "RangeError", message: "out of range: 7" },
  posts: [1, 2],
  stored: ["hi", "there"],
  pipelined: 1,
  pipelinedTwice: 2,
  storedPipelined: ["one", "two"],
  kept: [{ ok: false }, { ok: true, value: "kept now" }],
  afterDispose: { ok: false },
};

describe.skipIf(skip)("references over RPC on sourdough and workerd", () => {
  let project: WorkerdProject;
  let mf: MiniflareInstance;
  let app: ServeHandle;
  let storageDir: string;

  beforeAll(async () => {
    const miniflare = await loadMiniflare();
    project = await buildWorkerdProject("test/engines/fixtures/rpc-app/main.ts", compatibilityDate(miniflare));
    mf = await startWorkerd(miniflare, project);
    storageDir = mkdtempSync(path.join(os.tmpdir(), "sourdough-cf-rpc-"));
    app = startRpcApp(storageDir);
    await app.ready;
  });

  afterAll(async () => {
    await app?.close();
    await mf?.dispose();
    project?.remove();
    if (storageDir !== undefined) rmSync(storageDir, { recursive: true, force: true });
  });

  it("bundles the app with RpcTarget from cloudflare:workers and no Node import", () => {
    expect(project.bundle).toContain('from "cloudflare:workers"');
    expect(project.bundle).not.toMatch(/better-sqlite3|node:net|node:fs/);
  });

  it("observes the same callbacks, RpcTargets, pipelining and lifetimes on both engines", async () => {
    const onWorkerd = await (await mf.dispatchFetch("http://rpc.example/?name=one")).json();
    const onSourdough = await (await fetch(new URL("/?name=one", app.url))).json();
    expect(onWorkerd).toEqual(EXPECTED);
    expect(onSourdough).toEqual(EXPECTED);
  });
});
