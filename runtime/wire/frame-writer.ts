// Writes schema/rpc.capnp `Message` frames straight into one growing batch buffer, in Cap'n Proto
// layout with standard stream framing (one segment per frame). No capnp-ts objects on the hot path;
// field offsets mirror `capnp compile -ocapnp`, and allocation order matches capnp-ts byte for byte.
import { CallKind, ControlWhich, Which, type TargetCache } from "./envelope.ts";


const STRUCT_SIZES = {
  message: { data: 1, ptrs: 1 },
  call: { data: 1, ptrs: 5 },
  return: { data: 1, ptrs: 1 },
  exception: { data: 1, ptrs: 4 },
  cancel: { data: 1, ptrs: 0 },
  control: { data: 2, ptrs: 1 },
} as const;

export class FrameWriter {
  #buf: Buffer;
  #pos = 0;
  #frameStart = 0;
  #count = 0;

  constructor(initialBytes = 16 * 1024) {
    this.#buf = Buffer.allocUnsafe(initialBytes);
  }

  /** Number of frames written since the last take(). */
  get frames(): number {
    return this.#count;
  }

  /** Returns the batch written so far and starts a new one. The returned bytes are never reused. */
  take(): Buffer {
    const out = this.#buf.subarray(0, this.#pos);
    const next = Math.max(16 * 1024, Math.min(this.#buf.length, 1 << 20));
    this.#buf = Buffer.allocUnsafe(next);
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
  ): void {
    const s = STRUCT_SIZES.call;
    const worst = 3 * (namespace.length + method.length + (name?.length ?? 0)) + 32 + payload.length + 5 * 8;
    const call = this.#begin(Which.Call, s.data, s.ptrs, worst);
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
    this.#end();
  }

  writeReturn(questionId: number, payload: Uint8Array): void {
    const s = STRUCT_SIZES.return;
    const ret = this.#begin(Which.Return, s.data, s.ptrs, payload.length + 8);
    this.#buf.writeUInt32LE(questionId >>> 0, this.#segByte(ret));
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

  writeControl(which: ControlWhich, value: bigint, reason?: string): void {
    const s = STRUCT_SIZES.control;
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
    this.#reserve(8 + fixedWords * 8 + worstExtraBytes + 64);
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

  #end(): void {
    const b = this.#buf;
    b.writeUInt32LE(0, this.#frameStart); // segment count - 1
    b.writeUInt32LE((this.#pos - this.#frameStart - 8) / 8, this.#frameStart + 4);
    this.#count++;
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
    const offset = target - (ptrWord + 1);
    this.#seg32(ptrWord, 0, ((offset << 2) | 1) >>> 0);
    this.#seg32(ptrWord, 4, (2 | (count << 3)) >>> 0); // element size 2 = byte
  }

  #pad(): void {
    const end = (this.#pos + 7) & ~7;
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
    const grown = Buffer.allocUnsafe(Math.max(need, this.#buf.length * 2));
    this.#buf.copy(grown, 0, 0, this.#pos);
    this.#buf = grown;
  }
}
