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

/**
 * The request's body as a ReadableStream that reads the socket only when pulled (Readable.toWeb
 * in Node 20 queues up to 16384 chunks ahead, unbounded in bytes). A pull gathers what has arrived,
 * up to 256 KiB (the stream window of rpc/streams.ts), so a body read over RPC costs a round trip
 * per 256 KiB rather than per socket read (64 KiB at most). A client that goes away mid-upload errors
 * it ("aborted", ECONNRESET); cancelling it stops reading (Node discards the rest once the response
 * is sent).
 */
function requestBody(req: IncomingMessage): ReadableStream<Uint8Array> {
  type Next = ReturnType<AsyncIterator<Buffer>["next"]>;
  let chunks: AsyncIterator<Buffer> | undefined;
  let pending: Next | undefined; // a read that had not completed when the last pull answered
  let ended = false;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        chunks ??= (req as unknown as { iterator(o: { destroyOnReturn: boolean }): AsyncIterator<Buffer> }).iterator({ destroyOnReturn: false });
        const it = chunks;
        const first = await (pending ?? it.next());
        pending = undefined;
        if (first.done === true) return controller.close();
        const parts: Buffer[] = [first.value];
        let bytes = first.value.byteLength;
        let timer: NodeJS.Immediate | undefined;
        const later = new Promise<typeof LATER>((resolve) => (timer = setImmediate(resolve, LATER)));
        try {
          while (bytes < BODY_GATHER_BYTES) {
            const next = it.next();
            const r = await Promise.race([next, later]).catch((): typeof LATER => LATER);
            if (r === LATER) {
              pending = next; // not arrived yet (or failed): the next pull starts with it
              break;
            }
            if (r.done === true) {
              ended = true;
              break;
            }
            parts.push(r.value);
            bytes += r.value.byteLength;
          }
        } finally {
          clearImmediate(timer);
        }
        const body = parts.length === 1 ? parts[0]! : Buffer.concat(parts, bytes);
        controller.enqueue(new Uint8Array(body.buffer, body.byteOffset, body.byteLength));
        if (ended) controller.close();
      },
      async cancel() {
        await chunks?.return?.();
        req.resume();
      },
    },
    // At most one gathered chunk ahead of the reader.
    { highWaterMark: BODY_GATHER_BYTES, size: (chunk) => chunk.byteLength },
  );
}
const BODY_GATHER_BYTES = 256 * 1024;
const LATER = Symbol("later");

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
  if (body === null || method === "HEAD") {
    if (body !== null) await body.cancel().catch(() => {});
    return void head(res, response, headers).end();
  }
  const framed = headers["content-length"] !== undefined || headers["transfer-encoding"] !== undefined;
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
