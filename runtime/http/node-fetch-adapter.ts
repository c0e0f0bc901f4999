// Bridges node:http to the fetch API: IncomingMessage → Request, Response → ServerResponse.
// Per-request work is kept small: this process answers every HTTP request (bench/run.ts profiles it).
import type { IncomingMessage, ServerResponse } from "node:http";
import { Readable } from "node:stream";

export function toRequest(req: IncomingMessage, origin: string): Request {
  const raw = req.rawHeaders;
  const headers: Array<[string, string]> = [];
  for (let i = 0; i < raw.length; i += 2) headers.push([raw[i]!, raw[i + 1]!]);
  const method = req.method ?? "GET";
  const path = req.url ?? "/";
  const url = path.startsWith("/") ? origin + path : new URL(path, origin).href;
  if (method === "GET" || method === "HEAD") return new Request(url, { method, headers });
  return new Request(url, { method, headers, body: Readable.toWeb(req) as ReadableStream<Uint8Array>, duplex: "half" } as RequestInit);
}

export async function writeResponse(res: ServerResponse, response: Response): Promise<void> {
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
  // The whole body is in hand: send it with a length, not chunked; keep Node's reason phrase unless
  // the Response set one.
  const body = response.body === null ? undefined : new Uint8Array(await response.arrayBuffer());
  if (body !== undefined && headers["content-length"] === undefined) headers["content-length"] = String(body.byteLength);
  if (response.statusText === "") res.writeHead(response.status, headers);
  else res.writeHead(response.status, response.statusText, headers);
  res.end(body);
}
