// A chat room Durable Object on Cloudflare's WebSocket hibernation API: one object per room, the
// history in the object's SQLite, one tag per user, the user's name in each socket's attachment, and
// ping → pong answered without waking the object. The same class runs unchanged on workerd.
import { DurableObject, WebSocketPair, WebSocketRequestResponsePair, type DurableObjectState, type WebSocket } from "sourdough";

export interface Env {
  ROOMS: import("sourdough").DurableObjectNamespace<ChatRoom>;
}

/** What each socket carries across hibernation (serializeAttachment: structured clone, ≤ 2 KiB). */
interface Attachment {
  user: string;
  joinedAt: number;
}

export interface ChatMessage {
  id: number;
  user: string;
  text: string;
  at: number;
}

/** Frames the server sends (JSON text). */
export type ServerFrame =
  | { type: "history"; messages: ChatMessage[] }
  | ({ type: "message" } & ChatMessage)
  | { type: "dm"; from: string; text: string; at: number }
  | { type: "presence"; online: string[] }
  | { type: "join" | "leave"; user: string }
  | { type: "error"; message: string };

/** Frames a client sends (JSON text); the literal text "ping" is answered "pong" by the runtime. */
export type ClientFrame = { type: "message"; text: string } | { type: "dm"; to: string; text: string };

const HISTORY = 100;
const MAX_TEXT = 2000;
const USER_NAME = /^[\p{L}\p{N}_.-]{1,32}$/u;



export class ChatRoom extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    // Runs on every activation, including the one a message to a hibernated socket causes.
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS messages (id INTEGER PRIMARY KEY AUTOINCREMENT, user TEXT NOT NULL, text TEXT NOT NULL, at INTEGER NOT NULL)");
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
  }

  override async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname.endsWith("/history")) return Response.json(this.#history());
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response("expected a WebSocket upgrade (GET with Upgrade: websocket)\n", { status: 426 });
    }
    const user = url.searchParams.get("user") ?? "";
    if (!USER_NAME.test(user)) return new Response(`bad ?user=${JSON.stringify(user)}: 1–32 letters, digits, '_', '.' or '-'\n`, { status: 400 });
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    this.ctx.acceptWebSocket(server, [`user:${user}`]);
    server.serializeAttachment({ user, joinedAt: Date.now() } satisfies Attachment);
    this.#send(server, { type: "history", messages: this.#history() });
    this.#send(server, { type: "presence", online: this.#online() });
    // Others learn of the first tab of a user only; the full list goes to the joiner alone, so a
    // join costs O(sockets), not O(sockets²).
    if (this.ctx.getWebSockets(`user:${user}`).length === 1) this.#broadcast({ type: "join", user }, server);
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const { user } = ws.deserializeAttachment() as Attachment;
    const frame = parse(message);
    if (typeof frame === "string") return this.#send(ws, { type: "error", message: frame });
    const at = Date.now();
    if (frame.type === "dm") {
      // Tags find a user's sockets (one per open tab) without scanning the room.
      const targets = this.ctx.getWebSockets(`user:${frame.to}`);
      if (targets.length === 0) return this.#send(ws, { type: "error", message: `${frame.to} is not in this room` });
      for (const target of [...targets, ...this.ctx.getWebSockets(`user:${user}`)]) this.#send(target, { type: "dm", from: user, text: frame.text, at });
      return;
    }
    const row = this.ctx.storage.sql.exec<{ id: number }>("INSERT INTO messages (user, text, at) VALUES (?, ?, ?) RETURNING id", user, frame.text, at).one();
    this.ctx.storage.sql.exec("DELETE FROM messages WHERE id <= ?", row.id - HISTORY);
    this.#broadcast({ type: "message", id: row.id, user, text: frame.text, at });
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, reason); // completes the closing handshake (a no-op where the runtime already did)
    } catch {
      // already closed
    }
    this.#left(ws);
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    this.#left(ws);
  }

  /** Tells the room a user left when `ws` was their last open socket. */
  #left(ws: WebSocket): void {
    const { user } = ws.deserializeAttachment() as Attachment;
    const open = this.ctx.getWebSockets(`user:${user}`).filter((other) => other !== ws && other.readyState === 1);
    if (open.length === 0) this.#broadcast({ type: "leave", user }, ws);
  }

  #history(): ChatMessage[] {
    return this.ctx.storage.sql.exec<{ id: number; user: string; text: string; at: number }>("SELECT id, user, text, at FROM messages ORDER BY id DESC LIMIT ?", HISTORY).toArray().reverse().map((r) => ({ id: r.id, user: r.user, text: r.text, at: r.at }));
  }

  #online(): string[] {
    const users = new Set<string>();
    for (const ws of this.ctx.getWebSockets()) if (ws.readyState === 1) users.add((ws.deserializeAttachment() as Attachment).user);
    return [...users].sort();
  }

  #broadcast(frame: ServerFrame, except?: WebSocket): void {
    const text = JSON.stringify(frame);
    for (const ws of this.ctx.getWebSockets()) {
      if (ws === except) continue;
      try {
        ws.send(text);
      } catch {
        // a socket closing meanwhile: its webSocketClose tells the others
      }
    }
  }

  #send(ws: WebSocket, frame: ServerFrame): void {
    try {
      ws.send(JSON.stringify(frame));
    } catch {
      // closed meanwhile
    }
  }
}

/** A client frame, validated, or a string saying what is wrong with it. */
function parse(message: string | ArrayBuffer): ClientFrame | string {
  if (typeof message !== "string") return "binary frames are not understood: send JSON text";
  let value: unknown;
  try {
    value = JSON.parse(message);
  } catch {
    return `not JSON: ${JSON.stringify(message.slice(0, 40))}`;
  }
  const frame = value as Partial<{ type: unknown; text: unknown; to: unknown }>;
  if (typeof frame.text !== "string" || frame.text.length === 0 || frame.text.length > MAX_TEXT) return `"text" must be a string of 1–${MAX_TEXT} characters`;
  if (frame.type === "message") return { type: "message", text: frame.text };
  if (frame.type === "dm" && typeof frame.to === "string") return { type: "dm", to: frame.to, text: frame.text };
  return `unknown frame ${JSON.stringify(message.slice(0, 40))}: expected {"type":"message","text":…} or {"type":"dm","to":…,"text":…}`;
}
