// ReadableStreams of bytes in a call's arguments or result (issue 14 part 3). A stream crosses like
// an RpcTarget: the sender exports a StreamSource wrapping the stream's reader (msgpackr extension
// 0x6a carries its export id), and the receiver gets a ReadableStream whose pull() calls the source's
// read() over the connection for the next chunk. That is credit-based flow control: the receiver asks
// for at most STREAM_WINDOW bytes per read, one read in flight at a time, and only while its own queue
// is below STREAM_WINDOW bytes; the source reads its stream only when asked. So a slow reader holds
// at most about two windows in flight and the producer is not pulled ahead of it.
//
// Lifetime: the receiving stream owns its reference and releases it when the stream is read to the
// end, errors, is cancelled, or is garbage-collected; an argument stream not being read (no reader) when its call
// completes is cancelled, as a call's argument references are released. The source is cancelled
// when its export is dropped before the end: the reader cancelled it, or the connection closed. A
// read on a broken connection fails the receiving stream with the connection's error
// (ERR_REFERENCE_RELEASED, or the host's error).
import { ErrorCode, SourdoughError, describeValue } from "../errors.ts";
import { RpcTarget, exportForEncoding, importStreamForDecoding, trackForDecoding, type RpcHandle } from "./capabilities.ts";

/** Bytes one read of a stream over RPC carries at most, and the receiving queue's high-water mark. */
export const STREAM_WINDOW = 256 * 1024;

/** Largest chunk one read asks for and serves: the window, or less under a smaller maxCallBytes. */
let chunkLimit = STREAM_WINDOW;

/**
 * A read's answer is one call's result, so it must fit the process's maxCallBytes: an RpcClient or
 * ObjectTable configured with a smaller limit lowers this process's chunk size (never raises it; a
 * smaller chunk is always safe, only slower). Both sides of a cluster share the limit, so the reader
 * asks for no more than the source can answer.
 */
export function fitStreamReadsTo(maxCallBytes: number): void {
  chunkLimit = Math.max(1024, Math.min(chunkLimit, maxCallBytes - 4096));
}

/** Stream reads served and bytes sent by this process (tests check flow control through them). */
export const streamCounters = { reads: 0, bytes: 0, cancels: 0 };

/** The exported side of a stream: the peer's ReadableStream calls read() and cancel() on it. */
export class StreamSource extends RpcTarget {
  #reader: ReadableStreamDefaultReader<unknown>;
  #rest: Uint8Array | undefined;
  #ended = false;
  constructor(stream: ReadableStream<unknown>) {
    super();
    this.#reader = stream.getReader();
  }

  /** The next chunk of at most `max` bytes, or null at the end. A source error rejects the read. */
  async read(max: unknown): Promise<Uint8Array | null> {
    const limit = typeof max === "number" && max > 0 ? Math.min(max, chunkLimit) : chunkLimit;
    let chunk = this.#rest;
    this.#rest = undefined;
    while (chunk === undefined) {
      if (this.#ended) return null;
      const r = await this.#reader.read();
      if (r.done) {
        this.#ended = true;
        return null;
      }
      const bytes = asBytes(r.value);
      if (bytes === undefined) {
        this.#ended = true;
        const error = new TypeError(`a ReadableStream passed over RPC carries bytes only (Uint8Array, ArrayBuffer or another ArrayBufferView; strings cross as UTF-8), and its source produced ${describeValue(r.value)}. Encode the chunks first (e.g. pipe it through a TextEncoderStream).`);
        void this.#reader.cancel(error).catch(() => {});
        throw error;
      }
      if (bytes.byteLength > 0) chunk = bytes;
    }
    if (chunk.byteLength > limit) {
      this.#rest = chunk.subarray(limit);
      chunk = chunk.subarray(0, limit);
    }
    streamCounters.reads++;
    streamCounters.bytes += chunk.byteLength;
    return chunk;
  }

  /** The reader cancelled: cancel the source with its reason. */
  async cancel(reason: unknown): Promise<void> {
    if (this.#ended) return;
    this.#ended = true;
    streamCounters.cancels++;
    await this.#reader.cancel(reason);
  }

  /** The export was dropped (released, or its connection closed): a source not read to its end is cancelled. */
  [Symbol.dispose](): void {
    if (this.#ended) return;
    this.#ended = true;
    streamCounters.cancels++;
    this.#reader.cancel(new SourdoughError(ErrorCode.REFERENCE_RELEASED, "the ReadableStream's reader went away before reading it to the end (the stream was released or its connection closed).")).catch(() => {});
  }
}

const utf8 = new TextEncoder();

/** A chunk as bytes: views and buffers as they are, a string as its UTF-8 bytes (as workerd sends it). */
function asBytes(value: unknown): Uint8Array | undefined {
  if (value instanceof Uint8Array) return value;
  if (typeof value === "string") return utf8.encode(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  return undefined;
}

/** payload.ts: the export id a ReadableStream being encoded is sent as. */
export function exportStream(stream: ReadableStream<unknown>): number {
  if (stream.locked) {
    throw new TypeError(`a locked ReadableStream cannot cross RPC: it is being read already (release its reader, or pass a tee() branch).`);
  }
  return exportForEncoding(new StreamSource(stream), () => "ReadableStream");
}

/** payload.ts: the ReadableStream a received stream's export id becomes. */
export function importStream(id: unknown): ReadableStream<Uint8Array> {
  const handle = importStreamForDecoding(id) as RpcHandle & { read(max: number): Promise<Uint8Array | null>; cancel(reason: unknown): Promise<void> };
  // Kept apart from the stream (no reference to it), so the registry below can release the handle
  // of a stream dropped unread.
  const state = { handle, released: false };
  let cancelled = false;
  const release = () => {
    if (state.released) return;
    state.released = true;
    unread.unregister(state);
    handle[Symbol.dispose]();
  };
  const stream = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        let chunk: Uint8Array | null;
        try {
          chunk = await handle.read(chunkLimit);
        } catch (error) {
          release();
          // The source's own errors reach the reader as they are; sourdough's (connection lost,
          // reference released) say that it was a stream read that failed.
          controller.error(error instanceof SourdoughError ? new SourdoughError(error.code, `reading a ReadableStream received over RPC: ${error.message}`, { cause: error, retryable: error.retryable }) : error);
          return;
        }
        if (cancelled) return; // cancelled while the read was in flight: the chunk has nobody to go to
        if (chunk === null) {
          release();
          controller.close();
        } else if (!(chunk instanceof Uint8Array)) {
          release();
          controller.error(new SourdoughError(ErrorCode.PROTOCOL, `a ReadableStream over RPC received ${describeValue(chunk)} instead of bytes; the sender is not speaking sourdough's stream protocol.`));
        } else {
          controller.enqueue(chunk);
        }
      },
      async cancel(reason) {
        cancelled = true;
        if (state.released) return;
        try {
          await handle.cancel(reason instanceof Error ? reason : reason === undefined ? undefined : String(reason));
        } catch {
          // the source is gone already (connection closed): nothing left to cancel
        } finally {
          release();
        }
      },
    },
    { highWaterMark: STREAM_WINDOW, size: (chunk) => chunk.byteLength },
  );
  // Like the references of a call's arguments, a stream argument nobody started reading (no reader:
  // not locked) when the call completes is cancelled, so a method that ignores it or throws first
  // does not hold the sender's stream until the connection closes. A result's unread streams are
  // cancelled by the result's [Symbol.dispose]. Read it (getReader(), for await, pipeTo) before
  // the call returns to keep it.
  const guard: RpcHandle = {
    dup: () => guard,
    [Symbol.dispose]: () => {
      if (state.released || cancelled || stream.locked) return;
      stream.cancel(new SourdoughError(ErrorCode.REFERENCE_RELEASED, "a ReadableStream passed over RPC was not read by the call that received it (cancelled when that call completed).")).catch(() => {});
    },
  };
  trackForDecoding(guard);
  unread.register(stream, state, state);
  return stream;
}

// A received stream garbage-collected before it was read to the end or cancelled (a Response whose
// body nobody read, a result dropped): its reference is released, which cancels the sender's source
// and frees its export (an object holding exports is not evicted).
const unread = new FinalizationRegistry<{ handle: RpcHandle; released: boolean }>((state) => {
  if (state.released) return;
  state.released = true;
  state.handle[Symbol.dispose]();
});
