// The two engines of the WebSocket suite, each serving test/engines/ws-worker.ts on a loopback port:
// sourdough through serve() (2 real host processes, SQLite in a temp dir) and workerd through
// miniflare (the same classes bundled by esbuild, inside a Worker).
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { serve, type ServeHandle, type ServeOptions } from "sourdough";
import { loadMiniflare } from "../support/miniflare.ts";
import { bundleForWorkerd, workerdOptions } from "./workerd-engine.ts";

export interface WsEngine {
  readonly name: "sourdough" | "workerd";
  /** http://127.0.0.1:port */
  readonly origin: string;
  /** ws://127.0.0.1:port */
  readonly wsOrigin: string;
  /** sourdough only: the serve() handle (hosts, coordinator). */
  readonly app?: ServeHandle;
  /** Temp directories it made (removed by close()). */
  readonly dirs: string[];
  close(): Promise<void>;
}

export const WS_MODULES = [new URL("../../examples/chat/room.ts", import.meta.url), new URL("./ws-room.ts", import.meta.url)];

export async function startSourdough(options: Partial<ServeOptions> = {}): Promise<WsEngine> {
  const { ChatRoom, WsTestRoom, worker } = await import("./ws-worker.ts"); // loaded here: the workerd side runs without it
  const storageDir = mkdtempSync(path.join(os.tmpdir(), "sourdough-ws-test-"));
  const app = serve(worker, {
    durableObjects: { ROOMS: ChatRoom, TEST: WsTestRoom },
    modules: WS_MODULES,
    hostCount: 2,
    isolatesPerHost: 1,
    storageDir,
    output: () => {},
    ...options,
  });
  await app.ready;
  return {
    name: "sourdough",
    origin: app.url,
    wsOrigin: app.url.replace(/^http/, "ws"),
    app,
    dirs: [storageDir],
    async close() {
      await app.close();
      rmSync(storageDir, { recursive: true, force: true });
    },
  };
}

export async function startWorkerd(): Promise<WsEngine> {
  const { Miniflare, supportedCompatibilityDate } = await loadMiniflare();
  const persistDir = mkdtempSync(path.join(os.tmpdir(), "sourdough-ws-workerd-"));
  const mf = new Miniflare(workerdOptions(await bundleForWorkerd(), supportedCompatibilityDate ?? "2025-09-01", persistDir));
  const url = await mf.ready;
  return {
    name: "workerd",
    origin: url.origin,
    wsOrigin: url.origin.replace(/^http/, "ws"),
    dirs: [persistDir],
    async close() {
      await mf.dispose();
      rmSync(persistDir, { recursive: true, force: true });
    },
  };
}
