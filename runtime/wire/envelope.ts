// The direct codec for schema/rpc.capnp's `Message`: writes and reads Cap'n Proto layout by hand, with
// standard stream framing, one segment per frame. No capnp-ts objects on the hot path; every read is
// bounds-checked and any violation is a ProtocolError. Field offsets here mirror `capnp compile -ocapnp`.
import { ErrorCode, SourdoughError } from "../errors.ts";

export enum Which {
  Call = 0,
  Return = 1,
  Exception = 2,
  Cancel = 3,
  Control = 4,
}
export enum CallKind {
  Method = 0,
  Fetch = 1,
}
export enum ControlWhich {
  Ping = 0,
  Pong = 1,
  Goodbye = 2,
}

export interface CallMessage {
  which: Which.Call;
  questionId: number;
  kind: CallKind;
  methodId: number;
  namespace: string;
  objectId: string; // hex of the Data field
  method: string;
  payload: Uint8Array;
  name: string | undefined;
}
export interface ReturnMessage {
  which: Which.Return;
  questionId: number;
  payload: Uint8Array;
}
export interface ExceptionMessage {
  which: Which.Exception;
  questionId: number;
  retryable: boolean;
  name: string;
  message: string;
  code: string | undefined;
  stack: string | undefined;
}
export interface CancelMessage {
  which: Which.Cancel;
  questionId: number;
}
/** Per-object cache of the encoded (namespace, objectId) part of a Call; see FrameWriter.writeCall. */
export interface TargetCache {
  encoded?: { pointers: Buffer; body: Buffer };
}

export interface ControlMessage {
  which: Which.Control;
  control: ControlWhich;
  value: bigint; // ping/pong nonce
  reason: string | undefined; // goodbye text
}
export type Message = CallMessage | ReturnMessage | ExceptionMessage | CancelMessage | ControlMessage;

/** Thrown for any frame that violates the framing or layout rules; the connection must be closed. */
export class ProtocolError extends SourdoughError {
  constructor(message: string) {
    super(ErrorCode.PROTOCOL, `sourdough wire: ${message}. The peer is not speaking schema/rpc.capnp; the connection was closed.`);
    this.name = "ProtocolError";
  }
}

// ---------------------------------------------------------------------------------------------------
// Writing. A FrameWriter appends frames to one growing buffer; `take()` hands the batch to the transport.

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

// ---------------------------------------------------------------------------------------------------
// Reading. `decodeMessage` takes one segment (without the framing header) and returns a plain object.

interface StructRef {
  data: number; // byte offset of data section within buf
  dataBytes: number;
  ptrs: number; // byte offset of pointer section
  ptrCount: number;
}

export function decodeMessage(buf: Buffer, segStart: number, segEnd: number): Message {
  const seg = { buf, start: segStart, end: segEnd };
  const root = readStruct(seg, segStart, "root");
  if (root === undefined) throw new ProtocolError("frame has a null root pointer");
  const which = u16(buf, root, 0) as Which;
  const member = root.ptrCount > 0 ? readStruct(seg, root.ptrs, "Message member") : undefined;
  switch (which) {
    case Which.Call: {
      const m = req(member, "call");
      return {
        which,
        questionId: u32(buf, m, 0),
        kind: u16(buf, m, 4) as CallKind,
        methodId: u16(buf, m, 6),
        namespace: readText(seg, m, 0, "Call.namespace") ?? "",
        objectId: readBytes(seg, m, 1, "Call.objectId")?.toString("hex") ?? "",
        method: readText(seg, m, 2, "Call.method") ?? "",
        payload: readBytes(seg, m, 3, "Call.payload") ?? EMPTY,
        name: readText(seg, m, 4, "Call.name"),
      };
    }
    case Which.Return: {
      const m = req(member, "return");
      return { which, questionId: u32(buf, m, 0), payload: readBytes(seg, m, 0, "Return.payload") ?? EMPTY };
    }
    case Which.Exception: {
      const m = req(member, "exception");
      return {
        which,
        questionId: u32(buf, m, 0),
        retryable: m.dataBytes > 4 && (buf[m.data + 4]! & 1) === 1,
        name: readText(seg, m, 0, "Exception.name") ?? "Error",
        message: readText(seg, m, 1, "Exception.message") ?? "",
        code: readText(seg, m, 2, "Exception.code"),
        stack: readText(seg, m, 3, "Exception.stack"),
      };
    }
    case Which.Cancel:
      return { which, questionId: u32(buf, req(member, "cancel"), 0) };
    case Which.Control: {
      const m = req(member, "control");
      const control = u16(buf, m, 8) as ControlWhich;
      if (control > ControlWhich.Goodbye) throw new ProtocolError(`unknown Control member ${control}`);
      const value = m.dataBytes >= 8 ? buf.readBigUInt64LE(m.data) : 0n;
      const reason = control === ControlWhich.Goodbye ? readText(seg, m, 0, "Control.goodbye") : undefined;
      return { which, control, value: control === ControlWhich.Goodbye ? 0n : value, reason };
    }
    default:
      throw new ProtocolError(`unknown Message member ${String(which)}`);
  }
}

const EMPTY = Buffer.alloc(0);

interface Segment {
  buf: Buffer;
  start: number;
  end: number;
}

function req(s: StructRef | undefined, what: string): StructRef {
  if (s === undefined) throw new ProtocolError(`Message.${what} is null`);
  return s;
}

// Fields beyond a (shorter, older) struct's sections read as zero / null, per Cap'n Proto evolution rules.
function u32(buf: Buffer, s: StructRef, byte: number): number {
  return byte + 4 <= s.dataBytes ? buf.readUInt32LE(s.data + byte) : 0;
}
function u16(buf: Buffer, s: StructRef, byte: number): number {
  return byte + 2 <= s.dataBytes ? buf.readUInt16LE(s.data + byte) : 0;
}

/** Reads the struct pointer at byte offset `at`; undefined when null. */
function readStruct(seg: Segment, at: number, what: string): StructRef | undefined {
  if (at + 8 > seg.end) throw new ProtocolError(`${what}: pointer lies outside the segment`);
  const lo = seg.buf.readUInt32LE(at);
  const hi = seg.buf.readUInt32LE(at + 4);
  if (lo === 0 && hi === 0) return undefined;
  if ((lo & 3) !== 0) throw new ProtocolError(`${what}: expected a struct pointer, found pointer kind ${lo & 3}`);
  const offsetWords = lo >> 2; // signed 30-bit
  const dataWords = hi & 0xffff;
  const ptrCount = hi >>> 16;
  const data = at + 8 + offsetWords * 8;
  const endOfStruct = data + (dataWords + ptrCount) * 8;
  if (data < seg.start || endOfStruct > seg.end) throw new ProtocolError(`${what}: struct lies outside the segment`);
  return { data, dataBytes: dataWords * 8, ptrs: data + dataWords * 8, ptrCount };
}

/** Reads byte-list pointer `index` of struct `s`; undefined when null or beyond the pointer section. */
function readBytes(seg: Segment, s: StructRef, index: number, what: string): Buffer | undefined {
  if (index >= s.ptrCount) return undefined;
  const at = s.ptrs + index * 8;
  const lo = seg.buf.readUInt32LE(at);
  const hi = seg.buf.readUInt32LE(at + 4);
  if (lo === 0 && hi === 0) return undefined;
  if ((lo & 3) !== 1) throw new ProtocolError(`${what}: expected a list pointer, found pointer kind ${lo & 3}`);
  if ((hi & 7) !== 2) throw new ProtocolError(`${what}: expected a list of bytes, found element size ${hi & 7}`);
  const count = hi >>> 3;
  const start = at + 8 + (lo >> 2) * 8;
  if (start < seg.start || start + count > seg.end) throw new ProtocolError(`${what}: list lies outside the segment`);
  return seg.buf.subarray(start, start + count);
}

function readText(seg: Segment, s: StructRef, index: number, what: string): string | undefined {
  const bytes = readBytes(seg, s, index, what);
  if (bytes === undefined) return undefined;
  if (bytes.length === 0 || bytes[bytes.length - 1] !== 0) throw new ProtocolError(`${what}: text is not NUL-terminated`);
  return bytes.toString("utf8", 0, bytes.length - 1);
}
