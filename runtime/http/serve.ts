// serve(): a Cloudflare-style worker on node:http. `worker.fetch(request, env, ctx)` receives the
// bindings (`env.BINDING.getByName(...)`); the Durable Objects run under a ClusterCoordinator.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { ClusterCoordinator, type ClusterCoordinatorOptions } from "../coordinator/cluster-coordinator.ts";
import type { DurableObjectClass } from "../object/durable-object.ts";
import { WebSocketGateway, type WebSocketGatewayOptions } from "../websocket/gateway.ts";
import { DEFAULT_MAX_CALL_BYTES } from "../wire/limits.ts";
import { closeIfUnread, settleRequestBody, toRequest, writeResponse } from "./node-fetch-adapter.ts";
import { ErrorCode, SourdoughError, describeValue } from "../errors.ts";
import { handleShutdownSignals } from "../ops/graceful-shutdown.ts";
import { createOpsRoutes, type OpsRouteOptions } from "../ops/ops-routes.ts";

export interface ExecutionContext {
  waitUntil(promise: Promise<unknown>): void;
  passThroughOnException(): void;
}

export interface Worker<Env> {
  fetch(request: Request, env: Env, ctx: ExecutionContext): Response | Promise<Response>;
}

export interface ServeOptions extends ClusterCoordinatorOptions, OpsRouteOptions {
  durableObjects: Record<string, DurableObjectClass>;
  /** TCP port; 0 (default) picks a free one. */
  port?: number;
  /** Interface to listen on. Default 127.0.0.1. */
  hostname?: string;
  /** Bounds of the WebSockets this process holds for the objects (see docs/compatibility.md). */
  webSockets?: WebSocketGatewayOptions;
  /** Send the error text of a throwing worker.fetch to the client (development). Default false: a plain 500. */
  dev?: boolean;
  /**
   * Handle SIGINT and SIGTERM: stop accepting, let requests in flight finish (up to shutdownGraceMs),
   * commit, stop the hosts, remove the run directory and exit 0; a second signal exits at once.
   * Default true; false leaves signals to your code (then call close()).
   */
  handleSignals?: boolean;
  /** How long a signal waits for requests in flight before closing their connections. Default 10 000 ms. */
  shutdownGraceMs?: number;
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
  const graceMs = options.shutdownGraceMs ?? 10_000;
  if (typeof graceMs !== "number" || !(graceMs >= 0) || !Number.isFinite(graceMs)) {
    throw new SourdoughError(ErrorCode.BAD_OPTIONS, `serve: shutdownGraceMs must be a number of milliseconds ≥ 0, got ${describeValue(graceMs)}.`);
  }
  const coordinator = new ClusterCoordinator(options);
  const ops = createOpsRoutes(coordinator, options);
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
  let inFlight = 0;
  let drained: (() => void) | undefined;
  let draining = false;
  const server = http.createServer((req, res) => {
    if (ops.handle(req, res)) return;
    if (draining) res.shouldKeepAlive = false; // shutting down: answer, then close the connection
    inFlight++;
    const startedAt = performance.now();
    res.once("close", () => {
      if (--inFlight === 0) drained?.();
    });
    settleRequestBody(req, res); // what the handler leaves unread of the body: drained, or the connection closed
    const origin = `http://${req.headers.host ?? `${hostname}:${port}`}`;
    const ctx = executionContext();
    Promise.resolve()
      .then(() => worker.fetch(toRequest(req, origin), env, ctx))
      .then(
        (response) => {
          ops.observe(response.status, false, startedAt);
          return writeResponse(res, response, req.method);
        },
        (error: unknown) => {
          ops.observe(500, true, startedAt);
          const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
          const stack = error instanceof Error && error.stack !== undefined ? error.stack : message;
          coordinator.logger.error(`worker.fetch threw on ${req.method ?? "GET"} ${req.url ?? "/"}: ${stack}`, { method: req.method, url: req.url });
          closeIfUnread(req, res);
          res.writeHead(500, { "content-type": "text/plain; charset=utf-8" });
          // Internals (messages, paths, stacks) stay in the log unless dev: true asks for them.
          res.end(options.dev === true ? `worker.fetch threw ${message}\n` : "Internal Server Error\n");
        },
      )
      .catch(() => res.destroy());
  });
  // WebSocket upgrades go to the worker like any request; the gateway holds the accepted sockets.
  const gateway = new WebSocketGateway(coordinator, { ...options.webSockets, maxCallBytes: options.maxCallBytes ?? DEFAULT_MAX_CALL_BYTES, logger: coordinator.logger });
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
  // Graceful: no new connections, idle keep-alive ones closed, requests in flight get up to graceMs.
  const drain = async (signal: string) => {
    coordinator.logger.info(`${signal}: shutting down (requests in flight get up to ${graceMs} ms; a second signal exits at once)`);
    const started = performance.now();
    draining = true;
    server.close();
    server.closeIdleConnections();
    if (inFlight > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs);
        drained = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    const left = Math.max(0, graceMs - (performance.now() - started));
    await Promise.race([Promise.allSettled([...pending]), new Promise((r) => setTimeout(r, left).unref())]);
    await handle.close();
    coordinator.logger.info(`shut down after ${Math.round(performance.now() - started)} ms${inFlight > 0 ? ` (${inFlight} request(s) cut off at shutdownGraceMs)` : ""}`);
  };
  const unhandleSignals = options.handleSignals === false ? () => {} : handleShutdownSignals(drain, coordinator.logger);
  const handle: ServeHandle = {
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
        unhandleSignals();
        ops.close();
        const stopped = new Promise<void>((resolve) => {
          if (!server.listening) {
            server.closeAllConnections(); // drained by a signal: cut what outlived shutdownGraceMs
            return resolve();
          }
          server.close(() => resolve());
          server.closeAllConnections();
        });
        // server.close() waits for upgraded sockets too, which only the gateway closes: both at once.
        await gateway.close();
        await stopped;
        await Promise.allSettled([...pending]);
        await coordinator.close();
      })();
      return closing;
    },
  };
  return handle;
}
