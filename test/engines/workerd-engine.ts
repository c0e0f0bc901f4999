// Runs test/engines/ws-worker.ts (the chat room and the suite's room, unchanged) on workerd: bundled
// by esbuild into one ES module, started by miniflare inside a real Worker on a loopback port, so
// clients connect to workerd's own socket. Used by the two-engine WebSocket suite and bench/websocket.ts.
import * as esbuild from "esbuild";
import { fileURLToPath } from "node:url";

export const WS_WORKER = fileURLToPath(new URL("./ws-worker.ts", import.meta.url));

/** One ES module holding `entry` and everything it imports, for workerd. */
export async function bundleForWorkerd(entry: string = WS_WORKER): Promise<string> {
  // The workerd/worker conditions make "sourdough" Cloudflare's own classes (package.json's exports,
  // resolved by the package's name from inside it), as wrangler bundles it.
  const result = await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    conditions: ["workerd", "worker"],
    external: ["cloudflare:*"],
    logLevel: "silent",
  });
  await esbuild.stop(); // its service process would outlive the caller
  const file = result.outputFiles[0];
  if (file === undefined) throw new Error(`bundleForWorkerd: esbuild wrote nothing for ${entry}`);
  return file.text;
}

/** Miniflare options running the bundled worker with its two Durable Object classes (SQLite-backed). */
export function workerdOptions(script: string, compatibilityDate: string, persistDir?: string): Record<string, unknown> {
  return {
    modules: true,
    script,
    compatibilityDate,
    durableObjects: {
      ROOMS: { className: "ChatRoom", useSQLite: true },
      TEST: { className: "WsTestRoom", useSQLite: true },
    },
    ...(persistDir !== undefined ? { durableObjectsPersist: persistDir } : {}),
    host: "127.0.0.1",
    port: 0,
  };
}
