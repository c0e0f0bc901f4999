// Runs the chat example: serve() with 2 host processes and a storage directory, until Ctrl-C.
// `npm run example:chat` (PORT=8787 to choose the port; CHAT_STORAGE=<dir> to keep the history)
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { serve } from "sourdough";
import { ChatRoom, type Env } from "./room.ts";
import { worker } from "./worker.ts";

const storageDir = process.env.CHAT_STORAGE ?? mkdtempSync(path.join(os.tmpdir(), "sourdough-chat-"));
const app = serve<Env>(worker, {
  durableObjects: { ROOMS: ChatRoom },
  modules: [new URL("./room.ts", import.meta.url)],
  hostCount: 2,
  storageDir,
  port: Number(process.env.PORT ?? 0),
  idleEvictionMs: 10_000, // rooms with only hibernated sockets leave memory after 10 s; their sockets stay open
});
await app.ready;
console.log(`chat: open ${app.url}/?room=lobby&user=alice and ${app.url}/?room=lobby&user=bob`);
// Ctrl-C (SIGINT) or SIGTERM: serve() drains, closes every socket (1001) and the hosts, then exits.
console.log(`${app.coordinator.hostCount} hosts; history in ${storageDir}; Ctrl-C stops`);
