// serve() and route() over real HTTP, with the counter app on 2 host processes.
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { route, serve, type ServeHandle } from "sourdough";
import { Counter } from "../../examples/counter/counter.ts";
import { worker } from "../../examples/counter/worker.ts";
import { isAlive, openFds } from "../support/cluster.ts";

describe("serve(): the counter example over HTTP on 2 hosts", () => {
  let app: ServeHandle;
  let storageDir: string;
  let fds: number;
  beforeAll(async () => {
    fds = openFds();
    storageDir = mkdtempSync(path.join(os.tmpdir(), "sourdough-test-"));
    app = serve(worker, {
      durableObjects: { COUNTER: Counter },
      modules: [new URL("../../examples/counter/counter.ts", import.meta.url)],
      hostCount: 2,
      storageDir,
      output: () => {},
    });
    await app.ready;
  });
  afterAll(async () => {
    const pids = app.coordinator.hosts.map((h) => h.pid!);
    await app.close();
    for (const pid of pids) expect(isAlive(pid)).toBe(false);
    for (let i = 0; i < 50 && openFds() > fds; i++) await new Promise((r) => setTimeout(r, 10));
    expect(openFds()).toBeLessThanOrEqual(fds);
    rmSync(storageDir, { recursive: true, force: true });
  });

  it("answers worker.fetch with env bindings calling objects by typed RPC", async () => {
    const post = (name: string, by: number) => fetch(`${app.url}/increment?name=${name}&by=${by}`, { method: "POST" }).then((r) => r.json());
    expect(await post("h1", 5)).toEqual({ name: "h1", value: 5 });
    expect(await post("h1", 2)).toEqual({ name: "h1", value: 7 });
    expect(await post("h2", 1)).toEqual({ name: "h2", value: 1 });
    expect(await fetch(`${app.url}/get?name=h1`).then((r) => r.json())).toEqual({ name: "h1", value: 7 });
  });

  it("forwards to the object's own fetch through stub.fetch", async () => {
    const res = await fetch(`${app.url}/other?name=h1&by=3`, { method: "POST" });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ value: 10 });
  });

  it("spreads objects over both hosts and agrees with direct stubs", async () => {
    const pids = new Set<number>();
    for (let i = 0; i < 20; i++) {
      await fetch(`${app.url}/increment?name=spread-${i}`, { method: "POST" });
      pids.add((await app.coordinator.get(`spread-${i}`, Counter).whereAmI()).pid);
      expect(await app.coordinator.get(`spread-${i}`, Counter).get()).toBe(1);
    }
    expect(pids).toEqual(new Set(app.coordinator.hosts.map((h) => h.pid)));
  });

  it("passes the worker's own error responses through", async () => {
    const res = await fetch(`${app.url}/increment`, { method: "POST" });
    expect(res.status).toBe(400);
    expect(await res.text()).toBe("pass ?name=<counter>\n");
  });

  it("routes with route(): the id query parameter by default, 400 without one", async () => {
    const handler = route(app.coordinator, Counter);
    const ok = await handler(new Request("http://x/?id=routed", { method: "POST" }));
    expect(await ok.json()).toEqual({ value: 1 });
    const missing = await handler(new Request("http://x/"));
    expect(missing.status).toBe(400);
    expect(await missing.text()).toContain("Missing Durable Object id for Counter");
    const custom = route(app.coordinator, Counter, (req) => new URL(req.url).pathname.slice(1));
    expect(await (await custom(new Request("http://x/routed"))).json()).toEqual({ value: 1 });
  });
});

describe("serve(): worker failures", () => {
  const throwing = {
    async fetch(request: Request) {
      if (new URL(request.url).pathname === "/throw") throw new RangeError("worker broke");
      return new Response("fine");
    },
  };

  it("turns an exception thrown by worker.fetch into a plain 500, logs it with its stack, and keeps serving", async () => {
    const errors: string[] = [];
    const logger = { info: () => {}, warn: () => {}, error: (message: string) => void errors.push(message) };
    const app = serve(throwing, { durableObjects: {}, hostCount: 0, logger, handleSignals: false });
    await app.ready;
    try {
      const res = await fetch(`${app.url}/throw`);
      expect(res.status).toBe(500);
      expect(await res.text()).toBe("Internal Server Error\n");
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatch(/^worker\.fetch threw on GET \/throw: RangeError: worker broke\n {4}at /);
      expect(await (await fetch(`${app.url}/ok`)).text()).toBe("fine");
    } finally {
      await app.close();
    }
  });

  it("sends the error text to the client with dev: true", async () => {
    const app = serve(throwing, { durableObjects: {}, hostCount: 0, dev: true, logger: { info() {}, warn() {}, error() {} }, handleSignals: false });
    await app.ready;
    try {
      const res = await fetch(`${app.url}/throw`);
      expect(res.status).toBe(500);
      expect(await res.text()).toBe("worker.fetch threw RangeError: worker broke\n");
    } finally {
      await app.close();
    }
  });
});
