// The worker both engines run for the WebSocket suite and benches: /t/<name>/… goes to the test
// room, everything else to the chat example's worker (page, /room/<name>/ws).
import { worker as chat } from "../../examples/chat/worker.ts";
import type { Env as ChatEnv } from "../../examples/chat/room.ts";
import type { WsTestRoom } from "./ws-room.ts";

export { ChatRoom } from "../../examples/chat/room.ts";
export { WsTestRoom } from "./ws-room.ts";

export interface Env extends ChatEnv {
  TEST: import("sourdough").DurableObjectNamespace<WsTestRoom>;
}

export const worker = {
  async fetch(request: Request, env: Env): Promise<Response> {
    const match = /^\/t\/([\w.-]{1,64})\//.exec(new URL(request.url).pathname);
    if (match !== null) return env.TEST.getByName(match[1]!).fetch(request);
    return chat.fetch(request, env);
  },
};

export default worker;
