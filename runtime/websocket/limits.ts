// Cloudflare's WebSocket limits, and sourdough's own bounds for what serve()'s gateway buffers.
// Cloudflare's numbers: developers.cloudflare.com/durable-objects (limits, WebSocket hibernation API).

/** Largest message received from a client or sent by an object (Cloudflare: 32 MiB since Oct 2025). */
export const MAX_MESSAGE_BYTES = 32 * 1024 * 1024;
/** serializeAttachment(): serialized size limit (workerd: 16 KiB since Feb 2026, 2 KiB before). */
export const MAX_ATTACHMENT_BYTES = 16 * 1024;
/** WebSocketRequestResponsePair: request and response at most this many bytes each. */
export const MAX_AUTO_RESPONSE_BYTES = 2048;
/** acceptWebSocket(ws, tags): at most this many distinct tags (duplicates are ignored)... */
export const MAX_TAGS = 10;
/** ...each at most this many characters. */
export const MAX_TAG_LENGTH = 256;
/** Hibernatable WebSockets one object may hold. */
export const MAX_SOCKETS_PER_OBJECT = 32_768;
/** setHibernatableWebSocketEventTimeout(): at most 7 days. */
export const MAX_EVENT_TIMEOUT_MS = 7 * 24 * 3600 * 1000;

/** Gateway: events one object may have waiting for delivery (its host is down, or it is slow). */
export const DEFAULT_MAX_QUEUED_EVENTS = 1000;
/** Gateway: bytes of those events. */
export const DEFAULT_MAX_QUEUED_BYTES = 16 * 1024 * 1024;
/** Gateway: how long an object's events may wait for its host before its sockets are closed (1011). */
export const DEFAULT_QUEUE_TIMEOUT_MS = 30_000;
/** Gateway: bytes a client may leave unread before its socket is closed (1008). */
export const DEFAULT_MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
/** Gateway: events of one object in flight at once (below the object's own queue bound, 2000). */
export const DELIVERY_WINDOW = 256;

/** Close codes the gateway uses, with why. */
export const CloseCode = {
  /** serve() closes. */
  GOING_AWAY: 1001,
  /** The client does not read what the object sends fast enough. */
  TOO_SLOW: 1008,
  /** The object's host stayed unreachable past the queue bound, or a non-hibernatable object restarted. */
  UNAVAILABLE: 1011,
} as const;
