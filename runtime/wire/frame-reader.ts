// Splits a byte stream into Cap'n Proto stream-framed messages. Validates the segment table before
// buffering anything: only single-segment frames, at most `maxFrameBytes`, never a zero-length segment.
import { ProtocolError } from "./envelope.ts";

/** Frames above this size are refused unless the connection was configured otherwise. */
export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024 * 1024;

export type FrameHandler = (buf: Buffer, segStart: number, segEnd: number) => void;

export class FrameReader {
  readonly #maxFrameBytes: number;
  readonly #onFrame: FrameHandler;
  #pending: Buffer | undefined; // an incomplete frame (or header) carried over from earlier chunks
  #pendingFill = 0;

  constructor(onFrame: FrameHandler, maxFrameBytes = DEFAULT_MAX_FRAME_BYTES) {
    this.#onFrame = onFrame;
    this.#maxFrameBytes = maxFrameBytes;
  }

  /** True while part of a frame is buffered (a peer that closes now truncated its last frame). */
  get midFrame(): boolean {
    return this.#pending !== undefined;
  }

  /** Feeds one chunk. Calls onFrame for every complete frame, synchronously. Throws ProtocolError. */
  push(chunk: Buffer): void {
    let buf = chunk;
    let off = 0;
    if (this.#pending !== undefined) {
      const got = this.#completePending(chunk);
      if (got === undefined) return;
      [buf, off] = got;
    }
    while (buf.length - off >= 8) {
      const total = this.#frameLength(buf, off);
      if (buf.length - off < total) break;
      this.#onFrame(buf, off + 8, off + total);
      off += total;
    }
    if (off < buf.length) this.#stash(buf, off);
  }

  #frameLength(buf: Buffer, off: number): number {
    const segmentsMinusOne = buf.readUInt32LE(off);
    if (segmentsMinusOne !== 0) {
      throw new ProtocolError(`frame declares ${segmentsMinusOne + 1} segments; sourdough accepts single-segment frames only`);
    }
    const words = buf.readUInt32LE(off + 4);
    if (words === 0) throw new ProtocolError("frame has an empty segment (no root pointer)");
    const total = 8 + words * 8;
    if (total > this.#maxFrameBytes) {
      throw new ProtocolError(`frame of ${total} bytes exceeds the limit of ${this.#maxFrameBytes} bytes`);
    }
    return total;
  }

  // Keeps the unconsumed tail. Once its header is known, allocate the whole frame once, so a large
  // frame arriving in many chunks is copied once rather than re-concatenated per chunk.
  #stash(buf: Buffer, off: number): void {
    const rest = buf.length - off;
    const size = rest >= 8 ? this.#frameLength(buf, off) : 8;
    this.#pending = Buffer.allocUnsafe(Math.max(size, rest));
    buf.copy(this.#pending, 0, off);
    this.#pendingFill = rest;
  }

  // Returns the buffer and offset to continue parsing from, or undefined if still incomplete.
  #completePending(chunk: Buffer): [Buffer, number] | undefined {
    let pending = this.#pending!;
    let fill = this.#pendingFill;
    let used = 0;
    if (fill < 8) {
      const take = Math.min(8 - fill, chunk.length);
      chunk.copy(pending, fill, 0, take);
      fill += take;
      used = take;
      if (fill < 8) {
        this.#pendingFill = fill;
        return undefined;
      }
      const total = this.#frameLength(pending, 0);
      if (total > pending.length) {
        const grown = Buffer.allocUnsafe(total);
        pending.copy(grown, 0, 0, fill);
        pending = grown;
      }
    }
    const total = this.#frameLength(pending, 0);
    const take = Math.min(total - fill, chunk.length - used);
    chunk.copy(pending, fill, used, used + take);
    fill += take;
    used += take;
    if (fill < total) {
      this.#pending = pending;
      this.#pendingFill = fill;
      return undefined;
    }
    this.#pending = undefined;
    this.#pendingFill = 0;
    this.#onFrame(pending, 8, total);
    return [chunk, used];
  }
}
