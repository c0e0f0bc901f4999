// serve(): a Cloudflare-style worker on node:http. `worker.fetch(request, env, ctx)` receives the
// bindings (`env.BINDING.getByName(...)`); the Durable Objects run under a ClusterCoordinator.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { ClusterCoordinator, type ClusterCoordinatorOptions } from "../coordinator/cluster-coordinator.ts";
import type { DurableObjectClass } from "../object/durable-object.ts";
import { WebSocketGateway, type WebSocketGatewayOptions } from "../websocket/gateway.ts";
import { DEFAULT_MAX_CALL_BYTES } from "../wire/limits.ts";
import { toRequest, writeResponse } from "./node-fetch-adapter.ts";

export interface ExecutionContext {
  waitUntil(promise: Promise<unknown>): void;
  passThroughOnException(): void;
}

export interface Worker<Env> {
  fetch(request: Request, env: Env, ctx: ExecutionContext): Response | Promise<Response>;
}

export interface ServeOptions extends ClusterCoordinatorOptions {
  durableObjects: Record<string, DurableObjectClass>;
  /** TCP port; 0 (default) picks a free one. */
  port?: number;
  /** Interface to listen on. Default 127.0.0.1. */
  hostname?: string;
  /** Bounds of the WebSockets this process holds for the objects (see docs/compatibility.md). */
  webSockets?: WebSocketGatewayOptions;
}

export interface ServeHandle {
  /** Resolves once the hosts are ready and the server listens; rejects if either fails. */
  readonly ready: Promise<void>;
  readonly coordinator: ClusterCoordinator;
  /** http://hostname:port once ready. */
  readonly url: string;
  readonly port: number;
  /** Stops accepting requests, then closes the coordinator and its hosts. */
  close(): Promise<void>;
}

/** Starts an HTTP server running `worker`, with Durable Object bindings from `options.durableObjects`. */
export function serve<Env = Record<string, unknown>>(worker: Worker<Env>, options: ServeOptions): ServeHandle {
  const coordinator = new ClusterCoordinator(options);
  const env = coordinator.env as Env;
  const hostname = options.hostname ?? "127.0.0.1";
  const pending = new Set<Promise<unknown>>();
  const executionContext = (): ExecutionContext => ({
    waitUntil: (p) => {
      pending.add(p);
      p.catch(() => {}).finally(() => pending.delete(p));
    },
    passThroughOnException: () => {},
  });
  const server = http.createServer((req, res) => {
    const origin = `http://${req.headers.host ?? `${hostname}:${port}`}`;
    const ctx = executionContext();
    Promise.resolve()
      .then(() => worker.fetch(toRequest(req, origin), env, ctx))
      .then(
        (response) => writeResponse(res, response),
        (error: unknown) => {
          const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
          res.writeHead(500, { "content-type": "text/plain; charset=utf-8" });
          res.end(`worker.fetch threw ${message}\n`);
        },
      )
      .catch(() => res.destroy());
  });
  // WebSocket upgrades go to the worker like any request; the gateway holds the accepted sockets.
  const log = (m: string) => (options.output ?? ((_h, _s, text) => void process.stderr.write(text)))(0, "stderr", `${m}\n`);
  const gateway = new WebSocketGateway(coordinator, { ...options.webSockets, maxCallBytes: options.maxCallBytes ?? DEFAULT_MAX_CALL_BYTES, log });
  server.on("upgrade", (req: http.IncomingMessage, socket, head: Buffer) => {
    const origin = `http://${req.headers.host ?? `${hostname}:${port}`}`;
    gateway.upgrade(req, socket, head, () => Promise.resolve().then(() => worker.fetch(toRequest(req, origin), env, executionContext())));
  });
  let port = 0;
  const ready = (async () => {
    await coordinator.ready;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port ?? 0, hostname, () => resolve());
    });
    port = (server.address() as AddressInfo).port;
  })();
  ready.catch(() => void coordinator.close());
  let closing: Promise<void> | undefined;
  return {
    ready,
    coordinator,
    get port() {
      return port;
    },
    get url() {
      return `http://${hostname}:${port}`;
    },
    close() {
      closing ??= (async () => {
        await new Promise<void>((resolve) => {
          if (!server.listening) return resolve();
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await gateway.close();
        await Promise.allSettled([...pending]);
        await coordinator.close();
      })();
      return closing;
    },
  };
}
