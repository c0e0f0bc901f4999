// The object and worker of bench/fetch-bodies.ts: fetch() answering a GET with a short text and
// anything else with the request's body read whole (what a typical handler does).
import { DurableObject, type DurableObjectNamespace, type Worker } from "sourdough";

export class Echo extends DurableObject {
  override async fetch(request: Request): Promise<Response> {
    if (request.method === "GET") return new Response("ok");
    return new Response(await request.arrayBuffer());
  }

  /** The baseline: an RPC call answering the same short text. */
  ping(): string {
    return "ok";
  }
}

export interface Env {
  ECHO: DurableObjectNamespace<Echo>;
}

export const worker: Worker<Env> = {
  fetch: (request, env) => env.ECHO.getByName("bench").fetch(request),
};
