// What `import … from "sourdough"` resolves to under the `workerd` / `worker` export conditions
// (wrangler, esbuild and miniflare bundling for Cloudflare): Cloudflare's own classes re-exported,
// plus the few sourdough values an unchanged app may use, with no Node import. Types come from the
// Node entry's declarations (package.json points both conditions at them), so one source type-checks
// once; a Node-only value (serve, ClusterCoordinator, …) imported here fails at bundle time, by name.
import { DurableObject, RpcTarget, WorkerEntrypoint } from "cloudflare:workers";

export { DurableObject, RpcTarget, WorkerEntrypoint };
export { SourdoughError, ErrorCode } from "../errors.ts";

interface WorkerdGlobals {
  WebSocketPair?: unknown;
  WebSocketRequestResponsePair?: unknown;
}
const globals = globalThis as WorkerdGlobals;

/** workerd's own `WebSocketPair` (a global there; re-exported so `import { WebSocketPair } from "sourdough"` works on both engines). */
export const WebSocketPair = globals.WebSocketPair;
/** workerd's own `WebSocketRequestResponsePair` (hibernation API auto-responses). */
export const WebSocketRequestResponsePair = globals.WebSocketRequestResponsePair;

/**
 * sourdough's per-call deadline and cancellation have no Cloudflare equivalent: on workerd the stub
 * is returned unchanged (`sourdough-cloudflare build` lists every use as a warning).
 */
export function withCallOptions<T>(stub: T, _options?: unknown): T {
  return stub;
}
