// The room the two-engine WebSocket suite drives (test/engines/websocket.test.ts): every call of
// Cloudflare's WebSocket API reachable from a client, by JSON command, so one client-side suite can
// compare sourdough and workerd. It runs unchanged on both (bundled for workerd by workerd-engine.ts).
import { DurableObject, WebSocketPair, WebSocketRequestResponsePair, type DurableObjectState, type WebSocket } from "sourdough";

type Command =
  | { op: "echo"; text: string }
  | { op: "broadcast"; text: string; tag?: string }
  | { op: "tags" }
  | { op: "attach"; value: unknown }
  | { op: "attachment" }
  | { op: "count"; tag?: string }
  | { op: "close"; code?: number; reason?: string }
  | { op: "autoResponse" }
  | { op: "send"; bytes: number };

const errorText = (error: unknown): string => (error instanceof Error ? `${error.name}: ${error.message}` : String(error));

export class WsTestRoom extends DurableObject {
  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env);
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS closes (code INTEGER, reason TEXT, clean INTEGER, tags TEXT)");
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
  }

  override async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname.endsWith("/closes")) {
      return Response.json(this.ctx.storage.sql.exec("SELECT code, reason, clean, tags FROM closes").toArray());
    }
    if (url.pathname.endsWith("/count")) return Response.json({ count: this.ctx.getWebSockets(url.searchParams.get("tag") ?? undefined).length });
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") return new Response("expected a WebSocket upgrade\n", { status: 426 });
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    if (url.searchParams.get("mode") === "standard") {
      // The non-hibernating API: the object holds the socket and listens to it.
      server.accept();
      server.addEventListener("message", (event) => {
        const data: unknown = (event as Event & { data: unknown }).data;
        if (data === "close") server.close(4101, "standard:bye");
        else if (typeof data === "string") server.send(`standard:${data}`);
        // workerd hands binary frames of accept()ed sockets over as Blob (its standard binaryType)
        else if (data instanceof ArrayBuffer) server.send(data);
        else void (data as Blob).arrayBuffer().then((bytes) => server.send(bytes));
      });

      return new Response(null, { status: 101, webSocket: client });
    }
    const tags = url.searchParams.getAll("tag");
    try {
      this.ctx.acceptWebSocket(server, tags);
    } catch (error) {
      return new Response(errorText(error), { status: 400 });
    }
    const attach = url.searchParams.get("attach");
    if (attach !== null) server.serializeAttachment(JSON.parse(attach));
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    if (typeof message !== "string") {
      ws.send(message); // binary echo: bytes in, the same bytes out
      return;
    }
    let command: Command;
    try {
      command = JSON.parse(message) as Command;
    } catch {
      ws.send(`not a command: ${message}`);
      return;
    }
    const reply = (value: unknown) => ws.send(JSON.stringify(value));
    switch (command.op) {
      case "echo":
        return ws.send(command.text);
      case "broadcast":
        for (const peer of this.ctx.getWebSockets(command.tag)) peer.send(command.text);
        return;
      case "tags":
        return reply({ tags: this.ctx.getTags(ws) });
      case "attach":
        try {
          ws.serializeAttachment(command.value);
          return reply({ ok: true });
        } catch (error) {
          return reply({ error: errorText(error) });
        }
      case "attachment":
        return reply({ attachment: ws.deserializeAttachment() ?? null });
      case "count":
        return reply({ count: this.ctx.getWebSockets(command.tag).length });
      case "close":
        try {
          ws.close(command.code, command.reason);
        } catch (error) {
          reply({ error: errorText(error) });
        }
        return;
      case "autoResponse": {
        const pair = this.ctx.getWebSocketAutoResponse();
        const at = this.ctx.getWebSocketAutoResponseTimestamp(ws);
        return reply({ request: pair?.request ?? null, response: pair?.response ?? null, timestamp: at === null ? null : at.getTime() });
      }
      case "send":
        try {
          ws.send("x".repeat(command.bytes));
        } catch (error) {
          reply({ error: errorText(error) });
        }
        return;
      default:
        return reply({ error: `unknown op ${JSON.stringify((command as { op?: unknown }).op)}` });
    }
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string, wasClean: boolean): Promise<void> {
    this.ctx.storage.sql.exec("INSERT INTO closes (code, reason, clean, tags) VALUES (?, ?, ?, ?)", code, reason, wasClean ? 1 : 0, this.ctx.getTags(ws).join(","));
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, reason); // completes the handshake where the runtime has not
    } catch {
      // already closed
    }
  }
}
