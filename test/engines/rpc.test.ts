// References over RPC on both engines: the same worker script (callbacks to an object, an error thrown
// by a callback, RpcTargets returned and called, pipelined calls, a reference not dup()ed released
// with its call, a disposed RpcTarget) on workerd through miniflare, inside a Worker, and on sourdough
// through serve() with one host process and in-process (hostCount: 0). Same observations on all.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { miniflareSkipReason } from "../support/miniflare.ts";
import { startRpcApp } from "./fixtures/rpc-app/main.ts";
import { expectSame, startRpcEngines, type RpcEngines } from "./rpc-engines.ts";

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
  let engines: RpcEngines;

  beforeAll(async () => {
    engines = await startRpcEngines("test/engines/fixtures/rpc-app/main.ts", startRpcApp, [
      { mode: "1 host process", hostCount: 1 },
      { mode: "in-process (hostCount: 0)", hostCount: 0 },
    ]);
  });

  afterAll(() => engines?.close());

  it("bundles the app with RpcTarget from cloudflare:workers and no Node import", () => {
    expect(engines.two.project.bundle).toContain('from "cloudflare:workers"');
    expect(engines.two.project.bundle).not.toMatch(/better-sqlite3|node:net|node:fs/);
  });

  it("observes the same callbacks, RpcTargets, pipelining and lifetimes on both engines", async () => {
    expectSame(await engines.answers("/?name=one"), EXPECTED);
  });

  it("leaves no host process, workerd, socket or temp dir behind", async () => {
    await engines.close();
  });
});
