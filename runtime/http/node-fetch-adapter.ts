// Bridges node:http to the fetch API: IncomingMessage → Request, Response → ServerResponse. Bodies
// stream both ways with backpressure; a body at hand whole is sent with a Content-Length.
// Per-request work is kept small: this process answers every HTTP request (bench/run.ts profiles it).
import type { IncomingMessage, ServerResponse } from "node:http";
import { AT_HAND_INLINE_BYTES, inlineBody, joinChunks, knownBodyLength, peekBody } from "../wire/fetch-payload.ts";

export function toRequest(req: IncomingMessage, origin: string): Request {
  const raw = req.rawHeaders;
  const headers: Array<[string, string]> = [];
  for (let i = 0; i < raw.length; i += 2) headers.push([raw[i]!, raw[i + 1]!]);
  const method = req.method ?? "GET";
  const path = req.url ?? "/";
  const url = path.startsWith("/") ? origin + path : new URL(path, origin).href;
  if (method === "GET" || method === "HEAD") return new Request(url, { method, headers });
  return new Request(url, { method, headers, body: requestBody(req), duplex: "half" } as RequestInit);
}

/** How far the handler got with a request's body: settleRequestBody() decides from it what to do with the rest. */
interface BodyState {
  /** The handler read from it (a pull happened). */
  touched: boolean;
  /** Cancelled by the handler, or stopped once the response was sent. */
  stopped: boolean;
  /** Bytes handed to the handler (or gathered for it). */
  received: number;
  /** A read is waiting for the client's bytes. */
  pulling: boolean;
  stop(reason: string): void;
}
const bodies = new WeakMap<IncomingMessage, BodyState>();

/**
 * The request's body as a ReadableStream that reads the socket only for a reader: nothing is read
 * before the handler's first read (highWaterMark 0); after it, at most 256 KiB ahead of the reader,
 * so an upload waits for its reader. A pull gathers what has arrived, up to 256 KiB (the stream window of
 * rpc/streams.ts), so a body read over RPC costs a round trip per 256 KiB rather than per socket
 * read (64 KiB at most). A client that goes away mid-upload errors it ("aborted"); cancelling it
 * stops reading at once. What the handler left unread is dealt with once the response is sent
 * (settleRequestBody).
 */
function requestBody(req: IncomingMessage): ReadableStream<Uint8Array> {
  let parts: Buffer[] = [];
  let bytes = 0;
  let ended = false;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  let listening = false;
  const onData = (chunk: Buffer) => {
    parts.push(chunk);
    bytes += chunk.byteLength;
    if (bytes >= BODY_GATHER_BYTES) req.pause();
    wake?.();
  };
  const onEnd = () => {
    ended = true;
    wake?.();
  };
  const onError = (error: Error) => {
    failure ??= error;
    wake?.();
  };
  const onClose = () => {
    if (!req.complete) onError(new Error("aborted: the HTTP client closed the connection before sending the whole request body"));
  };
  const unlisten = () => {
    req.off("data", onData);
    req.off("end", onEnd);
    req.off("error", onError);
    req.off("close", onClose);
  };
  const state: BodyState = {
    touched: false,
    stopped: false,
    received: 0,
    pulling: false,
    stop(reason) {
      if (state.stopped) return;
      state.stopped = true;
      if (listening) {
        unlisten();
        req.pause();
      }
      parts = [];
      bytes = 0;
      onError(new Error(reason)); // a read still waiting fails rather than hangs
    },
  };
  bodies.set(req, state);
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        state.touched = true;
        if (state.stopped) throw failure;
        if (!listening) {
          listening = true;
          req.on("data", onData);
          req.on("end", onEnd);
          req.on("error", onError);
          req.on("close", onClose);
        } else if (!ended && req.isPaused()) req.resume();
        state.pulling = true;
        while (bytes === 0 && !ended && failure === undefined) await new Promise<void>((resolve) => (wake = resolve));
        state.pulling = false;
        // Gather what else has arrived (one turn of the event loop), then stop reading until the next pull.
        // (A body whole on hand, req.complete, is all here already: its end comes without I/O.)
        if (bytes > 0 && bytes < BODY_GATHER_BYTES && !ended && !req.complete && failure === undefined) await new Promise((resolve) => setImmediate(resolve));
        wake = undefined;
        // Once the handler reads, the socket is read on up to 256 KiB ahead of it (onData pauses there).
        if (bytes > 0) {
          const body = parts.length === 1 ? parts[0]! : Buffer.concat(parts, bytes);
          state.received += bytes;
          parts = [];
          bytes = 0;
          controller.enqueue(new Uint8Array(body.buffer, body.byteOffset, body.byteLength));
          if (ended) {
            unlisten();
            controller.close(); // the reader learns the end without another pull (stub.fetch() sends it inline)
          }
          return;
        }
        if (failure !== undefined) {
          unlisten();
          throw failure;
        }
        unlisten();
        controller.close();
      },
      cancel() {
        state.stop("the request body was cancelled");
      },
    },
    { highWaterMark: 0 },
  );
}
const BODY_GATHER_BYTES = 256 * 1024;

/**
 * What is done with a request body the handler did not read to its end, as workerd does (KJ's
 * HttpServer, canceledUploadGraceBytes / canceledUploadGracePeriod): once the response is sent, the
 * rest is read and discarded up to 64 KiB or 1 s, so the connection serves the next request; past
 * either, the connection is closed. When the response is about to be sent and the body is not being
 * read (never read, cancelled, or no read waiting) and more than that is still to come (or its length
 * is unknown), the response says Connection: close instead, so the client does not reuse the
 * connection (closeIfUnread). (Node's own server reads any rest whatever its size.)
 */
export const UNREAD_GRACE_BYTES = 64 * 1024;
export const UNREAD_GRACE_MS = 1000;

/** Before a response's head: Connection: close when the request's unread rest is known to be large. */
export function closeIfUnread(req: IncomingMessage, res: ServerResponse): void {
  if (req.complete || req.readableEnded) return;
  const state = bodies.get(req);
  // Still being read (an echo: a read waiting for the client): decided once the response is sent.
  if (state !== undefined && state.touched && !state.stopped && state.pulling) return;
  const declared = req.headers["content-length"];
  const length = declared !== undefined && /^\d{1,15}$/.test(declared) ? Number(declared) : undefined;
  if (length === undefined || length - (state?.received ?? 0) > UNREAD_GRACE_BYTES) res.shouldKeepAlive = false;
}

/** Once the response is sent: reads and discards what is left of the request body, within the grace bounds (see UNREAD_GRACE_BYTES). */
export function settleRequestBody(req: IncomingMessage, res: ServerResponse): void {
  res.once("finish", () => {
    bodies.get(req)?.stop("the response was sent before the request body was read");
    if (req.readableEnded || req.destroyed) return;
    // A body whole in its buffer only needs reading out (it holds the socket's reads back meanwhile).
    if (!req.complete) {
      let left = UNREAD_GRACE_BYTES;
      const socket = req.socket;
      const close = () => {
        cleanup();
        // A FIN after the response: the client drops the connection; a client that keeps sending is cut.
        socket.end();
        setTimeout(() => socket.destroy(), UNREAD_GRACE_MS).unref();
      };
      const count = (chunk: Buffer) => {
        left -= chunk.byteLength;
        if (left < 0 && !req.complete) close();
      };
      const timer = setTimeout(close, UNREAD_GRACE_MS).unref();
      const cleanup = () => {
        clearTimeout(timer);
        req.off("data", count);
        req.off("end", cleanup);
        req.off("close", cleanup);
      };
      req.on("data", count);
      req.once("end", cleanup);
      req.once("close", cleanup);
    }
    req.on("error", () => {}); // a client going away now is no one's concern
    req.resume();
  });
}

export async function writeResponse(res: ServerResponse, response: Response, method = "GET"): Promise<void> {
  if (response.status === 101) {
    // An object's WebSocket answer to a request that did not ask to upgrade: nothing can carry it.
    const text = "worker.fetch returned status 101 to a request without Upgrade: websocket. Forward only upgrade requests to a WebSocket object.\n";
    res.writeHead(500, { "content-type": "text/plain; charset=utf-8", "content-length": String(Buffer.byteLength(text)) });
    res.end(text);
    return;
  }
  const headers: Record<string, string | string[]> = {};
  for (const [key, value] of response.headers) {
    if (key === "set-cookie") continue;
    headers[key] = value;
  }
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) headers["set-cookie"] = cookies;
  const body = response.body;
  const framed = headers["content-length"] !== undefined || headers["transfer-encoding"] !== undefined;
  if (res.req !== undefined) closeIfUnread(res.req, res);
  if (body === null) return void head(res, response, headers).end();
  if (method === "HEAD") {
    // No body is sent, but its length is, as a GET would have it: the inline body's, the one the
    // object knew, or that of a body at hand whole; one still being produced is not waited for.
    if (!framed) {
      const length = inlineBody(response)?.byteLength ?? knownBodyLength(response) ?? (await headLength(body));
      if (length !== undefined) headers["content-length"] = String(length);
    }
    if (!body.locked) await body.cancel().catch(() => {});
    return void head(res, response, headers).end();
  }
  // An object's inline body as stub.fetch() received it: written as is, its stream never read.
  const inline = inlineBody(response);
  if (inline !== undefined) {
    if (!framed) headers["content-length"] = String(inline.byteLength);
    return void head(res, response, headers).end(inline.byteLength === 0 ? undefined : inline);
  }
  const reader = body.getReader();
  // A body at hand whole (the usual small one) is sent with a length, in one write; one still being
  // produced streams: with the length the object knew, else chunked (Transfer-Encoding).
  const peeked = await peekBody(reader, AT_HAND_INLINE_BYTES);
  if (peeked.ended) {
    if (!framed) headers["content-length"] = String(peeked.bytes);
    return void head(res, response, headers).end(peeked.bytes === 0 ? undefined : joinChunks(peeked.chunks, peeked.bytes));
  }
  const known = knownBodyLength(response);
  if (!framed && known !== undefined) headers["content-length"] = String(known);
  head(res, response, headers);
  // The client went away: cancel the body, which cancels the object's stream behind it.
  let gone = false;
  const stop = () => {
    if (gone) return;
    gone = true;
    reader.cancel(new Error("the HTTP client closed the connection before the response body was sent")).catch(() => {});
  };
  res.once("close", () => {
    if (!res.writableFinished) stop();
  });
  try {
    for (const chunk of peeked.chunks) if (!gone && !res.write(chunk)) await drained(res);
    let next = peeked.pending ?? reader.read();
    for (;;) {
      const r = await next;
      if (r.done || gone) break;
      if (res.destroyed) {
        stop();
        break;
      }
      if (!res.write(r.value)) await drained(res);
      next = reader.read();
    }
  } catch (error) {
    // The body failed mid-way (the object threw, its host died): cut the connection, as workerd
    // does, so the client sees a truncated response rather than a complete one.
    res.destroy(error instanceof Error ? error : new Error(String(error)));
    return;
  }
  if (!gone) res.end();
}

/** A HEAD response body's length when it is at hand whole (peekBody), else undefined; the body is cancelled. */
async function headLength(body: ReadableStream<Uint8Array>): Promise<number | undefined> {
  if (body.locked) return undefined;
  const reader = body.getReader();
  const peeked = await peekBody(reader, AT_HAND_INLINE_BYTES).catch(() => undefined);
  await reader.cancel().catch(() => {});
  return peeked?.ended === true ? peeked.bytes : undefined;
}

function head(res: ServerResponse, response: Response, headers: Record<string, string | string[]>): ServerResponse {
  // Node's reason phrase unless the Response set one.
  if (response.statusText === "") return res.writeHead(response.status, headers);
  return res.writeHead(response.status, response.statusText, headers);
}

function drained(res: ServerResponse): Promise<void> {
  if (res.destroyed) return Promise.resolve(); // 'close' has been emitted, or is about to be
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}
