// stub.fetch(): Request and Response cross the wire as plain records (method, url, headers, body).
// A small body, or one whole in memory, travels inline as bytes; a large one, or one still being produced, as a ReadableStream
// (rpc/streams.ts: flow-controlled reads over the same connection), so neither side holds it whole.

/** A body declared (Content-Length) this small is read whole and travels inline. */
export const INLINE_BODY_BYTES = 64 * 1024;
/**
 * A body whole in memory already (it ended within what the stream yielded without waiting for I/O)
 * travels inline up to this size: it costs one frame instead of a round trip per 256 KiB.
 */
export const AT_HAND_INLINE_BYTES = 1024 * 1024;

export interface WireRequest {
  method: string;
  url: string;
  headers: Array<[string, string]>;
  /** Inline bytes, a stream of the body, or null (no body). */
  body: Uint8Array | ReadableStream<Uint8Array> | null;
}

export interface WireResponse {
  status: number;
  statusText: string;
  headers: Array<[string, string]>;
  body: Uint8Array | ReadableStream<Uint8Array> | null;
  /** A streamed body's length in bytes, when the sender knew it (serve() sends it as Content-Length). */
  length?: number;
  /** With status 101: the object's end of the WebSocket (runtime/websocket/ reads it). */
  webSocket?: unknown;
}

/** What was read of a body: its first chunks, and whether they are all of it. */
export interface PeekedBody {
  chunks: Uint8Array[];
  bytes: number;
  /** True when the body ended within what was read: `chunks` are all of it. */
  ended: boolean;
  /** A read that did not complete at once: its chunk comes next (see bodyRest). */
  pending?: ReturnType<ReadableStreamDefaultReader<Uint8Array>["read"]>;
}

const LATER = Symbol("later");

/**
 * Reads the start of a body: what the stream yields without waiting for I/O (its source is in
 * memory, or its bytes have arrived), up to `limit` bytes and one read past it, which says whether it
 * ends there. With `wait`, every read is awaited (a body whose length is known to be small).
 * A read that fails ends the peek (it is `pending`). The reader stays usable: bodyRest() streams
 * what was not read.
 */
export async function peekBody(reader: ReadableStreamDefaultReader<Uint8Array>, limit: number, wait = false): Promise<PeekedBody> {
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  let timer: NodeJS.Immediate | undefined;
  const later = wait ? undefined : new Promise<typeof LATER>((resolve) => (timer = setImmediate(resolve, LATER)));
  try {
    for (;;) {
      const read = reader.read();
      let r: Awaited<typeof read> | typeof LATER;
      try {
        r = later === undefined ? await read : await Promise.race([read, later]);
      } catch {
        // The body failed: it still starts with what was read, and fails where it failed (bodyRest).
        return { chunks, bytes, ended: false, pending: read };
      }
      if (r === LATER) return { chunks, bytes, ended: false, pending: read };
      if (r.done) return { chunks, bytes, ended: true };
      const chunk = toBytes(r.value);
      if (chunk.byteLength === 0) continue;
      chunks.push(chunk);
      bytes += chunk.byteLength;
      if (bytes > limit) {
        const probe = reader.read();
        const next = await Promise.race([probe, later ?? Promise.resolve(LATER)]).catch((): typeof LATER => LATER);
        if (next === LATER) return { chunks, bytes, ended: false, pending: probe };
        if (next.done) return { chunks, bytes, ended: true };
        chunks.push(toBytes(next.value));
        bytes += next.value.byteLength;
        return { chunks, bytes, ended: false };
      }
    }
  } finally {
    if (timer !== undefined) clearImmediate(timer);
  }
}

/** The peeked chunks as one Uint8Array (no copy for one chunk). */
export function joinChunks(chunks: Uint8Array[], bytes: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(bytes);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/** The whole body as a stream: the peeked chunks, then the rest of `reader`. Cancelling cancels the reader. */
export function bodyRest(peeked: PeekedBody, reader: ReadableStreamDefaultReader<Uint8Array>): ReadableStream<Uint8Array> {
  const prefix = peeked.chunks;
  let next = 0;
  let pending = peeked.pending;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (next < prefix.length) {
          controller.enqueue(prefix[next]!);
          prefix[next++] = EMPTY; // let it go once sent
          return;
        }
        const read = pending ?? reader.read();
        pending = undefined;
        const r = await read;
        if (r.done) controller.close();
        else controller.enqueue(toBytes(r.value));
      },
      cancel: (reason) => reader.cancel(reason),
    },
    { highWaterMark: 0 },
  );
}
const EMPTY = new Uint8Array(0);

function toBytes(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  throw new TypeError(`a Request or Response body must produce bytes (Uint8Array), and it produced ${value === null ? "null" : typeof value}. Encode the chunks first (e.g. pipe it through a TextEncoderStream).`);
}

/** A body's declared length (Content-Length), or undefined when absent or not a plain number. */
export function declaredLength(headers: Headers): number | undefined {
  const value = headers.get("content-length");
  if (value === null || !/^\d{1,15}$/.test(value.trim())) return undefined;
  return Number(value);
}

// A body crosses inline when its length is known to be small (Content-Length ≤ INLINE_BODY_BYTES:
// read whole), or when all of it is at hand now (≤ AT_HAND_INLINE_BYTES); otherwise as a stream
// (after the bytes peeked, if any). Both bounds are capped by what one call may carry (inlineLimit):
// a body that would make the call too large streams instead. `length`: the total when the body
// ended within what was peeked.
async function bodyToWire(body: ReadableStream<Uint8Array>, headers: Headers, limit: number): Promise<{ body: Uint8Array | ReadableStream<Uint8Array>; length?: number }> {
  const declared = declaredLength(headers);
  if (declared !== undefined && declared > limit) return { body, length: declared };
  const reader = body.getReader();
  const small = declared !== undefined && declared <= Math.min(INLINE_BODY_BYTES, limit);
  const peeked = await peekBody(reader, small ? Math.min(INLINE_BODY_BYTES, limit) : limit, small);
  if (peeked.ended && peeked.bytes <= limit) return { body: joinChunks(peeked.chunks, peeked.bytes) };
  const rest = bodyRest(peeked, reader);
  return peeked.ended ? { body: rest, length: peeked.bytes } : { body: rest };
}

/** Room the record around an inline body takes in the call (status or method, url, header names and values), besides their own bytes. */
export const RECORD_HEADROOM_BYTES = 4 * 1024;

/**
 * The largest body that travels inline in a call of at most `maxCallBytes`: AT_HAND_INLINE_BYTES,
 * less when the limit minus the record around the body (its url and headers, as UTF-16 lengths
 * times 3 for UTF-8, plus RECORD_HEADROOM_BYTES) leaves less. Never below 0: a body then streams.
 */
export function inlineLimit(maxCallBytes: number | undefined, url: string, headers: Headers): number {
  if (maxCallBytes === undefined) return AT_HAND_INLINE_BYTES;
  let record = RECORD_HEADROOM_BYTES + url.length * 3;
  for (const [key, value] of headers) record += (key.length + value.length) * 3 + 16;
  return Math.max(0, Math.min(AT_HAND_INLINE_BYTES, maxCallBytes - record));
}

/** `maxCallBytes`: the limit of the call that carries it (rpc-client's), so an inline body cannot push the call over it. */
export async function requestToWire(request: Request, maxCallBytes?: number): Promise<WireRequest> {
  const hasBody = request.body !== null && request.method !== "GET" && request.method !== "HEAD";
  return {
    method: request.method,
    url: request.url,
    headers: [...request.headers],
    body: hasBody ? (await bodyToWire(request.body, request.headers, inlineLimit(maxCallBytes, request.url, request.headers))).body : null,
  };
}

export function requestFromWire(wire: WireRequest): Request {
  if (wire.body === null) return new Request(wire.url, { method: wire.method, headers: wire.headers });
  // A stream body needs duplex "half" (Node's fetch); bytes do not mind it.
  return new Request(wire.url, { method: wire.method, headers: wire.headers, body: wire.body, duplex: "half" } as RequestInit);
}

/** `maxCallBytes`: the limit of the call that answers with it (the object host's), as for requestToWire. */
export async function responseToWire(response: Response, webSocket?: unknown, maxCallBytes?: number): Promise<WireResponse> {
  const wire: WireResponse = { status: response.status, statusText: response.statusText, headers: [...response.headers], body: null };
  if (response.body !== null) {
    const { body, length } = await bodyToWire(response.body, response.headers, inlineLimit(maxCallBytes, response.statusText, response.headers));
    wire.body = body;
    if (length !== undefined) wire.length = length;
  }
  if (webSocket !== undefined) wire.webSocket = webSocket;
  return wire;
}

const NULL_BODY_STATUS = new Set([101, 204, 205, 304]);

/** Streamed bodies' known lengths, for serve()'s Content-Length (the Response's headers stay as sent). */
const knownLengths = new WeakMap<Response, number>();
/** Inline bodies as they arrived: serve() writes them without reading the Response's stream. */
const inlineBodies = new WeakMap<Response, Uint8Array>();

/** The length of a Response's body when stub.fetch() knew it though the body is a stream. */
export function knownBodyLength(response: Response): number | undefined {
  return knownLengths.get(response);
}

/** The bytes of a Response stub.fetch() received inline, while its body is untouched. */
export function inlineBody(response: Response): Uint8Array | undefined {
  const bytes = inlineBodies.get(response);
  return bytes === undefined || response.bodyUsed || response.body?.locked === true ? undefined : bytes;
}

export function responseFromWire(wire: WireResponse): Response {
  let body = wire.body;
  if (NULL_BODY_STATUS.has(wire.status) && body !== null) {
    if (body instanceof ReadableStream) body.cancel().catch(() => {});
    body = null;
  }
  const response = new Response(body, { status: wire.status, statusText: wire.statusText, headers: wire.headers });
  if (body instanceof ReadableStream) {
    if (wire.length !== undefined) knownLengths.set(response, wire.length);
  } else if (body !== null) {
    inlineBodies.set(response, body);
  }
  return response;
}

const isBody = (body: unknown): body is Uint8Array | ReadableStream<Uint8Array> => body instanceof Uint8Array || body instanceof ReadableStream;

/** Narrows a decoded payload to a WireRequest; throws TypeError naming what is wrong. */
export function asWireRequest(value: unknown): WireRequest {
  const v = value as Partial<WireRequest> | null;
  if (v === null || typeof v !== "object" || typeof v.method !== "string" || typeof v.url !== "string" || !Array.isArray(v.headers)) {
    throw new TypeError("fetch payload is not a serialized Request (method, url, headers, body)");
  }
  return { method: v.method, url: v.url, headers: v.headers, body: isBody(v.body) ? v.body : null };
}

export function asWireResponse(value: unknown): WireResponse {
  const v = value as Partial<WireResponse> | null;
  if (v === null || typeof v !== "object" || typeof v.status !== "number" || !Array.isArray(v.headers)) {
    throw new TypeError("fetch result is not a serialized Response (status, headers, body)");
  }
  const wire: WireResponse = { status: v.status, statusText: v.statusText ?? "", headers: v.headers, body: isBody(v.body) ? v.body : null };
  if (typeof v.length === "number" && Number.isSafeInteger(v.length) && v.length >= 0) wire.length = v.length;
  if (v.webSocket !== undefined) wire.webSocket = v.webSocket;
  return wire;
}
