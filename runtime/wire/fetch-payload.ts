// stub.fetch(): Request and Response cross the wire as plain records (method, url, headers, body
// bytes). Bodies are buffered; streaming bodies are read to the end before sending.

export interface WireRequest {
  method: string;
  url: string;
  headers: Array<[string, string]>;
  body: Uint8Array | null;
}

export interface WireResponse {
  status: number;
  statusText: string;
  headers: Array<[string, string]>;
  body: Uint8Array | null;
  /** With status 101: the object's end of the WebSocket (runtime/websocket/ reads it). */
  webSocket?: unknown;
}

export async function requestToWire(request: Request): Promise<WireRequest> {
  const hasBody = request.body !== null && request.method !== "GET" && request.method !== "HEAD";
  return {
    method: request.method,
    url: request.url,
    headers: [...request.headers],
    body: hasBody ? new Uint8Array(await request.arrayBuffer()) : null,
  };
}

export function requestFromWire(wire: WireRequest): Request {
  return new Request(wire.url, {
    method: wire.method,
    headers: wire.headers,
    ...(wire.body !== null ? { body: wire.body } : {}),
  });
}

export async function responseToWire(response: Response, webSocket?: unknown): Promise<WireResponse> {
  const wire: WireResponse = {
    status: response.status,
    statusText: response.statusText,
    headers: [...response.headers],
    body: response.body === null ? null : new Uint8Array(await response.arrayBuffer()),
  };
  if (webSocket !== undefined) wire.webSocket = webSocket;
  return wire;
}

const NULL_BODY_STATUS = new Set([101, 204, 205, 304]);

export function responseFromWire(wire: WireResponse): Response {
  const body = NULL_BODY_STATUS.has(wire.status) ? null : wire.body;
  return new Response(body, { status: wire.status, statusText: wire.statusText, headers: wire.headers });
}

/** Narrows a decoded payload to a WireRequest; throws TypeError naming what is wrong. */
export function asWireRequest(value: unknown): WireRequest {
  const v = value as Partial<WireRequest> | null;
  if (v === null || typeof v !== "object" || typeof v.method !== "string" || typeof v.url !== "string" || !Array.isArray(v.headers)) {
    throw new TypeError("fetch payload is not a serialized Request (method, url, headers, body)");
  }
  return { method: v.method, url: v.url, headers: v.headers, body: v.body instanceof Uint8Array ? v.body : null };
}

export function asWireResponse(value: unknown): WireResponse {
  const v = value as Partial<WireResponse> | null;
  if (v === null || typeof v !== "object" || typeof v.status !== "number" || !Array.isArray(v.headers)) {
    throw new TypeError("fetch result is not a serialized Response (status, headers, body)");
  }
  const wire: WireResponse = { status: v.status, statusText: v.statusText ?? "", headers: v.headers, body: v.body instanceof Uint8Array ? v.body : null };
  if (v.webSocket !== undefined) wire.webSocket = v.webSocket;
  return wire;
}
