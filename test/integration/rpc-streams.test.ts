// ReadableStreams of bytes as RPC arguments and results (issue 14 part 3), in both modes: real hosts
// over real sockets, and in-process (hostCount: 0). Flow control is asserted through the sources'
// pull counters, never through timing.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode, type ClusterCoordinator } from "sourdough";
import { Streams, patternMismatch, patternStream, type SourceStats } from "../fixtures/rpc-streams.ts";
import { FIXTURES, startCluster, type TestCluster } from "../support/cluster.ts";
import { describeRss, expectRssBounded, peakRss } from "../support/rss.ts";
import { failOnUnhandledRejections } from "../support/unhandled.ts";

const STREAMS_MODULE = new URL("../fixtures/rpc-streams.ts", import.meta.url);
const MiB = 1024 * 1024;
/** The window of runtime/rpc/streams.ts (STREAM_WINDOW): bytes per read and the receiving queue's mark. */
const WINDOW = 256 * 1024;

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
const settle = () => new Promise((r) => setTimeout(r, 100));
const newStats = (): SourceStats => ({ pulls: 0, bytes: 0, cancelled: undefined });

/** Reads a stream to its end checking the pattern; `full`: every byte, else each chunk's ends. */
async function readAll(stream: ReadableStream<Uint8Array>, full = true): Promise<{ bytes: number; mismatch: number }> {
  let bytes = 0;
  let mismatch = -1;
  for await (const chunk of stream) {
    if (mismatch < 0) mismatch = patternMismatch(bytes, chunk, full);
    bytes += chunk.byteLength;
  }
  return { bytes, mismatch };
}

describe.each([
  { mode: "2 host processes", hostCount: 2 },
  { mode: "in-process (hostCount: 0)", hostCount: 0 },
])("ReadableStreams over RPC: $mode", ({ hostCount }) => {
  let cluster: TestCluster;
  let coordinator: ClusterCoordinator;
  failOnUnhandledRejections(30);
  const exportsOf = (name: string) => {
    const stub = coordinator.get(name, Streams);
    return coordinator.clientFor("Streams", stub.id.toString()).caps.exportCount;
  };
  beforeAll(async () => {
    cluster = await startCluster({ hostCount, isolatesPerHost: 1, modules: [FIXTURES, STREAMS_MODULE], durableObjects: { STREAMS: Streams } });
    coordinator = cluster.coordinator;
  });
  afterAll(async () => {
    await cluster.close();
  });

  it("a few MiB returned by the object arrive whole and in order", async () => {
    const stub = coordinator.get("result", Streams);
    const stream = await stub.produce(5 * MiB + 123, 100_000);
    expect(stream).toBeInstanceOf(ReadableStream);
    expect(await readAll(stream)).toEqual({ bytes: 5 * MiB + 123, mismatch: -1 });
    expect((await stub.stats())?.cancelled).toBeUndefined();
  });

  it("a few MiB passed as an argument are read by the object whole and in order; the export is released", async () => {
    const stub = coordinator.get("arg", Streams);
    const stats = newStats();
    const got = await stub.consume(patternStream(3 * MiB + 7, 1 * MiB, stats));
    expect(got).toEqual({ bytes: 3 * MiB + 7, mismatch: -1 });
    expect(stats.cancelled).toBeUndefined();
    await until("the caller's export to be released", () => exportsOf("arg") === 0);
  });

  it("backpressure: a slow reader of a result bounds the object's pulls to the window", async () => {
    const stub = coordinator.get("slow-result", Streams);
    const chunk = 16 * 1024;
    const stream = await stub.produce(Infinity, chunk);
    const reader = stream.getReader();
    let read = 0;
    for (let i = 0; i < 3; i++) read += (await reader.read()).value!.byteLength;
    await settle();
    const first = (await stub.stats())!;
    await settle();
    const second = (await stub.stats())!;
    expect(second.pulls).toBe(first.pulls); // stopped: nobody is reading
    // Read so far + the receiving queue (one window) + one read in flight + the source's own queue.
    expect(second.bytes).toBeLessThanOrEqual(read + 2 * WINDOW + 2 * chunk);
    expect(second.bytes).toBeGreaterThan(read);
    await reader.cancel("done");
    await until("the object's source to be cancelled", async () => (await stub.stats())!.cancelled === "done");
  });

  it("backpressure: an object reading an argument slowly bounds the caller's pulls to the window", async () => {
    const stub = coordinator.get("slow-arg", Streams);
    const stats = newStats();
    const chunk = 16 * 1024;
    const read = await stub.readSomeAndHold(patternStream(Infinity, chunk, stats), 40_000);
    await settle();
    const first = stats.pulls;
    await settle();
    expect(stats.pulls).toBe(first);
    expect(stats.bytes).toBeLessThanOrEqual(read + 2 * WINDOW + 2 * chunk);
    await stub.dropHeld();
    await until("the caller's source to be cancelled", () => stats.cancelled === "dropped");
    await until("the caller's export to be released", () => exportsOf("slow-arg") === 0);
  });

  it("cancellation: the caller cancelling a result cancels the object's source with the reason", async () => {
    const stub = coordinator.get("cancel-result", Streams);
    const stream = await stub.produce(Infinity, 1000);
    const reader = stream.getReader();
    await reader.read();
    await reader.cancel(new Error("had enough"));
    await until("the source's cancel", async () => (await stub.stats())!.cancelled === "Error: had enough");
  });

  it("cancellation: the object cancelling an argument cancels the caller's source with the reason", async () => {
    const stub = coordinator.get("cancel-arg", Streams);
    const stats = newStats();
    const bytes = await stub.consumeSome(patternStream(Infinity, 1000, stats), 5000, "got enough");
    expect(bytes).toBeGreaterThanOrEqual(5000);
    await until("the caller's source to be cancelled", () => stats.cancelled === "got enough");
    await until("the caller's export to be released", () => exportsOf("cancel-arg") === 0);
  });

  it("an argument stream the method does not read (returns, or throws first) is cancelled when the call completes", async () => {
    const stub = coordinator.get("ignore", Streams);
    const ignored = newStats();
    expect(await stub.ignore(patternStream(Infinity, 1000, ignored), false)).toBe("ignored");
    await until("the ignored source to be cancelled", () => ignored.cancelled !== undefined);
    expect(ignored.cancelled).toMatch(/not read by the call that received it/);
    const refused = newStats();
    await expect(stub.ignore(patternStream(Infinity, 1000, refused), true)).rejects.toThrow("not reading that");
    await until("the refused source to be cancelled", () => refused.cancelled !== undefined);
    await until("the caller's exports to be released", () => exportsOf("ignore") === 0);
    // Bounded even so: the receiver pulled at most a window before it was cancelled.
    expect(ignored.bytes).toBeLessThanOrEqual(2 * WINDOW);
  });

  it("a result's source error reaches the caller's reader with name, message and code", async () => {
    const stub = coordinator.get("err-result", Streams);
    const stream = await stub.produce(Infinity, 1000, 10_000);
    const error = await readAll(stream).then(
      () => undefined,
      (e: unknown) => e as Error & { code?: unknown },
    );
    expect(error).toBeInstanceOf(RangeError);
    expect(error).toMatchObject({ message: "source broke at 10000", code: "E_SOURCE" });
  });

  it("an argument's source error reaches the object's reader with name, message and code", async () => {
    const stub = coordinator.get("err-arg", Streams);
    const got = await stub.consume(patternStream(Infinity, 1000, newStats(), 20_000));
    expect(got).toEqual({ bytes: 20_000, mismatch: -1, error: { name: "RangeError", message: "source broke at 20000", code: "E_SOURCE" } });
    await until("the caller's export to be released", () => exportsOf("err-arg") === 0);
  });

  it("string chunks cross as UTF-8 (as on workerd); other chunks that are not bytes error the reader saying what to do; a locked stream is refused", async () => {
    const stub = coordinator.get("strings", Streams);
    const texts = ["héllo", "", "wörld ✓"];
    const strings = new ReadableStream({ pull: (c) => { const t = texts.shift(); if (t === undefined) c.close(); else c.enqueue(t); } });
    const sent = await stub.consume(strings as ReadableStream<Uint8Array>);
    expect([sent.bytes, sent.error]).toEqual([new TextEncoder().encode("héllowörld ✓").byteLength, undefined]);
    const objects = new ReadableStream({ pull: (c) => c.enqueue({ n: 1 }) });
    const got = await stub.consume(objects as ReadableStream<Uint8Array>);
    expect(got.error).toMatchObject({ name: "TypeError" });
    expect(got.error!.message).toMatch(/bytes only.*produced an object.*TextEncoderStream/);
    const locked = new ReadableStream();
    locked.getReader();
    await expect(stub.consume(locked as ReadableStream<Uint8Array>)).rejects.toThrow(/locked ReadableStream/);
  });

  it("1 GiB streamed through a call: both processes' RSS stay bounded", { timeout: 120_000 }, async () => {
    const stub = coordinator.get("big", Streams);
    const hostPid = await stub.pid();
    const GiB = 1024 * MiB;
    const started = Date.now();
    const rss = await peakRss(hostPid, async () => {
      const stream = await stub.produce(GiB, 1 * MiB);
      expect(await readAll(stream, false)).toEqual({ bytes: GiB, mismatch: -1 });
    });
    const seconds = (Date.now() - started) / 1000;
    console.log(`rpc-streams (${hostCount} hosts): 1 GiB in ${seconds.toFixed(1)} s; ${describeRss(rss, "caller")}`);
    expectRssBounded(rss, hostPid);
  });
});

describe("ReadableStreams over RPC: the producing host dies", () => {
  let cluster: TestCluster;
  let coordinator: ClusterCoordinator;
  beforeAll(async () => {
    cluster = await startCluster({ hostCount: 2, isolatesPerHost: 1, modules: [FIXTURES, STREAMS_MODULE], durableObjects: { STREAMS: Streams } });
    coordinator = cluster.coordinator;
  });
  afterAll(async () => {
    await cluster.close();
  });

  it("kill -9 of the host producing a result mid-stream errors the caller's reader clearly", async () => {
    const stub = coordinator.get("doomed", Streams);
    const pid = await stub.pid();
    const stream = await stub.produce(Infinity, 64 * 1024);
    const reader = stream.getReader();
    for (let i = 0; i < 5; i++) await reader.read();
    process.kill(pid, "SIGKILL");
    let error: (Error & { code?: unknown }) | undefined;
    try {
      for (;;) if ((await reader.read()).done) break;
    } catch (e) {
      error = e as Error & { code?: unknown };
    }
    expect(error, "the reader must fail, not end").toBeDefined();
    console.log(`rpc-streams: reader error after kill -9: ${error!.name} ${String(error!.code)}: ${error!.message}`);
    expect([ErrorCode.REFERENCE_RELEASED, ErrorCode.HOST_UNAVAILABLE]).toContain(error!.code);
  });

  it("kill -9 of the host reading an argument mid-stream cancels the caller's source and releases its export", async () => {
    const stub = coordinator.get("doomed-reader", Streams);
    const pid = await stub.pid();
    const client = coordinator.clientFor("Streams", stub.id.toString());
    const stats = newStats();
    await stub.readSomeAndHold(patternStream(Infinity, 16 * 1024, stats), 50_000);
    expect(client.caps.exportCount).toBe(1);
    expect(stats.cancelled).toBeUndefined();
    process.kill(pid, "SIGKILL");
    await until("the caller's source to be cancelled", () => stats.cancelled !== undefined);
    expect(stats.cancelled).toMatch(/ERR_REFERENCE_RELEASED|reader went away/);
    expect(client.caps.exportCount).toBe(0);
  });
});
