// Splits a byte stream into Cap'n Proto stream-framed messages. Validates the segment table before
// buffering anything (single segment, at most `maxFrameBytes`, no zero-length segment), and never
// allocates from a declared size: a partial frame costs what the peer actually sent, kept as the
// pieces received and joined once, when the frame is complete.
import { ProtocolError } from "./envelope.ts";
import { DEFAULT_MAX_FRAME_BYTES } from "./limits.ts";

export { DEFAULT_MAX_FRAME_BYTES };

export type FrameHandler = (buf: Buffer, segStart: number, segEnd: number) => void;

/** Pieces at least this long are kept as received; shorter ones are copied into a small tail buffer. */
const KEEP_PIECE_BYTES = 16 * 1024;
/** A tail buffer grows (doubling, never past twice what it holds) up to this, then is kept as a piece. */
const MAX_TAIL_BYTES = 64 * 1024;

export class FrameReader {
  readonly #maxFrameBytes: number;
  readonly #onFrame: FrameHandler;
  // The incomplete frame (or header) carried over from earlier chunks: pieces in order, then the tail.
  #pieces: Buffer[] = [];
  #tail: Buffer | undefined;
  #tailFill = 0;
  #have = 0;
  #need = 0; // 0: no partial frame; 8: the header is incomplete; else the whole frame's length

  constructor(onFrame: FrameHandler, maxFrameBytes = DEFAULT_MAX_FRAME_BYTES) {
    this.#onFrame = onFrame;
    this.#maxFrameBytes = maxFrameBytes;
  }

  /** True while part of a frame is buffered (a peer that closes now truncated its last frame). */
  get midFrame(): boolean {
    return this.#need !== 0;
  }

  /** Bytes of an incomplete frame held now: what the peer sent, never what it declared. */
  get bufferedBytes(): number {
    return this.#have;
  }

  /** Feeds one chunk. Calls onFrame for every complete frame, synchronously. Throws ProtocolError. */
  push(chunk: Buffer): void {
    let off = 0;
    if (this.#need !== 0) {
      off = this.#continue(chunk);
      if (off < 0) return;
    }
    // Hot path: whole frames inside the chunk are handed out in place, without a copy.
    while (chunk.length - off >= 8) {
      const total = this.#frameLength(chunk, off);
      if (chunk.length - off < total) break;
      this.#onFrame(chunk, off + 8, off + total);
      off += total;
    }
    if (off < chunk.length) {
      this.#need = chunk.length - off >= 8 ? this.#frameLength(chunk, off) : 8;
      this.#add(chunk.subarray(off));
    }
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
      throw new ProtocolError(`frame of ${total} bytes exceeds the limit of ${this.#maxFrameBytes} bytes (maxFrameBytes)`, "Both ends must use the same maxFrameBytes, and senders check it before writing");
    }
    return total;
  }

  // Adds what the pending frame still needs from `chunk`; hands out the frame once complete. Returns
  // where the rest of the chunk starts, or -1 when the chunk was used up and the frame is incomplete.
  #continue(chunk: Buffer): number {
    let used = 0;
    for (;;) {
      const take = Math.min(this.#need - this.#have, chunk.length - used);
      this.#add(chunk.subarray(used, used + take));
      used += take;
      if (this.#have < this.#need) return -1;
      const whole = this.#join();
      if (this.#need === 8) {
        this.#need = this.#frameLength(whole, 0); // the header is complete: now the body
        this.#add(whole);
        continue;
      }
      const total = this.#need;
      this.#need = 0;
      this.#onFrame(whole, 8, total);
      return used;
    }
  }

  #add(piece: Buffer): void {
    if (piece.length === 0) return;
    this.#have += piece.length;
    if (piece.length >= KEEP_PIECE_BYTES) {
      this.#sealTail();
      this.#pieces.push(piece);
      return;
    }
    const fill = this.#tailFill;
    if (this.#tail === undefined || fill + piece.length > this.#tail.length) {
      if (fill + piece.length > MAX_TAIL_BYTES) this.#sealTail();
      const held = this.#tailFill;
      const grown = alloc(Math.min(MAX_TAIL_BYTES, Math.max(held + piece.length, 2 * held, 64)));
      if (this.#tail !== undefined && held > 0) this.#tail.copy(grown, 0, 0, held);
      this.#tail = grown;
    }
    piece.copy(this.#tail, this.#tailFill);
    this.#tailFill += piece.length;
  }

  #sealTail(): void {
    if (this.#tail !== undefined && this.#tailFill > 0) this.#pieces.push(this.#tail.subarray(0, this.#tailFill));
    this.#tail = undefined;
    this.#tailFill = 0;
  }

  // The pending bytes as one buffer (a copy only when they arrived in several pieces); empties the reader.
  #join(): Buffer {
    this.#sealTail();
    const pieces = this.#pieces;
    const have = this.#have;
    this.#pieces = [];
    this.#have = 0;
    if (pieces.length === 1) return pieces[0]!;
    const whole = alloc(have);
    let at = 0;
    for (const p of pieces) {
      p.copy(whole, at);
      at += p.length;
    }
    return whole;
  }
}

// An allocation that fails (address space or memory exhausted) closes this connection, not the process.
function alloc(bytes: number): Buffer {
  try {
    return Buffer.allocUnsafe(bytes);
  } catch (error) {
    throw new ProtocolError(`could not allocate ${bytes} bytes for an incoming frame (${error instanceof Error ? error.message : String(error)})`, "This process is short of memory");
  }
}
