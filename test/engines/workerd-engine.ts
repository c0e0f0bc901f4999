// Runs test/engines/ws-worker.ts (the chat room and the suite's room, unchanged) on workerd: bundled
// by esbuild into one ES module, started by miniflare inside a real Worker on a loopback port, so
// clients connect to workerd's own socket. Used by the two-engine WebSocket suite and bench/websocket.ts.
import { build, type Plugin } from "esbuild";
import { fileURLToPath } from "node:url";

export const WS_WORKER = fileURLToPath(new URL("./ws-worker.ts", import.meta.url));

/**
 * On workerd, "sourdough" is Cloudflare's own API: DurableObject from cloudflare:workers and the
 * runtime's global WebSocketPair / WebSocketRequestResponsePair. (Until package.json's `workerd`
 * export condition reaches main, this plugin stands in for it.)
 */
const sourdoughOnWorkerd: Plugin = {
  name: "sourdough-on-workerd",
  setup(b) {
    b.onResolve({ filter: /^sourdough$/ }, () => ({ path: "sourdough", namespace: "sourdough-on-workerd" }));
    b.onLoad({ filter: /.*/, namespace: "sourdough-on-workerd" }, () => ({
      loader: "js",
      contents: [
        'export { DurableObject } from "cloudflare:workers";',
        "export const WebSocketPair = globalThis.WebSocketPair;",
        "export const WebSocketRequestResponsePair = globalThis.WebSocketRequestResponsePair;",
      ].join("\n"),
    }));
  },
};

/** One ES module holding `entry` and everything it imports, for workerd. */
export async function bundleForWorkerd(entry: string = WS_WORKER): Promise<string> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    external: ["cloudflare:*"],
    plugins: [sourdoughOnWorkerd],
    logLevel: "silent",
  });
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
