// Size limits on the wire: the reader holds only what a peer sent, the writer refuses frames the
// reader would refuse (and never wraps 32-bit offsets), and the limits resolve as documented.
import { afterEach, describe, expect, it, vi } from "vitest";
import { ErrorCode } from "../../runtime/errors.ts";
import { decodeMessage } from "../../runtime/wire/decode-message.ts";
import { CallKind, ProtocolError, Which, type Message } from "../../runtime/wire/envelope.ts";
import { FrameReader } from "../../runtime/wire/frame-reader.ts";
import { FrameWriter, SPILL_BYTES, bytePointerWords, fitText, padTo8 } from "../../runtime/wire/frame-writer.ts";
import { DEFAULT_MAX_CALL_BYTES, DEFAULT_MAX_FRAME_BYTES, MAX_DATA_BYTES, resolveWireLimits } from "../../runtime/wire/limits.ts";

const ID = "ab".repeat(32);
const header = (words: number): Buffer => {
  const b = Buffer.alloc(8);
  b.writeUInt32LE(words, 4);
  return b;
};

afterEach(() => {
  vi.restoreAllMocks();
});

describe("FrameReader buffering", () => {
  // Frames of every size class: in one chunk, across the tail buffer, kept as pieces.
  const sizes = [0, 1, 100, 5_000, 16 * 1024, 70_000, 300_000];
  const w = new FrameWriter();
  sizes.forEach((n, i) => w.writeReturn(i, Buffer.alloc(n, i + 1)));
  const stream = Buffer.from(w.take());
  const chunkings: Array<{ given: string; sizes: () => number }> = [
    { given: "1-byte chunks", sizes: () => 1 },
    { given: "7-byte chunks", sizes: () => 7 },
    { given: "4 KiB chunks", sizes: () => 4096 },
    { given: "64 KiB chunks (a socket's)", sizes: () => 65_536 },
    { given: "random chunks", sizes: () => 1 + Math.floor(Math.random() * 40_000) },
  ];
  for (const { given, sizes: next } of chunkings) {
    it(`hands out every frame intact from ${given}`, () => {
      const got: Message[] = [];
      const reader = new FrameReader((buf, s, e) => got.push(decodeMessage(buf, s, e)));
      let most = 0;
      for (let at = 0; at < stream.length; ) {
        const n = next();
        reader.push(stream.subarray(at, at + n));
        at += n;
        most = Math.max(most, reader.bufferedBytes);
      }
      expect(reader.midFrame).toBe(false);
      expect(most).toBeLessThan(300_000 + 64); // at most the largest frame
      expect(got.map((m) => (m.which === Which.Return ? [m.questionId, m.payload.length, m.payload[0]] : m))).toEqual(
        sizes.map((n, i) => [i, n, n === 0 ? undefined : i + 1]),
      );
    });
  }

  it("holds what a peer sent, not what its header declares", () => {
    const readers: FrameReader[] = [];
    const before = process.memoryUsage().arrayBuffers;
    for (let i = 0; i < 1000; i++) {
      const reader = new FrameReader(() => {});
      reader.push(Buffer.concat([header(8 * 1024 * 1024 - 1), Buffer.alloc(8)])); // declares 64 MiB, sends 16 bytes
      readers.push(reader);
    }
    const grown = process.memoryUsage().arrayBuffers - before;
    expect(readers.every((r) => r.midFrame && r.bufferedBytes === 16)).toBe(true);
    expect(grown).toBeLessThan(1024 * 1024); // 1000 × 64 MiB declared; well under 1 KiB each held
  });

  it("grows with the bytes that arrive, about one copy of them at most", () => {
    const reader = new FrameReader(() => {});
    reader.push(header(1024 * 1024)); // declares 8 MiB
    for (let i = 0; i < 1000; i++) reader.push(Buffer.alloc(10));
    expect(reader.bufferedBytes).toBe(8 + 10_000);
  });

  it("turns a failed allocation into a ProtocolError for this connection", () => {
    const reader = new FrameReader(() => {});
    reader.push(header(1000).subarray(0, 3));
    const rest = Buffer.concat([header(1000).subarray(3), Buffer.alloc(100)]);
    vi.spyOn(Buffer, "allocUnsafe").mockImplementation(() => {
      throw new RangeError("Array buffer allocation failed");
    });
    let error: unknown;
    try {
      reader.push(rest);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ProtocolError);
    expect(error).toMatchObject({ code: ErrorCode.PROTOCOL, message: expect.stringMatching(/could not allocate \d+ bytes for an incoming frame \(Array buffer allocation failed\)\. This process is short of memory; the connection was closed\.$/) });
  });
});

describe("FrameWriter sizes", () => {
  it("computes byte-list pointers without 32-bit wrap-around", () => {
    const table: Array<{ given: [number, number]; want: [number, number] | "TOO_LARGE" }> = [
      { given: [0, 0], want: [1, 2] },
      { given: [3, 5], want: [13, 42] },
      { given: [0, 2 ** 28], want: [1, 2 ** 31 + 2] }, // `count << 3` is negative here
      { given: [0, MAX_DATA_BYTES], want: [1, 2 ** 32 - 6] },
      { given: [2 ** 29 - 1, 1], want: [2 ** 31 - 3, 10] }, // `offset << 2` would wrap next
      { given: [0, MAX_DATA_BYTES + 1], want: "TOO_LARGE" },
      { given: [2 ** 29, 1], want: "TOO_LARGE" },
    ];
    for (const { given, want } of table) {
      if (want === "TOO_LARGE") expect(() => bytePointerWords(...given), String(given)).toThrow(expect.objectContaining({ code: ErrorCode.TOO_LARGE }));
      else expect(bytePointerWords(...given), String(given)).toEqual(want);
    }
  });

  it("pads to words past 2 GiB and 4 GiB", () => {
    const table = [
      { given: 0, want: 0 },
      { given: 1, want: 8 },
      { given: 2 ** 31 - 1, want: 2 ** 31 }, // `(n + 7) & ~7` is negative here
      { given: 2 ** 31 + 1, want: 2 ** 31 + 8 },
      { given: 2 ** 32 + 3, want: 2 ** 32 + 8 },
      { given: 3 * 2 ** 31, want: 3 * 2 ** 31 },
    ];
    for (const { given, want } of table) expect(padTo8(given), String(given)).toBe(want);
  });

  it("cuts texts that do not fit, saying so", () => {
    expect(fitText("short", 100)).toBe("short");
    const cut = fitText("é".repeat(10_000), 1000);
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(1000);
    expect(cut).toMatch(/… \[cut: 10000 characters, over 1000 bytes\]$/);
  });

  it("refuses a Return over maxFrameBytes and leaves the frames written before it intact", () => {
    const w = new FrameWriter(64, { maxFrameBytes: 1024 });
    w.writeReturn(1, new Uint8Array(100));
    expect(() => w.writeReturn(2, new Uint8Array(1020))).toThrow(expect.objectContaining({ code: ErrorCode.TOO_LARGE, message: expect.stringMatching(/^the frame would be \d+ bytes .* over the limit of 1024 bytes .* per frame \(maxFrameBytes\)/) }));
    expect(() => w.writeCall(3, CallKind.Method, 0, "Ns", ID, "m", new Uint8Array(10), "n".repeat(2000))).toThrow(expect.objectContaining({ code: ErrorCode.TOO_LARGE }));
    w.writeReturn(4, new Uint8Array(8));
    expect(w.frames).toBe(2);
    const got: Message[] = [];
    new FrameReader((buf, s, e) => got.push(decodeMessage(buf, s, e)), 1024).push(w.take());
    expect(got.map((m) => (m as { questionId: number }).questionId)).toEqual([1, 4]);
  });

  it("cuts an exception's texts to fit rather than refusing it", () => {
    const max = 200 * 1024;
    const w = new FrameWriter(64, { maxFrameBytes: max });
    w.writeException(7, false, "Error", "m".repeat(300_000), "E_X", "s".repeat(300_000));
    const batch = w.take();
    expect(batch.length).toBeLessThanOrEqual(max);
    let got: Message | undefined;
    new FrameReader((buf, s, e) => (got = decodeMessage(buf, s, e)), max).push(batch);
    expect(got).toMatchObject({ which: Which.Exception, questionId: 7, code: "E_X", message: expect.stringMatching(/^m+ … \[cut: 300000 characters/) });
  });

  it("hands a growing batch to spill, so a turn never needs a buffer much larger than one frame", () => {
    const spilled: number[] = [];
    const w = new FrameWriter(undefined, { spill: (b) => void spilled.push(b.length) });
    const payload = new Uint8Array(3 * 1024 * 1024);
    for (let i = 0; i < 5; i++) w.writeReturn(i, payload);
    const last = w.take().length;
    expect(spilled.length).toBe(4);
    expect(Math.max(...spilled, last)).toBeLessThan(SPILL_BYTES);
  });
});

describe("resolveWireLimits", () => {
  const MiB = 1024 * 1024;
  const table: Array<{ given: { maxCallBytes?: number; maxFrameBytes?: number }; want: { maxCallBytes: number; maxFrameBytes: number } | RegExp }> = [
    { given: {}, want: { maxCallBytes: DEFAULT_MAX_CALL_BYTES, maxFrameBytes: DEFAULT_MAX_FRAME_BYTES } },
    { given: { maxCallBytes: 100 * MiB }, want: { maxCallBytes: 100 * MiB, maxFrameBytes: 100 * MiB + 64 * 1024 } },
    { given: { maxCallBytes: MiB, maxFrameBytes: 2 * MiB }, want: { maxCallBytes: MiB, maxFrameBytes: 2 * MiB } },
    { given: { maxCallBytes: 2 ** 29 }, want: /maxCallBytes must be an integer from 1 to 536870911 \(512 MiB − 1, the most one Cap'n Proto Data field holds\), got 536870912/ },
    { given: { maxCallBytes: 0 }, want: /maxCallBytes must be an integer/ },
    { given: { maxFrameBytes: 32 * MiB }, want: /maxFrameBytes must be an integer from maxCallBytes \+ 65536 \(33619968\)/ },
    { given: { maxFrameBytes: 2 ** 40 }, want: /maxFrameBytes must be an integer from/ },
  ];
  for (const { given, want } of table) {
    it(`resolves ${JSON.stringify(given)}`, () => {
      if (want instanceof RegExp) expect(() => resolveWireLimits(given)).toThrow(expect.objectContaining({ code: ErrorCode.BAD_OPTIONS, message: expect.stringMatching(want) }));
      else expect(resolveWireLimits(given)).toEqual(want);
    });
  }
});
