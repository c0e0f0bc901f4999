// Writes schema/rpc.capnp `Message` frames straight into one growing batch buffer, in Cap'n Proto
// layout with standard stream framing (one segment per frame). No capnp-ts objects on the hot path;
// field offsets mirror `capnp compile -ocapnp`, and allocation order matches capnp-ts byte for byte.
// Sizes are checked here, where the bytes are produced: a frame over `maxFrameBytes` (or a field
// over what Cap'n Proto can point at) is never written; the writer throws ERR_TOO_LARGE and the
// batch stays as it was. Offsets are plain arithmetic, never 32-bit bit operations.
import { constants } from "node:buffer";
import { CallKind, ControlWhich, Which, type TargetCache } from "./envelope.ts";
import { DEFAULT_MAX_FRAME_BYTES, MAX_DATA_BYTES, describeBytes, frameTooLarge } from "./limits.ts";
import { ErrorCode, SourdoughError } from "../errors.ts";

export interface FrameWriterOptions {
  /** Largest frame the peer's reader accepts; larger ones are refused with ERR_TOO_LARGE. */
  maxFrameBytes?: number;
  /**
   * Receives the frames written so far when the next frame would grow the batch past
   * SPILL_BYTES, so one turn's batch never needs a buffer larger than one frame plus that.
   */
  spill?: (batch: Buffer) => void;
}

/** A batch larger than this is handed to `spill` before the next frame is added. */
export const SPILL_BYTES = 4 * 1024 * 1024;
/**
 * A batch up to this size is copied out by take() (into Node's shared buffer pool, which serves
 * allocations under 4 KiB) and the writer keeps its buffer; a larger one is handed over as is.
 */
const COPY_OUT_BYTES = 4 * 1024 - 1;
/** The buffer a writer starts with, and goes back to after a big batch. */
const INITIAL_BYTES = 16 * 1024;
/** Largest buffer the writer keeps across take()s (larger ones, grown for a big batch, are given up). */
const KEEP_BYTES = 64 * 1024;
/** Longest goodbye reason and exception name/code kept; longer ones are cut. */
const SHORT_TEXT_BYTES = 4 * 1024;

const STRUCT_SIZES = {
  message: { data: 1, ptrs: 1 },
  call: { data: 2, ptrs: 5 },
  return: { data: 1, ptrs: 1 },
  exception: { data: 1, ptrs: 4 },
  cancel: { data: 1, ptrs: 0 },
  control: { data: 2, ptrs: 1 },
  release: { data: 1, ptrs: 0 },
  finish: { data: 1, ptrs: 0 },
} as const;

export class FrameWriter {
  #buf: Buffer;
  #pos = 0;
  #frameStart = 0;
  #count = 0;
  readonly #maxFrameBytes: number;
  readonly #spill: ((batch: Buffer) => void) | undefined;

  constructor(initialBytes = INITIAL_BYTES, options: FrameWriterOptions = {}) {
    this.#buf = Buffer.allocUnsafe(initialBytes);
    this.#maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.#spill = options.spill;
  }

  /** The largest frame this writer produces. */
  get maxFrameBytes(): number {
    return this.#maxFrameBytes;
  }

  /** Number of frames written since the last take(). */
  get frames(): number {
    return this.#count;
  }

  /** Returns the batch written so far and starts a new one. The returned bytes are never reused. */
  take(): Buffer {
    const used = this.#pos;
    let out: Buffer;
    if (used <= COPY_OUT_BYTES) {
      // The usual batch of sequential calls (a few hundred bytes): copied out and the buffer kept. A
      // fresh 16 KiB buffer per flush made each call allocate 16 KiB outside the heap, which kept V8
      // running full collections every few dozen milliseconds.
      out = Buffer.from(this.#buf.subarray(0, used));
      // A buffer grown for an earlier big batch is given up once, not kept (nor replaced per take()).
      if (this.#buf.length > KEEP_BYTES) this.#buf = Buffer.allocUnsafe(INITIAL_BYTES);
    } else {
      // Handed over as is; the next buffer is sized for a batch like this one (up to 1 MiB). Sized by
      // the old buffer instead, one 4 MiB body made every later flush allocate 1 MiB (+170 µs a call).
      out = this.#buf.subarray(0, used);
      this.#buf = Buffer.allocUnsafe(Math.min(1 << 20, Math.max(INITIAL_BYTES, 2 ** Math.ceil(Math.log2(used)))));
    }
    this.#pos = 0;
    this.#count = 0;
    return out;
  }

  /**
   * Writes a Call. `target`, when given, caches the encoded (namespace, objectId) part, which is the
   * same bytes for every call to one object: stubs pass one cache per object.
   */
  writeCall(
    questionId: number,
    kind: CallKind,
    methodId: number,
    namespace: string,
    objectIdHex: string,
    method: string,
    payload: Uint8Array,
    name: string | undefined,
    target?: TargetCache,
    exportTarget = 0,
    promisedAnswer = 0,
  ): void {
    const s = STRUCT_SIZES.call;
    this.#checkData(payload.length);
    const worst = 3 * (namespace.length + method.length + (name?.length ?? 0)) + 32 + payload.length + 5 * 8;
    const call = this.#begin(Which.Call, s.data, s.ptrs, worst);
    try {
      this.#callBody(call, questionId, kind, methodId, namespace, objectIdHex, method, payload, name, target);
      if (exportTarget !== 0) this.#buf.writeUInt32LE(exportTarget >>> 0, this.#segByte(call) + 8);
      if (promisedAnswer !== 0) this.#buf.writeUInt32LE(promisedAnswer >>> 0, this.#segByte(call) + 12);
    } catch (error) {
      this.#pos = this.#frameStart;
      throw error;
    }
    this.#end();
  }

  #callBody(
    call: number,
    questionId: number,
    kind: CallKind,
    methodId: number,
    namespace: string,
    objectIdHex: string,
    method: string,
    payload: Uint8Array,
    name: string | undefined,
    target: TargetCache | undefined,
  ): void {
    const s = STRUCT_SIZES.call;
    const b = this.#buf;
    b.writeUInt32LE(questionId >>> 0, this.#segByte(call));
    b.writeUInt16LE(kind, this.#segByte(call) + 4);
    b.writeUInt16LE(methodId, this.#segByte(call) + 6);
    const ptr = call + s.data;
    // namespace and objectId always follow the Call struct directly, so their pointers and bytes are
    // fixed per target.
    const cached = target?.encoded;
    if (cached !== undefined) {
      cached.pointers.copy(b, this.#segByte(ptr));
      cached.body.copy(b, this.#pos);
      this.#pos += cached.body.length;
    } else {
      const bodyStart = this.#pos;
      this.#text(ptr, namespace);
      this.#hexData(ptr + 1, objectIdHex);
      if (target !== undefined) {
        const at = this.#segByte(ptr);
        target.encoded = { pointers: Buffer.from(b.subarray(at, at + 16)), body: Buffer.from(b.subarray(bodyStart, this.#pos)) };
      }
    }
    this.#text(ptr + 2, method);
    this.#data(ptr + 3, payload);
    if (name !== undefined) this.#text(ptr + 4, name);
  }

  /** Writes a Return. Throws ERR_TOO_LARGE (writing nothing) when the frame would be over the limit. */
  writeReturn(questionId: number, payload: Uint8Array, heldAnswer = false): void {
    const s = STRUCT_SIZES.return;
    this.#checkData(payload.length);
    const ret = this.#begin(Which.Return, s.data, s.ptrs, payload.length + 8);
    this.#buf.writeUInt32LE(questionId >>> 0, this.#segByte(ret));
    if (heldAnswer) this.#buf[this.#segByte(ret) + 4] = 1;
    this.#data(ret + s.data, payload);
    this.#end();
  }

  writeException(
    questionId: number,
    retryable: boolean,
    name: string,
    message: string,
    code: string | undefined,
    stack: string | undefined,
  ): void {
    const s = STRUCT_SIZES.exception;
    // An exception must always get through, so texts that would not fit are cut rather than refused.
    if (3 * (name.length + message.length + (code?.length ?? 0) + (stack?.length ?? 0)) > this.#maxFrameBytes - SHORT_TEXT_BYTES * 3) {
      const room = Math.max(1024, this.#maxFrameBytes - SHORT_TEXT_BYTES * 3);
      name = fitText(name, SHORT_TEXT_BYTES);
      code = code === undefined ? undefined : fitText(code, SHORT_TEXT_BYTES);
      message = fitText(message, Math.floor(room / 2));
      stack = stack === undefined ? undefined : fitText(stack, room - Buffer.byteLength(message));
    }
    const worst = 3 * (name.length + message.length + (code?.length ?? 0) + (stack?.length ?? 0)) + 4 * 8;
    const ex = this.#begin(Which.Exception, s.data, s.ptrs, worst);
    const b = this.#buf;
    b.writeUInt32LE(questionId >>> 0, this.#segByte(ex));
    b[this.#segByte(ex) + 4] = retryable ? 1 : 0;
    const ptr = ex + s.data;
    this.#text(ptr, name);
    this.#text(ptr + 1, message);
    if (code !== undefined) this.#text(ptr + 2, code);
    if (stack !== undefined) this.#text(ptr + 3, stack);
    this.#end();
  }

  writeCancel(questionId: number): void {
    const s = STRUCT_SIZES.cancel;
    const c = this.#begin(Which.Cancel, s.data, s.ptrs, 0);
    this.#buf.writeUInt32LE(questionId >>> 0, this.#segByte(c));
    this.#end();
  }

  /** Writes a Release: the sender drops `count` references to the receiver's export `exportId`. */
  writeRelease(exportId: number, count: number): void {
    const s = STRUCT_SIZES.release;
    const r = this.#begin(Which.Release, s.data, s.ptrs, 0);
    this.#buf.writeUInt32LE(exportId >>> 0, this.#segByte(r));
    this.#buf.writeUInt32LE(count >>> 0, this.#segByte(r) + 4);
    this.#end();
  }

  /** Writes a Finish: the receiver may drop the answer it held for `questionId`. */
  writeFinish(questionId: number): void {
    const s = STRUCT_SIZES.finish;
    const f = this.#begin(Which.Finish, s.data, s.ptrs, 0);
    this.#buf.writeUInt32LE(questionId >>> 0, this.#segByte(f));
    this.#end();
  }

  writeControl(which: ControlWhich, value: bigint, reason?: string): void {
    const s = STRUCT_SIZES.control;
    if (reason !== undefined) reason = fitText(reason, SHORT_TEXT_BYTES);
    const c = this.#begin(Which.Control, s.data, s.ptrs, 3 * (reason?.length ?? 0) + 8);
    const b = this.#buf;
    if (which === ControlWhich.Goodbye) {
      this.#text(c + s.data, reason ?? "");
    } else {
      b.writeBigUInt64LE(BigInt.asUintN(64, value), this.#segByte(c));
    }
    b.writeUInt16LE(which, this.#segByte(c) + 8);
    this.#end();
  }

  // Lays out framing header, root pointer, Message (union tag + pointer) and the member struct, all
  // zeroed; returns the member struct's word index within the segment. Words are segment-relative.
  #begin(which: Which, dataWords: number, ptrCount: number, worstExtraBytes: number): number {
    const fixedWords = 1 + 2 + dataWords + ptrCount;
    const worst = 8 + fixedWords * 8 + worstExtraBytes + 64;
    if (this.#spill !== undefined && this.#pos > 0 && this.#pos + worst > SPILL_BYTES) this.#spill(this.take());
    this.#reserve(worst);
    this.#frameStart = this.#pos;
    const b = this.#buf;
    b.fill(0, this.#pos, this.#pos + 8 + fixedWords * 8);
    // root pointer (word 0) -> Message at word 1: offset 0, 1 data word, 1 pointer
    this.#seg32(0, 4, 1 | (1 << 16));
    b.writeUInt16LE(which, this.#segByte(1)); // Message union tag, bits [0,16)
    // Message.ptr[0] (word 2) -> member struct at word 3: offset 0
    this.#seg32(2, 4, (dataWords | (ptrCount << 16)) >>> 0);
    this.#pos += 8 + fixedWords * 8;
    return 3;
  }

  // Closes the frame, or drops it (the batch is as before) when it came out over the limit.
  #end(): void {
    const size = this.#pos - this.#frameStart;
    if (size > this.#maxFrameBytes) {
      this.#pos = this.#frameStart;
      throw frameTooLarge(size, this.#maxFrameBytes);
    }
    const b = this.#buf;
    b.writeUInt32LE(0, this.#frameStart); // segment count - 1
    b.writeUInt32LE((size - 8) / 8, this.#frameStart + 4);
    this.#count++;
  }

  // A payload is one Data field: refuse before laying anything out what no frame or pointer can hold.
  #checkData(length: number): void {
    if (length > MAX_DATA_BYTES || length > this.#maxFrameBytes) throw frameTooLarge(length, Math.min(MAX_DATA_BYTES, this.#maxFrameBytes));
  }

  #segByte(word: number): number {
    return this.#frameStart + 8 + word * 8;
  }

  #seg32(word: number, byteInWord: number, value: number): void {
    this.#buf.writeUInt32LE(value >>> 0, this.#segByte(word) + byteInWord);
  }

  // Points pointer word `ptrWord` at a byte list starting at the current end of the frame.
  #listPointer(ptrWord: number, count: number): void {
    const target = (this.#pos - this.#frameStart - 8) / 8;
    const [lo, hi] = bytePointerWords(target - (ptrWord + 1), count);
    this.#seg32(ptrWord, 0, lo);
    this.#seg32(ptrWord, 4, hi);
  }

  #pad(): void {
    const end = padTo8(this.#pos);
    this.#buf.fill(0, this.#pos, end);
    this.#pos = end;
  }

  #text(ptrWord: number, value: string): void {
    const start = this.#pos;
    const n = this.#buf.write(value, start, "utf8");
    this.#buf[start + n] = 0;
    this.#listPointer(ptrWord, n + 1);
    this.#pos = start + n + 1;
    this.#pad();
  }

  #data(ptrWord: number, value: Uint8Array): void {
    this.#listPointer(ptrWord, value.length);
    this.#buf.set(value, this.#pos);
    this.#pos += value.length;
    this.#pad();
  }

  #hexData(ptrWord: number, hex: string): void {
    const n = this.#buf.write(hex, this.#pos, "hex");
    this.#listPointer(ptrWord, n);
    this.#pos += n;
    this.#pad();
  }

  #reserve(extra: number): void {
    const need = this.#pos + extra;
    if (need <= this.#buf.length) return;
    if (need > constants.MAX_LENGTH) {
      throw new SourdoughError(ErrorCode.TOO_LARGE, `the batch of frames would need ${describeBytes(need)}, more than a Node Buffer holds (${constants.MAX_LENGTH} bytes). Send less per call.`);
    }
    const grown = Buffer.allocUnsafe(Math.min(constants.MAX_LENGTH, Math.max(need, this.#buf.length * 2)));
    this.#buf.copy(grown, 0, 0, this.#pos);
    this.#buf = grown;
  }
}

/**
 * The two 32-bit halves of a Cap'n Proto list pointer to `count` bytes starting `offsetWords` words
 * after the pointer's own end. Arithmetic, not `<<`: a shift would wrap past 2^31 silently.
 */
export function bytePointerWords(offsetWords: number, count: number): [lo: number, hi: number] {
  if (offsetWords < 0 || offsetWords >= 2 ** 29 || count > MAX_DATA_BYTES) {
    throw new SourdoughError(ErrorCode.TOO_LARGE, `a Cap'n Proto list of ${count} bytes at ${offsetWords} words cannot be pointed at (at most ${MAX_DATA_BYTES} bytes, ${2 ** 29 - 1} words away). Send less per call.`);
  }
  return [offsetWords * 4 + 1, count * 8 + 2]; // kind 1 = list; element size 2 = byte
}

/** `n` rounded up to a multiple of 8, exact for any safe integer. */
export function padTo8(n: number): number {
  const r = n % 8;
  return r === 0 ? n : n + 8 - r;
}

/** `text` if its UTF-8 fits in `maxBytes`, else its start with a note that it was cut. */
export function fitText(text: string, maxBytes: number): string {
  if (text.length * 3 <= maxBytes || Buffer.byteLength(text) <= maxBytes) return text;
  const note = ` … [cut: ${text.length} characters, over ${maxBytes} bytes]`;
  return text.slice(0, Math.max(0, Math.floor((maxBytes - note.length) / 3))) + note;
}
