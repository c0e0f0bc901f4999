// Byte streams over RPC on both engines (issue 14 part 5): one worker script and one Durable Object
// class (fixtures/rpc-streams/app.ts) on workerd through miniflare, inside a Worker, and on sourdough
// through serve() with 2 host processes and in-process (hostCount: 0). Streams as arguments and
// results, cancellation both ways, source errors, backpressure (the sources' pull counts), and
// Request/Response bodies through stub.fetch(). Where the engines differ, each engine's observation is
// asserted exactly and the difference is listed in docs/compatibility.md ("Streams: sourdough and
// workerd side by side").
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { miniflareSkipReason, workerdVersion } from "../support/miniflare.ts";
import { Hash, MiB, patternHash } from "./fixtures/rpc-streams/app.ts";
import { startStreamsApp } from "./fixtures/rpc-streams/main.ts";
import { expectEach, expectSame, startRpcEngines, type Answers, type RpcEngines } from "./rpc-engines.ts";

const skip = miniflareSkipReason();
if (skip !== undefined) console.log(skip);

/** runtime/rpc/streams.ts's STREAM_WINDOW: bytes per read and the receiving queue's high-water mark. */
const WINDOW = 256 * 1024;
/** The chunk size of the backpressure cases' sources. */
const CHUNK = 16 * 1024;

/** workerd's error for any failure of a stream received over RPC (the source's own error does not cross). */
const WORKERD_DISCONNECTED = { name: "Error", message: "ReadableStream received over RPC disconnected prematurely." };
/** The reason workerd's sources get when the reader on the other side cancels (the reader's reason does not cross). */
const WORKERD_CANCELLED = "Error: Network connection lost.";
/** sourdough's error for a chunk that is not bytes (`what`: how the chunk is described). */
const notBytes = (what: string) => ({
  name: "TypeError",
  message: `a ReadableStream passed over RPC carries bytes only (Uint8Array, ArrayBuffer or another ArrayBufferView; strings cross as UTF-8), and its source produced ${what}. Encode the chunks first (e.g. pipe it through a TextEncoderStream).`,
});

function hashOf(bytes: Uint8Array): string {
  const hash = new Hash();
  hash.update(bytes);
  return hash.hex;
}

describe.skipIf(skip)("byte streams over RPC on sourdough and workerd", () => {
  let engines: RpcEngines;
  const ask = (name: string) => engines.answers(`/?case=${name}`);

  beforeAll(async () => {
    engines = await startRpcEngines("test/engines/fixtures/rpc-streams/main.ts", startStreamsApp);
    console.log(`rpc-streams engines: workerd ${workerdVersion() ?? "(version unknown)"}, sourdough modes: ${Object.keys(engines.apps).join(", ")}`);
  });

  afterAll(() => engines?.close());

  it("bundles the app for workerd with no Node import", () => {
    expect(engines.two.project.bundle).toContain('from "cloudflare:workers"');
    expect(engines.two.project.bundle).not.toMatch(/better-sqlite3|node:net|node:fs/);
  });

  it("a few MiB passed as an argument reach the object whole: same byte count and hash", async () => {
    expectSame(await ask("argument"), { got: { bytes: 3 * MiB + 7, hash: patternHash(3 * MiB + 7) } });
  });

  it("a few MiB returned by the object are read to the end: same byte count, hash and source pulls", async () => {
    // 53 chunks of 100 000 bytes and the pull that closes the stream.
    expectSame(await ask("result"), { got: { bytes: 5 * MiB + 123, hash: patternHash(5 * MiB + 123) }, source: { pulls: 54, bytes: 5 * MiB + 123 } });
  });

  it("a result read in part, then cancelled: the object's source is cancelled (the reason crosses on sourdough only)", async () => {
    const answers = await ask("resultCancelled");
    const want = (cancelled: string) => ({ bytes: 5000, seen: true, cancelled });
    expectEach(answers, { workerd: want(WORKERD_CANCELLED), sourdough: want("Error: had enough") });
  });

  it("a result whose source errors mid-stream errors the caller's reader after the bytes sent before", async () => {
    const want = (error: unknown) => ({ bytes: 10_000, hash: patternHash(10_000), error });
    expectEach(await ask("resultErrors"), { workerd: want(WORKERD_DISCONNECTED), sourdough: want({ name: "RangeError", message: "source broke at 10000" }) });
  });

  it("an argument whose source errors mid-stream errors the object's reader after the bytes sent before", async () => {
    const want = (error: unknown) => ({ bytes: 20_000, hash: patternHash(20_000), error });
    expectEach(await ask("argumentErrors"), { workerd: want(WORKERD_DISCONNECTED), sourdough: want({ name: "RangeError", message: "source broke at 20000" }) });
  });

  it("an argument the object never reads: sourdough cancels it when the call completes, workerd does not (within 1 s)", async () => {
    const answers = await ask("argumentIgnored");
    const { pulledUpTo: onWorkerd, ...workerd } = answers.workerd as { pulledUpTo: number };
    expect(workerd).toEqual({ answer: "ignored a ReadableStream", seen: false });
    expect(onWorkerd).toBeLessThanOrEqual(64 * 1024);
    for (const [mode, got] of Object.entries(answers.sourdough)) {
      const { pulledUpTo, ...rest } = got as { pulledUpTo: number };
      expect(rest, mode).toEqual({ answer: "ignored a ReadableStream", seen: true, cancelled: "SourdoughError: a ReadableStream passed over RPC was not read by the call that received it (cancelled when that call completed)." });
      expect(pulledUpTo, mode).toBeLessThanOrEqual(2 * WINDOW);
    }
    console.log(`rpc-streams: an ignored argument's source pulled up to ${onWorkerd} bytes on workerd, ${Object.values(answers.sourdough).map((a) => (a as { pulledUpTo: number }).pulledUpTo).join(" / ")} on sourdough`);
  });

  it("the object cancelling an argument it read in part cancels the caller's source (the reason crosses on sourdough only)", async () => {
    const want = (cancelled: string) => ({ bytes: 5000, seen: true, cancelled });
    expectEach(await ask("argumentCancelledByObject"), { workerd: want(WORKERD_CANCELLED), sourdough: want("got enough") });
  });

  it("the caller aborting an argument stream mid-way errors the object's reader after the bytes written before", async () => {
    const want = (error: unknown) => ({ bytes: 8000, hash: patternHash(8000), error });
    expectEach(await ask("argumentAbortedByCaller"), { workerd: want(WORKERD_DISCONNECTED), sourdough: want({ name: "Error", message: "caller gave up" }) });
  });

  describe("backpressure: a paused reader stops the producer's pulls within a bound", () => {
    type Paused = { read: number; stopped: boolean; ahead: number; pulls: number; seen: boolean; cancelled: string };
    /** Asserts the common part, the cancel reason and each engine's bound on the bytes pulled ahead of the reader; returns the figures. */
    function check(answers: Answers, minRead: number, reasonOnSourdough: string): string {
      const figures: string[] = [];
      const engine = (name: string, got: Paused, bound: number, reason: string) => {
        expect({ stopped: got.stopped, seen: got.seen, cancelled: got.cancelled }, name).toEqual({ stopped: true, seen: true, cancelled: reason });
        expect(got.read, name).toBeGreaterThanOrEqual(minRead);
        expect(got.ahead, name).toBeGreaterThan(0);
        expect(got.ahead, name).toBeLessThanOrEqual(bound);
        figures.push(`${name}: read ${got.read}, pulled ${got.ahead} bytes ahead (${got.pulls} pulls)`);
      };
      // workerd: its pipe holds about one chunk. sourdough: the receiving queue (a window) plus one read in flight.
      engine("workerd", answers.workerd as Paused, 4 * CHUNK, WORKERD_CANCELLED);
      for (const [mode, got] of Object.entries(answers.sourdough)) engine(`sourdough (${mode})`, got as Paused, WINDOW + 2 * CHUNK, reasonOnSourdough);
      return figures.join("; ");
    }

    it("a result the caller reads three chunks of, then pauses", async () => {
      console.log(`rpc-streams backpressure, result: ${check(await ask("backpressureResult"), 3 * 4096, "done")}`);
    });

    it("an argument the object reads 40 000 bytes of, then holds", async () => {
      console.log(`rpc-streams backpressure, argument: ${check(await ask("backpressureArgument"), 40_000, "dropped")}`);
    });
  });

  describe("Request and Response bodies through stub.fetch()", () => {
    it("a POST of a few MiB is hashed by the object: same byte count and hash", async () => {
      expectSame(await ask("fetchPost"), { status: 200, got: { method: "POST", bytes: 4 * MiB + 5, hash: patternHash(4 * MiB + 5) } });
    });

    it("a streamed Response of a few MiB is read to the end: same status, type, byte count and hash", async () => {
      expectSame(await ask("fetchResponse"), { status: 200, type: "application/octet-stream", got: { bytes: 4 * MiB + 9, hash: patternHash(4 * MiB + 9) } });
    });

    // Fetch bodies stream (issue 14 part 3): a source error reaches the body's reader, as on workerd.
    const sourceBroke = { name: "RangeError", message: `source broke at ${MiB}` };

    it("a Response whose source errors mid-way: stub.fetch() resolves and the body's reader gets the source's error, on both", async () => {
      const answers = await ask("fetchResponseErrors");
      const streamed = { phase: "body", status: 200, bytesBeforeError: true, error: sourceBroke };
      expect(answers.workerd, "workerd").toEqual(streamed);
      for (const [mode, got] of Object.entries(answers.sourdough)) expect(got, `sourdough (${mode})`).toEqual(streamed);
    });

    it("a POST whose source errors mid-way: workerd hands the object a body cut short with no error; sourdough errors the object's reader with the source's error", async () => {
      const answers = await ask("fetchPostErrors");
      expect(answers.workerd, "workerd").toEqual({ phase: "object", status: 200, bytes: MiB });
      const streamed = { phase: "object", status: 200, bytes: MiB, error: sourceBroke };
      for (const [mode, got] of Object.entries(answers.sourdough)) expect(got, `sourdough (${mode})`).toEqual(streamed);
    });
  });

  it("ArrayBuffer and DataView chunks, and a byte stream (type: \"bytes\"), cross as their bytes", async () => {
    const got = { bytes: 4000, hash: patternHash(4000) };
    expectSame(await ask("otherByteChunks"), { views: got, byteStream: got });
  });

  describe("chunks that are not bytes", () => {
    it("a stream of objects is refused at its first chunk, both ways: workerd says it disconnected, sourdough says what to do", async () => {
      // Neither engine refuses it when the call is made: the call goes out and the reader errors.
      const want = (error: unknown, sourceCancelled: string) => ({
        argument: { phase: "returned", got: { bytes: 0, hash: patternHash(0), error } },
        argumentSourceCancelled: sourceCancelled,
        result: { phase: "read", got: { bytes: 0, hash: patternHash(0), error } },
      });
      expectEach(await ask("objects"), {
        workerd: want(WORKERD_DISCONNECTED, "TypeError: Draining read encountered a value that cannot be converted to bytes"),
        sourdough: want(notBytes("an object"), `TypeError: ${notBytes("an object").message}`),
      });
    });

    it("a stream of strings: each string crosses as its UTF-8 bytes, on both engines", async () => {
      const utf8 = { phase: "returned", got: { bytes: 15, hash: hashOf(new TextEncoder().encode("téxttéxttéxt")) } };
      expectSame(await ask("strings"), { argument: utf8, result: { ...utf8, phase: "read" } });
    });
  });

  it("a locked stream is refused when the call is made, with each engine's error", async () => {
    expectEach(await ask("locked"), {
      workerd: { phase: "call", error: { name: "TypeError", message: "The ReadableStream has been locked to a reader." } },
      sourdough: { phase: "call", error: { name: "DataCloneError", message: "Streams.consume arguments: a locked ReadableStream cannot cross RPC: it is being read already (release its reader, or pass a tee() branch)." } },
    });
  });

  it("leaves no host process, workerd, socket or temp dir behind", async () => {
    await engines.close();
  });
});
