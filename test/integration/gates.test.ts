// Input and output gates under concurrency (issue 15; Cloudflare's durable-objects/reference/
// in-memory-state and the "input gates" / "output gates" rules), in both modes: many events at once
// on one object never lose an update through any storage API, transactions serialize, and what an
// object sends after a write leaves only once that write is committed.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ClusterCoordinator } from "sourdough";
import { Gates, TestCounter } from "../fixtures/objects.ts";
import { startCluster, type TestCluster } from "../support/cluster.ts";

const N = 20;
const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);
const sorted = (values: number[]) => [...values].sort((a, b) => a - b);

describe.each([
  { mode: "2 host processes", hostCount: 2 },
  { mode: "in-process (hostCount: 0)", hostCount: 0 },
])("gates: $mode", ({ hostCount }) => {
  let cluster: TestCluster;
  let coordinator: ClusterCoordinator;
  beforeAll(async () => {
    cluster = await startCluster({ hostCount, isolatesPerHost: 1 });
    coordinator = cluster.coordinator;
  });
  afterAll(() => cluster.close());
  const object = (name: string) => coordinator.get(`${name}-${hostCount}`, Gates);

  it("loses no update when many events read-modify-write through the async API", async () => {
    const stub = object("async");
    const results = await Promise.all(range(N).map(() => stub.bumpAsync()));
    expect(sorted(results)).toEqual(range(N));
    expect(await stub.value()).toBe(N);
  });

  it("loses no update with an awaited async get between sync SQL and a sync KV put", async () => {
    const stub = object("mixed");
    const results = await Promise.all(range(N).map(() => stub.bumpMixed()));
    expect(sorted(results)).toEqual(range(N));
    expect(await stub.value()).toBe(N);
  });

  it("serializes concurrent transactions; a throwing one rolls back only its own writes", async () => {
    const stub = object("txn");
    const settled = await Promise.allSettled(range(N).map((i) => stub.bumpTxn(i % 5 === 0)));
    const failed = settled.filter((s) => s.status === "rejected");
    expect(failed).toHaveLength(4);
    for (const f of failed) expect((f as PromiseRejectedResult).reason).toMatchObject({ name: "RangeError", message: "txn failed" });
    const values = settled.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
    expect(sorted(values)).toEqual(range(N - 4));
    expect(await stub.value()).toBe(N - 4);
  });

  it("holds other events while a transaction awaits something other than storage", async () => {
    const stub = object("txn-timer");
    const results = await Promise.all(range(5).map(() => stub.bumpTxnAcrossTimer(10)));
    expect(sorted(results)).toEqual(range(5));
    expect(await stub.value()).toBe(5);
  });

  it("runs two transactions started at once by one event one after the other (as workerd)", async () => {
    const stub = object("txn-overlap");
    expect(await stub.overlappingTxns()).toEqual(["a:start", "a:end", "b:start", "b:end", "c:start", "c:end"]);
    expect(await stub.readKeys(["n", "a", "b", "c"])).toEqual({ n: 2, a: true, b: undefined, c: true });
  });

  it("nests a transaction called inside a transaction's closure; the inner one fails alone", async () => {
    const stub = object("txn-nested");
    expect(await stub.nestedTxns()).toEqual({ inner: "inner failed", kept: "kept" });
    expect(await stub.readKeys(["outer", "inner", "kept"])).toEqual({ outer: 1, inner: undefined, kept: 1 });
  });

  it("keeps the gate closed across a chain of awaited storage calls", async () => {
    const stub = object("chain");
    await Promise.all(["a", "b", "c", "d"].map((tag) => stub.chain(tag, 10)));
    const log = await stub.log();
    expect(log.join("")).toBe(["a", "b", "c", "d"].map((t) => t.repeat(10)).join(""));
  });

  it("delivers other events at an await on a timer, as Cloudflare does (updates can be lost there)", async () => {
    const stub = object("timer");
    const results = await Promise.all(range(5).map(() => stub.bumpAcrossTimer(30)));
    // All five read before any wrote: the events interleaved at the timer.
    expect(results).toEqual([1, 1, 1, 1, 1]);
  });

  it("commits a write before a call made after it leaves (output gate)", async () => {
    const stub = object("out-ok");
    expect(await stub.writeThenCall(`out-ok-counter-${hostCount}`)).toBe(1);
    expect(await stub.hasWritten()).toBe(true);
  });

  it("does not send a call made after a write whose commit fails, and resets the object", async () => {
    const stub = object("out-fail");
    const counter = `out-fail-counter-${hostCount}`;
    const error = await stub.writeBadThenCall(counter).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "ERR_STORAGE", retryable: true });
    expect((error as Error).message).toContain("FOREIGN KEY constraint failed");
    expect((error as Error).message).toContain("not sent");
    expect(await coordinator.get(counter, TestCounter).get()).toBe(0); // the call never arrived
    expect(await stub.hasWritten()).toBe(false); // the failed turn's writes are gone
  });

  it("accepts Cloudflare's allowConcurrency, allowUnconfirmed and noCache options and refuses a non-object", async () => {
    const stub = object("options");
    expect(await stub.withOptions()).toEqual({ got: 1, listed: ["k"], deleted: true });
    await expect(stub.badOption()).rejects.toMatchObject({ name: "TypeError", message: expect.stringContaining("parameter 2 is not of type 'GetOptions'") });
  });
});

// fetch() is gated in host isolates only: in-process (hostCount: 0) objects share the caller's global
// fetch, which sourdough does not replace (docs/compatibility.md).
describe("gates: fetch from an object in a host process", () => {
  let cluster: TestCluster;
  let server: http.Server;
  let url: string;
  const received: string[] = [];
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      received.push(req.url ?? "");
      res.end("ok");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    cluster = await startCluster({ hostCount: 1, isolatesPerHost: 1 });
  });
  afterAll(async () => {
    await cluster.close();
    await new Promise((resolve) => server.close(resolve));
  });

  it("sends a fetch made after a write once the write is committed", async () => {
    const stub = cluster.coordinator.get("fetch-ok", Gates);
    expect(await stub.writeThenFetch(`${url}/ok`)).toBe(200);
    expect(received).toContain("/ok");
    expect(await stub.hasWritten()).toBe(true);
  });

  it("does not send a fetch made after a write whose commit fails", async () => {
    const stub = cluster.coordinator.get("fetch-fail", Gates);
    const error = await stub.writeBadThenFetch(`${url}/bad`).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "ERR_STORAGE", retryable: true });
    expect((error as Error).message).toContain("FOREIGN KEY constraint failed");
    expect(received).not.toContain("/bad");
  });
});
