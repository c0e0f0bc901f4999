// Request and Response bodies through stub.fetch() and serve() (issue 14 part 3): small bodies
// inline, large or slow ones streamed with flow control, in both modes: real hosts over real sockets,
// and in-process (hostCount: 0). Failures: the HTTP client going away mid-upload / mid-download, the
// object's body failing mid-stream, kill -9 of the host mid-download.
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import v8 from "node:v8";
import vm from "node:vm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode, serve, type ServeHandle } from "sourdough";
// The same module instance "sourdough" loads (dist/), for the stream read counters of this process.
import { streamCounters } from "../../dist/runtime/rpc/streams.js";
import { Bodies, worker, type Uploaded } from "../fixtures/fetch-streams.ts";
import { patternChunk, patternMismatch, patternStream, type SourceStats } from "../fixtures/rpc-streams.ts";
import { isAlive } from "../support/cluster.ts";
import { describeRss, expectRssBounded, peakRss } from "../support/rss.ts";
import { failOnUnhandledRejections } from "../support/unhandled.ts";

// A real garbage collection (the test of unread bodies): --expose-gc at run time, as V8 allows.
v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as () => void;

const MODULE = new URL("../fixtures/fetch-streams.ts", import.meta.url);
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
const newStats = (): SourceStats => ({ pulls: 0, bytes: 0, cancelled: undefined });

/** sha256 of the first `n` bytes of the pattern (remembered: 1 GiB takes seconds). */
const hashes = new Map<number, string>();
function patternHash(n: number): string {
  const known = hashes.get(n);
  if (known !== undefined) return known;
  const hash = createHash("sha256");
  for (let at = 0; at < n; at += 4 * MiB) hash.update(patternChunk(at, Math.min(4 * MiB, n - at)));
  const hex = hash.digest("hex");
  hashes.set(n, hex);
  return hex;
}

/** Reads a body to its end: bytes, sha256, and the first offset breaking the pattern (-1: none). */
async function digest(body: ReadableStream<Uint8Array> | null): Promise<{ bytes: number; sha256: string; mismatch: number }> {
  const hash = createHash("sha256");
  let bytes = 0;
  let mismatch = -1;
  for await (const chunk of body ?? []) {
    if (mismatch < 0) mismatch = patternMismatch(bytes, chunk, false);
    hash.update(chunk);
    bytes += chunk.byteLength;
  }
  return { bytes, sha256: hash.digest("hex"), mismatch };
}

/** Writes `total` bytes of the test pattern to `req` in 1 MiB writes, waiting for 'drain', then ends it. */
function writePattern(req: http.ClientRequest, total: number): void {
  let at = 0;
  const write = (): void => {
    while (at < total) {
      const n = Math.min(MiB, total - at);
      const more = req.write(patternChunk(at, n));
      at += n;
      if (!more) return void req.once("drain", write);
    }
    req.end();
  };
  write();
}

/** An HTTP request with node:http, for what fetch() cannot do: watch headers, go away mid-body. */
function request(url: string, method: string): { req: http.ClientRequest; response: Promise<http.IncomingMessage> } {
  const req = http.request(url, { method });
  const response = new Promise<http.IncomingMessage>((resolve, reject) => {
    req.once("response", resolve);
    req.once("error", reject);
  });
  return { req, response };
}

/** POSTs `total` pattern bytes with node:http (chunked, 1 MiB writes, waiting for 'drain'); the JSON answer. */
function upload(url: string, total: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: "POST" }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (text += c));
      res.on("end", () => resolve(JSON.parse(text)));
      res.on("error", reject);
    });
    req.on("error", reject);
    writePattern(req, total);
  });
}

interface Sent {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  /** The client's port of the connection that carried it. */
  port: number;
}
/**
 * Sends `method url` on `agent` with `bytes` pattern bytes (with a Content-Length unless `chunked`),
 * written in 1 MiB pieces on 'drain', and resolves with the whole response even if the server
 * answered before reading the body (the rest of the upload may then fail: ignored).
 */
function send(agent: http.Agent, url: string, method: string, bytes = 0, chunked = false): Promise<Sent> {
  return new Promise((resolve, reject) => {
    const headers = bytes > 0 && !chunked ? { "content-length": String(bytes) } : undefined;
    let answered = false;
    const req = http.request(url, { method, agent, headers }, (res) => {
      const port = res.socket.localPort!;
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (text += c));
      res.on("end", () => {
        answered = true;
        resolve({ status: res.statusCode!, headers: res.headers, text, port });
      });
      res.on("error", reject);
    });
    req.on("error", (e) => {
      if (!answered) reject(e);
    });
    writePattern(req, bytes);
  });
}

/**
 * serve() with the Bodies fixture over a temp storageDir for one describe block; after the block the
 * app is closed, its host processes are gone and the directory is removed.
 */
function serveBodies(options: { hostCount: number; maxCallBytes?: number }, started: (app: ServeHandle) => void): void {
  let app: ServeHandle;
  let storageDir: string;
  beforeAll(async () => {
    storageDir = mkdtempSync(path.join(os.tmpdir(), "sourdough-test-"));
    app = serve(worker, { durableObjects: { BODIES: Bodies }, modules: [MODULE], isolatesPerHost: 1, storageDir, output: () => {}, handleSignals: false, ...options });
    await app.ready;
    started(app);
  });
  afterAll(async () => {
    const pids = app.coordinator.hosts.flatMap((h) => (h.pid === undefined ? [] : [h.pid]));
    await app.close();
    for (const pid of pids) expect(isAlive(pid)).toBe(false);
    rmSync(storageDir, { recursive: true, force: true });
  });
}

describe.each([
  { mode: "2 host processes", hostCount: 2 },
  { mode: "in-process (hostCount: 0)", hostCount: 0 },
])("Request and Response bodies through stub.fetch() and serve(): $mode", ({ hostCount }) => {
  let app: ServeHandle;
  failOnUnhandledRejections(30);
  const stub = (name: string) => app.coordinator.get(name, Bodies);
  serveBodies({ hostCount }, (started) => (app = started));

  it("small bodies cross inline both ways (no stream reads)", async () => {
    const before = streamCounters.reads;
    const res = await stub("small").fetch("http://do/text", { method: "POST", body: "hello" });
    expect(await res.text()).toBe("POST hello");
    const echo = await stub("small").fetch("http://do/echo", { method: "PUT", body: new Uint8Array(60 * 1024).fill(7) });
    expect(echo.headers.get("x-method")).toBe("PUT");
    expect(new Uint8Array(await echo.arrayBuffer())).toEqual(new Uint8Array(60 * 1024).fill(7));
    const http = await fetch(`${app.url}/text?name=small`, { method: "POST", body: "over http" });
    expect(http.headers.get("content-length")).toBe(String("POST over http".length));
    expect(await http.text()).toBe("POST over http");
    expect(streamCounters.reads).toBe(before);
  });

  it("a streamed request body of a few MiB reaches the object's fetch() whole and in order", async () => {
    const before = streamCounters.reads;
    const body = patternStream(5 * MiB + 3, 100_000, newStats());
    const res = await stub("up").fetch("http://do/upload", { method: "POST", body, duplex: "half" } as RequestInit);
    const up = (await res.json()) as Uploaded;
    expect(up).toMatchObject({ bytes: 5 * MiB + 3, sha256: patternHash(5 * MiB + 3) });
    if (hostCount > 0) expect(streamCounters.reads).toBeGreaterThan(before); // this process served the reads
  });

  it("a streamed response body of a few MiB arrives whole and in order; one of bytes in hand keeps its length", async () => {
    const res = await stub("down").fetch(`http://do/download?bytes=${5 * MiB + 1}&chunk=30000`);
    expect(await digest(res.body)).toEqual({ bytes: 5 * MiB + 1, sha256: patternHash(5 * MiB + 1), mismatch: -1 });
    const bytes = await fetch(`${app.url}/bytes?name=down&bytes=${2 * MiB}`);
    expect(bytes.headers.get("content-length")).toBe(String(2 * MiB));
    expect(bytes.headers.get("transfer-encoding")).toBeNull();
    expect(await digest(bytes.body)).toMatchObject({ bytes: 2 * MiB, mismatch: -1 });
  });

  it("an object can answer with the request's own body (echo), streamed both ways", async () => {
    const res = await stub("echo").fetch("http://do/echo", { method: "POST", body: patternStream(3 * MiB, 64 * 1024, newStats()), duplex: "half" } as RequestInit);
    expect(await digest(res.body)).toEqual({ bytes: 3 * MiB, sha256: patternHash(3 * MiB), mismatch: -1 });
  });

  it("Content-Length / Transfer-Encoding over HTTP: chunked without a length, Content-Length with one, both ways", async () => {
    // The object's stream has more than 1 MiB at hand: streamed, its length unknown.
    const chunked = await fetch(`${app.url}/download?name=te&bytes=${3 * MiB}`);
    expect(chunked.headers.get("transfer-encoding")).toBe("chunked");
    expect(chunked.headers.get("content-length")).toBeNull();
    expect(await digest(chunked.body)).toMatchObject({ bytes: 3 * MiB, mismatch: -1 });
    const sized = await fetch(`${app.url}/download?name=te&bytes=${3 * MiB}&length`);
    expect(sized.headers.get("content-length")).toBe(String(3 * MiB));
    expect(sized.headers.get("transfer-encoding")).toBeNull();
    expect(await digest(sized.body)).toMatchObject({ bytes: 3 * MiB, mismatch: -1 });
    // A body whole in memory (≤ 1 MiB) crosses inline and goes out with its length.
    const whole = await fetch(`${app.url}/download?name=te&bytes=${MiB}`);
    expect(whole.headers.get("content-length")).toBe(String(MiB));
    expect(await digest(whole.body)).toMatchObject({ bytes: MiB, mismatch: -1 });
    // Uploads: the object sees the client's framing headers.
    const up = (await (await fetch(`${app.url}/upload?name=te`, { method: "POST", body: patternStream(MiB, 50_000, newStats()), duplex: "half" } as RequestInit)).json()) as Uploaded;
    expect(up).toMatchObject({ bytes: MiB, contentLength: null, transferEncoding: "chunked", sha256: patternHash(MiB) });
    const sizedUp = (await (await fetch(`${app.url}/upload?name=te`, { method: "POST", body: patternChunk(0, MiB) })).json()) as Uploaded;
    expect(sizedUp).toMatchObject({ bytes: MiB, contentLength: String(MiB), transferEncoding: null, sha256: patternHash(MiB) });
  });

  it("an 8 MiB body the worker never reads, answered 401: Connection: close, and the next request on the agent succeeds", async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (const chunked of [false, true]) {
        const refused = await send(agent, `${app.url}/w/unauthorized`, "POST", 8 * MiB, chunked);
        expect(refused).toMatchObject({ status: 401, text: "no" });
        expect(refused.headers.connection).toBe("close");
        const next = await send(agent, `${app.url}/text?name=after-unread`, "POST", 0);
        expect(next).toMatchObject({ status: 200, text: "POST " });
        expect(next.port).not.toBe(refused.port);
      }
      // The same from a throwing worker.fetch (its 500).
      const threw = await send(agent, `${app.url}/w/throw`, "POST", 8 * MiB);
      expect(threw).toMatchObject({ status: 500, text: "Internal Server Error\n" });
      expect(threw.headers.connection).toBe("close");
      expect((await send(agent, `${app.url}/w/hello`, "GET")).text).toBe("hello world");
    } finally {
      agent.destroy();
    }
  });

  it("a small unread body is drained: the connection is kept and serves the next request", async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const refused = await send(agent, `${app.url}/w/unauthorized`, "POST", 48 * 1024);
      expect(refused).toMatchObject({ status: 401, text: "no" });
      expect(refused.headers.connection).toBe("keep-alive");
      const next = await send(agent, `${app.url}/w/hello`, "GET");
      expect(next).toMatchObject({ status: 200, text: "hello world", port: refused.port });
    } finally {
      agent.destroy();
    }
  });

  it("a handler that reads half of an 8 MiB body then answers: the answer arrives whole, then the next request succeeds", async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const half = await send(agent, `${app.url}/w/half?bytes=${4 * MiB}`, "POST", 8 * MiB);
      expect(half.status).toBe(200);
      const { got } = JSON.parse(half.text) as { got: number };
      expect(got).toBeGreaterThanOrEqual(4 * MiB);
      expect(got).toBeLessThan(8 * MiB);
      expect(half.headers.connection).toBe("close");
      const next = await send(agent, `${app.url}/upload?name=after-half`, "POST", MiB);
      expect(JSON.parse(next.text)).toMatchObject({ bytes: MiB, sha256: patternHash(MiB) });
    } finally {
      agent.destroy();
    }
  });

  it("HEAD answers carry the Content-Length a GET would have, and no body", async () => {
    const lengthOf = async (url: string) => {
      const head = await fetch(url, { method: "HEAD" });
      expect(await head.text()).toBe("");
      return head.headers.get("content-length");
    };
    expect(await lengthOf(`${app.url}/w/hello`)).toBe("11"); // the worker's own body at hand
    expect(await lengthOf(`${app.url}/bytes?name=head&bytes=1000`)).toBe("1000"); // inline from the object
    expect(await lengthOf(`${app.url}/bytes?name=head&bytes=${2 * MiB}`)).toBe(String(2 * MiB)); // streamed, length known
    expect(await lengthOf(`${app.url}/download?name=head&bytes=${3 * MiB}&length`)).toBe(String(3 * MiB)); // declared
    expect(await lengthOf(`${app.url}/download?name=head&bytes=${3 * MiB}`)).toBeNull(); // being produced: not waited for
    await until("the object's unsent body to be cancelled", async () => (await stub("head").lastDownload())?.cancelled !== undefined);
  });

  it("the HTTP client going away mid-download cancels the object's stream", async () => {
    const { req, response } = request(`${app.url}/download?name=gone-down&chunk=16384`, "GET");
    req.end();
    const res = await response;
    let got = 0;
    await new Promise<void>((resolve) => {
      res.on("data", (chunk: Buffer) => {
        got += chunk.byteLength;
        if (got >= MiB) {
          res.destroy();
          resolve();
        }
      });
    });
    await until("the object's stream to be cancelled", async () => (await stub("gone-down").lastDownload())?.cancelled !== undefined);
    const stats = (await stub("gone-down").lastDownload())!;
    expect(stats.cancelled).toMatch(/closed the connection|went away/);
    expect(stats.bytes).toBeLessThan(got + 4 * MiB); // pulled about as far as the client read, not on
  });

  it("the HTTP client going away mid-upload errors the object's request body", async () => {
    const { req, response } = request(`${app.url}/upload?name=gone-up`, "POST");
    response.catch(() => {});
    for (let i = 0; i < 16; i++) req.write(patternChunk(i * 64 * 1024, 64 * 1024));
    await until("the object to be reading", async () => ((await stub("gone-up").lastUpload())?.bytes ?? 0) > 0);
    req.destroy();
    await until("the object's read to fail", async () => (await stub("gone-up").lastUpload())?.error !== undefined);
    const up = (await stub("gone-up").lastUpload())!;
    console.log(`fetch-streams (${hostCount} hosts): the object's body read after the client left: ${up.error!.name} ${String(up.error!.code)}: ${up.error!.message}`);
    expect(up.error!.message).toMatch(/aborted|closed|reset/i);
  });

  it("a response body failing mid-stream truncates the HTTP response (no clean end) and errors stub.fetch's reader", async () => {
    // It fails after 2 MiB, past what is sent before the headers (1 MiB at hand): 200, then cut.
    const viaHttp = await fetch(`${app.url}/download?name=broken&chunk=32768&failAfter=${2 * MiB}`);
    expect(viaHttp.status).toBe(200);
    await expect(digest(viaHttp.body)).rejects.toThrow();
    const res = await stub("broken").fetch(`http://do/download?chunk=32768&failAfter=${MiB / 2}`);
    const error = await digest(res.body).then(
      () => undefined,
      (e: unknown) => e as Error & { code?: unknown },
    );
    expect(error).toBeInstanceOf(RangeError);
    expect(error).toMatchObject({ message: `source broke at ${MiB / 2}`, code: "E_SOURCE" });
  });

  it("a streamed response body nobody reads is released once garbage-collected: the object's stream is cancelled", async () => {
    const imports = () => app.coordinator.clientFor("Bodies", stub("unread").id.toString()).caps.importCount;
    await (async () => {
      const res = await stub("unread").fetch("http://do/download?chunk=65536");
      expect(res.status).toBe(200); // its body is dropped unread
    })();
    expect(imports()).toBe(1);
    await until("the object's stream to be cancelled", async () => {
      gc();
      return (await stub("unread").lastDownload())?.cancelled !== undefined;
    });
    expect((await stub("unread").lastDownload())!.cancelled).toMatch(/went away|released/);
    expect(imports()).toBe(0);
  });

  it("1 GiB up and 1 GiB down through serve() → worker.fetch → stub.fetch → the object's fetch(): content checked, RSS bounded", { timeout: 180_000 }, async () => {
    const hostPid = await stub("big").pid();
    const expected = patternHash(GiB);
    const started = Date.now();
    let upSeconds = 0;
    const rss = await peakRss(hostPid, async () => {
      // node:http, writing on 'drain': Node 20's fetch() reads a stream body ahead of the socket
      // (unbounded, ~1 GiB here), which would be the client's memory, not serve()'s.
      expect(await upload(`${app.url}/upload?name=big`, GiB)).toMatchObject({ bytes: GiB, sha256: expected });
      upSeconds = (Date.now() - started) / 1000;
      const down = await fetch(`${app.url}/download?name=big&bytes=${GiB}&chunk=${MiB}`);
      expect(await digest(down.body)).toEqual({ bytes: GiB, sha256: expected, mismatch: -1 });
    });
    const seconds = (Date.now() - started) / 1000;
    console.log(`fetch-streams (${hostCount} hosts): 1 GiB up in ${upSeconds.toFixed(1)} s, down in ${(seconds - upSeconds).toFixed(1)} s; ${describeRss(rss, "serve+client")}`);
    expectRssBounded(rss, hostPid);
  });
});

describe("Request and Response bodies under a small maxCallBytes (200 KiB)", () => {
  let app: ServeHandle;
  const stub = (name: string) => app.coordinator.get(name, Bodies);
  serveBodies({ hostCount: 1, maxCallBytes: 200 * 1024 }, (started) => (app = started));

  // Under the 256 KiB stream window: each read carries less, so that its answer fits one call.
  it("800 KiB bodies whole in memory stream both ways instead of failing ERR_TOO_LARGE", async () => {
    const body = patternChunk(0, 800 * 1024);
    const up = (await (await stub("limit").fetch("http://do/upload", { method: "POST", body })).json()) as Uploaded;
    expect(up).toMatchObject({ bytes: 800 * 1024, sha256: patternHash(800 * 1024) });
    const down = await stub("limit").fetch(`http://do/bytes?bytes=${800 * 1024}`);
    expect(await digest(down.body)).toEqual({ bytes: 800 * 1024, sha256: patternHash(800 * 1024), mismatch: -1 });
    const viaHttp = await fetch(`${app.url}/bytes?name=limit&bytes=${800 * 1024}`);
    expect(viaHttp.headers.get("content-length")).toBe(String(800 * 1024));
    expect(await digest(viaHttp.body)).toMatchObject({ bytes: 800 * 1024, mismatch: -1 });
    // Small bodies still go inline under the limit.
    await expect(stub("limit").fetch("http://do/text", { method: "POST", body: "small" }).then((r) => r.text())).resolves.toBe("POST small");
  });
});

describe("Request and Response bodies: the host dies mid-download", () => {
  let app: ServeHandle;
  const stub = (name: string) => app.coordinator.get(name, Bodies);
  serveBodies({ hostCount: 2 }, (started) => (app = started));

  it("kill -9 of the host mid-download fails stub.fetch's reader with a clear error", async () => {
    const pid = await stub("doomed").pid();
    const res = await stub("doomed").fetch("http://do/download?chunk=65536");
    const reader = res.body!.getReader();
    for (let i = 0; i < 5; i++) await reader.read();
    process.kill(pid, "SIGKILL");
    let error: (Error & { code?: unknown }) | undefined;
    try {
      for (;;) if ((await reader.read()).done) break;
    } catch (e) {
      error = e as Error & { code?: unknown };
    }
    expect(error, "the reader must fail, not end").toBeDefined();
    expect([ErrorCode.REFERENCE_RELEASED, ErrorCode.HOST_UNAVAILABLE]).toContain(error!.code);
    expect(error!.message).toMatch(/reading a ReadableStream received over RPC/);
  });

  it("kill -9 of the host mid-download cuts the HTTP response (the client's read fails)", async () => {
    await until("the host to be back", async () => (await stub("doomed-http").pid().catch(() => 0)) > 0, 20_000);
    const pid = await stub("doomed-http").pid();
    const res = await fetch(`${app.url}/download?name=doomed-http&chunk=65536`);
    const reader = res.body!.getReader();
    for (let i = 0; i < 5; i++) await reader.read();
    process.kill(pid, "SIGKILL");
    await expect((async () => {
      for (;;) if ((await reader.read()).done) return "ended";
    })()).rejects.toThrow(/terminated|closed|reset|aborted/i);
  });
});
