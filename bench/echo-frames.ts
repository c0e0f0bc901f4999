// The raw echo baseline's framing, shared by its client (./raw-echo.ts) and its server
// (./raw-echo-server.ts): a 4-byte little-endian payload length, then the payload. A frame may be
// split across `data` chunks and a chunk may hold many frames, so each side keeps the tail of an
// incomplete frame for the next chunk.

export const HEADER_BYTES = 4;

/**
 * The payload length of the frame starting at `off` in `buf`, or -1 when `buf` does not hold that
 * frame whole (its header or part of its payload is still to come).
 */
export function completeFrameLength(buf: Buffer, off: number): number {
  if (buf.length - off < HEADER_BYTES) return -1;
  const len = buf.readUInt32LE(off);
  return buf.length - off - HEADER_BYTES < len ? -1 : len;
}

/** The bytes of an incomplete frame, carried from one `data` chunk to the next. */
export class FrameCarry {
  private tail: Buffer | null = null;

  /** The carried tail followed by `chunk` (the chunk itself when nothing is carried). */
  join(chunk: Buffer): Buffer {
    return this.tail === null ? chunk : Buffer.concat([this.tail, chunk]);
  }

  /** Keeps `buf` from `off` on for the next chunk: copied, so as not to pin the whole chunk. */
  keep(buf: Buffer, off: number): void {
    this.tail = off === buf.length ? null : Buffer.from(buf.subarray(off));
  }
}
