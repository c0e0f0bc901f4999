// References over RPC on both engines: the same worker script (callbacks to an object, an error thrown
// by a callback, RpcTargets returned and called, pipelined calls, a reference not dup()ed released
// with its call, a disposed RpcTarget) on sourdough through serve() (a real host process) and on
// workerd through miniflare, inside a Worker. Same observations on both.
import type { ServeHandle } from "sourdough";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { miniflareSkipReason, type MiniflareInstance } from "../support/miniflare.ts";
import { startTwoEngines, type TwoEngines, type WorkerdProject } from "./cloudflare-harness.ts";
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
  let engines: TwoEngines;

  beforeAll(async () => {
    engines = await startTwoEngines("test/engines/fixtures/rpc-app/main.ts", startRpcApp);
    ({ project, mf, app } = engines);
  });

  afterAll(() => engines?.close());

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
