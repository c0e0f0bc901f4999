// The chat worker: serves the page and hands each room's WebSocket upgrade to that room's object
// (`stub.fetch(request)`), the same on sourdough's serve() and on workerd.
import type { Env } from "./room.ts";
import { PAGE } from "./page.ts";

const ROOM_PATH = /^\/room\/([\w.-]{1,64})\/(ws|history)$/;

export const worker = {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/") return new Response(PAGE, { headers: { "content-type": "text/html; charset=utf-8" } });
    const room = ROOM_PATH.exec(url.pathname);
    if (room === null) return new Response("not found: try / or /room/<name>/ws?user=<name>\n", { status: 404 });
    return env.ROOMS.getByName(room[1]!).fetch(request);
  },
};

export default worker;
