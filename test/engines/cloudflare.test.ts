// The counter example on both engines: sourdough through serve() (a real host process, SQLite in a
// temp dir) and workerd through miniflare running the project `sourdough-cloudflare build` writes
// from examples/counter/main.ts, bundled with the workerd/worker conditions, inside a Worker.
// Same requests, same answers. Differences that remain are listed in docs/cloudflare.md.
import { existsSync } from "node:fs";
import { serve } from "sourdough";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { Counter } from "../../examples/counter/counter.ts";
import { generated } from "../../examples/counter/sourdough.gen/index.ts";
import { worker } from "../../examples/counter/worker.ts";
import { ioHandles } from "../support/cluster.ts";
import { miniflareSkipReason } from "../support/miniflare.ts";
import { exchange, startTwoEngines, type Exchange, type TwoEngines, type WorkerdProject } from "./cloudflare-harness.ts";

const skip = miniflareSkipReason();
if (skip !== undefined) console.log(skip);

/** The same script for both engines: names, paths, methods (object fetch, worker routes, a 400). */
const SCRIPT: Array<[method: string, target: string]> = [
  ["POST", "/increment?name=room-1&by=5"],
  ["POST", "/increment?name=room-2"],
  ["POST", "/increment?name=room-1&by=2"],
  ["GET", "/get?name=room-1"],
  ["GET", "/get?name=never-touched"],
  ["GET", "/anything?name=room-1"], // the object's own fetch()
  ["POST", "/anything?name=room-2&by=3"],
  ["POST", "/increment?name=room-1&by=-10"],
  ["POST", "/increment?name=caf%C3%A9%20%F0%9F%8D%B0&by=1.5"], // a non-ASCII name, a fractional step
  ["GET", "/increment"], // no name: the worker's own 400
];

async function run(send: (url: string, init: RequestInit) => Promise<Response>, origin: string): Promise<Exchange[]> {
  const out: Exchange[] = [];
  for (const [method, target] of SCRIPT) out.push(await exchange(send, origin, method, target)); // in order: answers depend on it
  return out;
}

describe.skipIf(skip)("counter example on sourdough and workerd", () => {
  let engines: TwoEngines;
  let project: WorkerdProject;
  let handlesBefore: string[];

  beforeAll(async () => {
    handlesBefore = ioHandles();
    engines = await startTwoEngines("examples/counter/main.ts", (storageDir) => serve(worker, { durableObjects: { COUNTER: Counter }, generated, hostCount: 1, isolatesPerHost: 1, storageDir, handleSignals: false }));
    project = engines.project;
  });

  afterAll(() => engines?.close());

  it("writes a wrangler project whose config is derived from serve()", () => {
    expect(project.wrangler.durable_objects.bindings).toEqual([{ name: "COUNTER", class_name: "Counter" }]);
    expect(project.wrangler.migrations).toEqual([{ tag: "v1", new_sqlite_classes: ["Counter"] }]);
    const codes = project.problems.map((p) => `${p.severity} ${p.code} ${p.message.split(":")[0]}`);
    expect(codes).toEqual([
      "note CF4101 generated",
      "note CF4101 hostCount",
      "note CF4101 storageDir",
      'warning CF4204 import("node',
    ]);
  });

  it("bundles the unchanged example without the Node runtime", () => {
    expect(project.bundle).toContain('from "cloudflare:workers"');
    expect(project.bundle).not.toMatch(/better-sqlite3|cluster-coordinator|node:fs|node:net|node:http/);
  });

  it("answers the same requests with the same statuses, types and bodies", async () => {
    const onSourdough = await run((url, init) => fetch(url, init), engines.app.url);
    const onWorkerd = await run((url, init) => engines.mf.dispatchFetch(url, init), "http://counter.example");
    expect(onSourdough.map((e) => e.status)).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 400]);
    expect(JSON.parse(onSourdough[2]!.body)).toEqual({ name: "room-1", value: 7 });
    expect(onWorkerd).toEqual(onSourdough);
  });

  it("leaves no process, socket or temp dir behind once both engines are closed", async () => {
    await engines.close();
    // workerd's process handle goes a moment after dispose() resolves: wait for it, a leak still fails.
    await vi.waitFor(() => expect(ioHandles()).toEqual(handlesBefore), { timeout: 5000 });
    expect([existsSync(project.dir), existsSync(engines.storageDir)]).toEqual([false, false]);
  });

  // The chat example (WebSockets) on both engines: test/engines/cloudflare-chat.test.ts.
});
