import { describe, expect, it } from "vitest";
import { decodeMessage } from "../../runtime/wire/decode-message.ts";
import { CallKind, ControlWhich, ProtocolError, Which, type Message } from "../../runtime/wire/envelope.ts";
import { FrameWriter } from "../../runtime/wire/frame-writer.ts";
import { FrameReader } from "../../runtime/wire/frame-reader.ts";

const ID = "0123456789abcdef".repeat(4);

function roundTrip(write: (w: FrameWriter) => void): Message[] {
  const w = new FrameWriter(64); // small, so writing exercises growth
  write(w);
  const out: Message[] = [];
  new FrameReader((buf, s, e) => out.push(decodeMessage(buf, s, e))).push(w.take());
  return out;
}

describe("envelope codec", () => {
  it("round-trips every message kind, several per batch", () => {
    const payload = new Uint8Array(1000).map((_, i) => i & 0xff);
    const got = roundTrip((w) => {
      w.writeCall(7, CallKind.Fetch, 3, "Counter", ID, "increment", payload, "naïve ☃ name");
      w.writeCall(0xffffffff, CallKind.Method, 0, "C", ID, "m", new Uint8Array(0), undefined);
      w.writeReturn(8, new Uint8Array([1, 2, 3]));
      w.writeException(9, true, "TypeError", "bad ☃", "E_X", "stack\nline");
      w.writeException(10, false, "Error", "", undefined, undefined);
      w.writeCancel(11);
      w.writeControl(ControlWhich.Ping, 2n ** 64n - 1n);
      w.writeControl(ControlWhich.Goodbye, 0n, "bye");
    });
    expect(got).toEqual([
      { which: Which.Call, questionId: 7, kind: CallKind.Fetch, methodId: 3, namespace: "Counter", objectId: ID, method: "increment", payload: Buffer.from(payload), name: "naïve ☃ name", target: 0, promisedAnswer: 0 },
      { which: Which.Call, questionId: 0xffffffff, kind: CallKind.Method, methodId: 0, namespace: "C", objectId: ID, method: "m", payload: Buffer.alloc(0), name: undefined, target: 0, promisedAnswer: 0 },
      { which: Which.Return, questionId: 8, payload: Buffer.from([1, 2, 3]), heldAnswer: false },
      { which: Which.Exception, questionId: 9, retryable: true, name: "TypeError", message: "bad ☃", code: "E_X", stack: "stack\nline" },
      { which: Which.Exception, questionId: 10, retryable: false, name: "Error", message: "", code: undefined, stack: undefined },
      { which: Which.Cancel, questionId: 11 },
      { which: Which.Control, control: ControlWhich.Ping, value: 2n ** 64n - 1n, reason: undefined },
      { which: Which.Control, control: ControlWhich.Goodbye, value: 0n, reason: "bye" },
    ]);
  });

  it("zeroes padding, so equal messages are equal bytes", () => {
    const a = new FrameWriter();
    const b = new FrameWriter();
    b.writeReturn(1, new Uint8Array(13).fill(0xee)); // leaves garbage-looking bytes in b's buffer
    b.take();
    a.writeCall(1, CallKind.Method, 0, "Abc", ID, "xy", new Uint8Array([1]), "n");
    b.writeCall(1, CallKind.Method, 0, "Abc", ID, "xy", new Uint8Array([1]), "n");
    expect(a.take().equals(b.take())).toBe(true);
  });

  // Each case is one segment (without the framing header) that must be refused, never crash.
  const word = (lo: number, hi: number) => {
    const b = Buffer.alloc(8);
    b.writeUInt32LE(lo >>> 0, 0);
    b.writeUInt32LE(hi >>> 0, 4);
    return b;
  };
  const cases: Array<{ given: string; segment: Buffer; want: RegExp }> = [
    { given: "a null root", segment: word(0, 0), want: /null root pointer/ },
    { given: "a list as root", segment: word(1, 0), want: /expected a struct pointer/ },
    { given: "a root past the end", segment: word(4 << 2, 1 | (1 << 16)), want: /outside the segment/ },
    { given: "a negative root offset", segment: word((-3 << 2) >>> 0, 1), want: /outside the segment/ },
    { given: "an unknown union member", segment: Buffer.concat([word(0, 1 | (1 << 16)), word(9, 0), word(0, 0)]), want: /unknown Message member 9/ },
    { given: "a null call", segment: Buffer.concat([word(0, 1 | (1 << 16)), word(0, 0), word(0, 0)]), want: /Message.call is null/ },
    {
      given: "text without NUL",
      segment: Buffer.concat([word(0, 1 | (1 << 16)), word(0, 0), word(0, 1 | (5 << 16)), word(0, 0), word((4 << 2) | 1, 2 | (2 << 3)), word(0, 0), word(0, 0), word(0, 0), word(0, 0), Buffer.from("abcdefgh")]),
      want: /not NUL-terminated/,
    },
    {
      given: "a text list longer than the segment",
      segment: Buffer.concat([word(0, 1 | (1 << 16)), word(0, 0), word(0, 1 | (5 << 16)), word(0, 0), word((4 << 2) | 1, 2 | (4000 << 3)), word(0, 0), word(0, 0), word(0, 0), word(0, 0)]),
      want: /outside the segment/,
    },
    {
      given: "a text of 8-byte elements",
      segment: Buffer.concat([word(0, 1 | (1 << 16)), word(0, 0), word(0, 1 | (5 << 16)), word(0, 0), word((4 << 2) | 1, 5 | (1 << 3)), word(0, 0), word(0, 0), word(0, 0), word(0, 0), word(0, 0)]),
      want: /expected a list of bytes/,
    },
  ];
  it.each(cases)("refuses $given with a ProtocolError", ({ segment, want }) => {
    const buf = Buffer.concat([Buffer.alloc(8), segment]);
    expect(() => decodeMessage(buf, 8, buf.length)).toThrow(ProtocolError);
    expect(() => decodeMessage(buf, 8, buf.length)).toThrow(want);
  });

  it("reads an older, shorter struct with defaults for the missing fields", () => {
    // Call with 1 data word and only 1 pointer (namespace): everything else reads as empty/undefined.
    const buf = Buffer.concat([
      Buffer.alloc(8),
      word(0, 1 | (1 << 16)),
      word(0, 0),
      word(0, 1 | (1 << 16)),
      word(42, 0),
      word(1, 2 | (2 << 3)),
      Buffer.from("A\0\0\0\0\0\0\0"),
    ]);
    expect(decodeMessage(buf, 8, buf.length)).toMatchObject({ which: Which.Call, questionId: 42, namespace: "A", method: "", name: undefined });
  });
});

describe("FrameReader", () => {
  const w = new FrameWriter();
  for (let i = 0; i < 5; i++) w.writeCall(i, CallKind.Method, 0, "Ns", ID, `m${i}`, new Uint8Array(i * 37), i % 2 ? "x" : undefined);
  const stream = w.take();

  it("reassembles frames split at every possible byte boundary", () => {
    for (let cut = 1; cut < stream.length; cut++) {
      const ids: number[] = [];
      const reader = new FrameReader((buf, s, e) => ids.push((decodeMessage(buf, s, e) as { questionId: number }).questionId));
      reader.push(stream.subarray(0, cut));
      reader.push(stream.subarray(cut));
      expect(ids, `cut at ${cut}`).toEqual([0, 1, 2, 3, 4]);
      expect(reader.midFrame).toBe(false);
    }
  });

  it("reassembles a stream fed one byte at a time", () => {
    const ids: number[] = [];
    const reader = new FrameReader((buf, s, e) => ids.push((decodeMessage(buf, s, e) as { questionId: number }).questionId));
    for (let i = 0; i < stream.length; i++) reader.push(stream.subarray(i, i + 1));
    expect(ids).toEqual([0, 1, 2, 3, 4]);
  });

  it("refuses oversized, multi-segment and empty frames before buffering them", () => {
    const header = (segmentsMinusOne: number, words: number) => {
      const b = Buffer.alloc(8);
      b.writeUInt32LE(segmentsMinusOne, 0);
      b.writeUInt32LE(words, 4);
      return b;
    };
    const reader = () => new FrameReader(() => {}, 1024);
    expect(() => reader().push(header(0, 1000))).toThrow(/exceeds the limit of 1024 bytes/);
    expect(() => reader().push(header(1, 1))).toThrow(/declares 2 segments/);
    expect(() => reader().push(header(0, 0))).toThrow(/empty segment/);
    const split = reader();
    split.push(header(0, 1000).subarray(0, 5));
    expect(() => split.push(header(0, 1000).subarray(5))).toThrow(/exceeds the limit/);
  });
});

describe("FrameWriter target cache", () => {
  it("writes the same bytes from the cache as without it", () => {
    const plain = new FrameWriter();
    const cachedWriter = new FrameWriter();
    const target = {};
    for (let i = 0; i < 3; i++) {
      plain.writeCall(i, CallKind.Method, 0, "Counter☃", ID, `m${i}`, new Uint8Array(i * 5), i === 1 ? "n" : undefined);
      cachedWriter.writeCall(i, CallKind.Method, 0, "Counter☃", ID, `m${i}`, new Uint8Array(i * 5), i === 1 ? "n" : undefined, target);
    }
    expect(cachedWriter.take().equals(plain.take())).toBe(true);
  });
});

describe("FrameWriter buffers across take()", () => {
  // One big body once must not make every later call pay for it: the buffer grown for it is given up
  // at the next small batch, and small batches are copied out of a kept buffer (not handed over in a
  // fresh MiB-sized one each, which cost ~170 µs a call after a 4 MiB stub.fetch() body).
  it("after a 4 MiB batch, small batches come out of small memory and their bytes stay right", () => {
    const w = new FrameWriter();
    w.writeCall(1, CallKind.Method, 0, "C", ID, "big", new Uint8Array(4 << 20), undefined);
    expect(w.take().byteLength).toBeGreaterThan(4 << 20);
    for (let q = 2; q < 6; q++) {
      w.writeCall(q, CallKind.Method, 0, "C", ID, "m", new Uint8Array([q]), undefined);
      const small = w.take();
      expect(small.buffer.byteLength, `batch ${q}: size of the memory it is a view of`).toBeLessThanOrEqual(64 * 1024);
      const got: Message[] = [];
      new FrameReader((buf, s, e) => got.push(decodeMessage(buf, s, e))).push(small);
      expect(got.map((m) => m.which === Which.Call && [m.questionId, m.method, [...m.payload]])).toEqual([[q, "m", [q]]]);
    }
  });

  it("a medium batch after a big one is handed over in memory sized for it, not the big one's", () => {
    const w = new FrameWriter();
    w.writeCall(1, CallKind.Method, 0, "C", ID, "big", new Uint8Array(4 << 20), undefined);
    w.take();
    w.writeCall(2, CallKind.Method, 0, "C", ID, "m", new Uint8Array(20_000), undefined);
    w.take();
    w.writeCall(3, CallKind.Method, 0, "C", ID, "m", new Uint8Array(20_000), undefined);
    expect(w.take().buffer.byteLength).toBeLessThanOrEqual(64 * 1024);
  });
});
