// What one connection does about its peer: answers ping with pong, closes a frame left incomplete
// past the partial-frame timeout (with a goodbye saying why), refuses connections past the limit;
// and what a caller does with a call too large to send: refuses it alone, before sending.
import { afterEach, describe, expect, it } from "vitest";
import { ErrorCode } from "../../runtime/errors.ts";
import { RpcClient } from "../../runtime/rpc/rpc-client.ts";
import { FrameConnection, refuseConnection } from "../../runtime/transport/frame-connection.ts";
import type { Pipe, PipeHandlers } from "../../runtime/transport/pipe.ts";
import { memoryPipePair } from "../../runtime/transport/pipe.ts";
import { decodeMessage } from "../../runtime/wire/decode-message.ts";
import { CallKind, ControlWhich, Which, type Message } from "../../runtime/wire/envelope.ts";
import { FrameReader } from "../../runtime/wire/frame-reader.ts";
import { FrameWriter } from "../../runtime/wire/frame-writer.ts";
import { encodePayload } from "../../runtime/wire/payload.ts";

// A pipe driven by the test: `feed` delivers bytes to the connection; what it writes is decoded.
function fakePipe(): Pipe & { feed(b: Buffer): void; sent: Message[]; ended: boolean } {
  let handlers: PipeHandlers | undefined;
  const reader = new FrameReader((buf, s, e) => pipe.sent.push(decodeMessage(buf, s, e)));
  const pipe = {
    sent: [] as Message[],
    ended: false,
    feed: (b: Buffer) => handlers!.data(b),
    write: (b: Buffer) => reader.push(b),
    end: () => {
      pipe.ended = true;
      setImmediate(() => handlers?.close(undefined));
    },
    destroy: () => {
      pipe.ended = true;
    },
    attach: (h: PipeHandlers) => void (handlers = h),
  };
  return pipe;
}

const frames = (write: (w: FrameWriter) => void): Buffer => {
  const w = new FrameWriter();
  write(w);
  return Buffer.from(w.take());
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("FrameConnection control", () => {
  it("answers ping with pong carrying the same value, without telling the handler", async () => {
    const pipe = fakePipe();
    const seen: Message[] = [];
    new FrameConnection(pipe, { message: (m) => void seen.push(m), close: () => {} });
    pipe.feed(frames((w) => w.writeControl(ControlWhich.Ping, 0xfeedn)));
    await sleep(5);
    expect(pipe.sent).toEqual([{ which: Which.Control, control: ControlWhich.Pong, value: 0xfeedn, reason: undefined }]);
    expect(seen).toEqual([]);
  });
});

describe("FrameConnection partial-frame timeout", () => {
  it("closes a connection holding an incomplete frame past the timeout, with a goodbye saying why", async () => {
    const pipe = fakePipe();
    let closed: Error | undefined;
    new FrameConnection(pipe, { message: () => {}, close: (e) => void (closed = e) }, { partialFrameTimeoutMs: 60 });
    const frame = frames((w) => w.writeReturn(1, new Uint8Array(100)));
    pipe.feed(frame.subarray(0, 20));
    await sleep(30);
    pipe.feed(frame.subarray(20, 21)); // a byte now and then does not reset the clock
    await sleep(80);
    expect(pipe.ended).toBe(true);
    expect(pipe.sent).toMatchObject([{ which: Which.Control, control: ControlWhich.Goodbye, reason: expect.stringMatching(/^sourdough wire: a frame stayed incomplete for 60 ms \(21 bytes received\)\. A frame must arrive whole within the partial-frame timeout; the connection was closed\.$/) }]);
    expect(closed).toMatchObject({ code: ErrorCode.PROTOCOL });
  });

  it("keeps a connection whose frames keep completing, even when each chunk ends mid-frame", async () => {
    const pipe = fakePipe();
    const seen: Message[] = [];
    new FrameConnection(pipe, { message: (m) => void seen.push(m), close: () => {} }, { partialFrameTimeoutMs: 50 });
    const one = frames((w) => w.writeReturn(1, new Uint8Array(40)));
    const stream = Buffer.concat(Array.from({ length: 12 }, () => one));
    for (let at = 0; at < stream.length; at += one.length) {
      pipe.feed(stream.subarray(at === 0 ? 0 : at - 10, at + one.length - 10)); // always ends 10 bytes short
      await sleep(15);
    }
    expect(pipe.ended).toBe(false);
    expect(seen.length).toBe(11);
  });

  it("has no timeout when given 0 (a caller's connection to its cluster's isolate)", async () => {
    const pipe = fakePipe();
    new FrameConnection(pipe, { message: () => {}, close: () => {} }, { partialFrameTimeoutMs: 0 });
    pipe.feed(frames((w) => w.writeReturn(1, new Uint8Array(100))).subarray(0, 20));
    await sleep(50);
    expect(pipe.ended).toBe(false);
  });

  it("leaves an idle connection (no partial frame) open", async () => {
    const pipe = fakePipe();
    new FrameConnection(pipe, { message: () => {}, close: () => {} }, { partialFrameTimeoutMs: 20 });
    pipe.feed(frames((w) => w.writeReturn(1, new Uint8Array(8))));
    await sleep(60);
    expect(pipe.ended).toBe(false);
  });
});

describe("refuseConnection", () => {
  it("sends a goodbye with the reason, then closes", async () => {
    const pipe = fakePipe();
    refuseConnection(pipe, "too many connections");
    await sleep(5);
    expect(pipe.ended).toBe(true);
    expect(pipe.sent).toMatchObject([{ control: ControlWhich.Goodbye, reason: "too many connections" }]);
  });
});

describe("RpcClient size limit", () => {
  const clients: RpcClient[] = [];
  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
  });

  it("refuses a call over maxCallBytes before sending it, and only that call", async () => {
    const received: Message[] = [];
    let server: FrameConnection | undefined;
    const client = new RpcClient(
      async () => {
        const [mine, theirs] = memoryPipePair();
        server = new FrameConnection(theirs, { message: (m) => void received.push(m), close: () => {} });
        return mine;
      },
      { peer: "test peer", connectTimeoutMs: 1000, maxCallBytes: 1000 },
    );
    clients.push(client);
    const target = { namespace: "Counter", objectId: "ab".repeat(32), name: undefined };
    const call = (method: string, arg: unknown) => client.call(CallKind.Method, target, method, 0, encodePayload([arg], "test", Infinity), `Counter.${method}`); // the client's own check, not the encoder's
    const before = call("before", 1);
    const big = call("big", new Uint8Array(2000)).catch((e: unknown) => e);
    const after = call("after", 2);
    expect(await big).toMatchObject({
      code: ErrorCode.TOO_LARGE,
      message: expect.stringMatching(/^Counter\.big: the arguments encode to 20\d\d bytes \(2\.0 KiB\), over the limit of 1000 bytes \(1\.0 KiB\) per call \(maxCallBytes; Cloudflare allows 32 MiB per RPC\)\. Send less per call \(split it, or store it and pass a key\), or raise the coordinator's maxCallBytes\.$/),
    });
    await sleep(20);
    expect(received.map((m) => (m as { method?: string }).method)).toEqual(["before", "after"]);
    for (const m of received) server!.writer.writeReturn((m as { questionId: number }).questionId, encodePayload("ok", "test"));
    server!.flush();
    await expect(Promise.all([before, after])).resolves.toEqual(["ok", "ok"]);
  });
});

describe("encodePayload size pre-check", () => {
  it("refuses a sparse array whose length alone is over the limit, before encoding it", () => {
    const sparse: number[] = [];
    sparse[1e8] = 1;
    const started = performance.now();
    expect(() => encodePayload([{ rows: sparse }], "Counter.add arguments", 32 * 1024 * 1024)).toThrow(
      expect.objectContaining({
        code: ErrorCode.TOO_LARGE,
        message: expect.stringMatching(/^Counter\.add arguments\[0\]\.rows: a value of 100000001 elements makes the encoding at least 10000000\d bytes \(95\.4 MiB\), over the limit of 33554432 bytes \(32 MiB\) per call \(maxCallBytes\)\. An array sends every index up to its length \(a sparse a\[1e8\] = 1 sends 10\^8 values\): send an object or a Map of the indices that are set\.$/),
      }),
    );
    expect(performance.now() - started).toBeLessThan(100);
  });

  it("lets through values under the limit, and counts a shared array once", () => {
    const shared = new Array(600).fill(0);
    expect(encodePayload([shared, shared], "x", 1000).length).toBeGreaterThan(600);
  });
});
