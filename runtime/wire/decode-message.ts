// Reads one schema/rpc.capnp `Message` segment into a plain object. Every pointer is bounds-checked
// before use; any violation is a ProtocolError. Shorter (older) structs read as defaults.
import {
  ControlWhich,
  ProtocolError,
  Which,
  type CallKind,
  type Message,
} from "./envelope.ts";


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
        target: u32(buf, m, 8),
        promisedAnswer: u32(buf, m, 12),
      };
    }
    case Which.Return: {
      const m = req(member, "return");
      return { which, questionId: u32(buf, m, 0), payload: readBytes(seg, m, 0, "Return.payload") ?? EMPTY, heldAnswer: m.dataBytes > 4 && (buf[m.data + 4]! & 1) === 1 };
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
    case Which.Release: {
      const m = req(member, "release");
      return { which, exportId: u32(buf, m, 0), count: u32(buf, m, 4) };
    }
    case Which.Finish:
      return { which, questionId: u32(buf, req(member, "finish"), 0) };
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
