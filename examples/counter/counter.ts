// A Cloudflare-style Durable Object: one counter per name, its value in the object's own SQLite file.
import { DurableObject } from "sourdough";

export interface Env {
  COUNTER: import("sourdough").DurableObjectNamespace<Counter>;
}

export class Counter extends DurableObject<Env> {
  async increment(by: number = 1): Promise<number> {
    const next = (this.ctx.storage.kv.get<number>("n") ?? 0) + by;
    this.ctx.storage.kv.put("n", next);
    return next;
  }

  async get(): Promise<number> {
    return this.ctx.storage.kv.get<number>("n") ?? 0;
  }

  /** Where this object runs: proves that objects are spread over hosts and isolates. */
  async whereAmI(): Promise<{ pid: number; threadId: number }> {
    const { threadId } = await import("node:worker_threads");
    return { pid: process.pid, threadId };
  }

  override async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const by = Number(url.searchParams.get("by") ?? "1");
    if (request.method === "POST") return Response.json({ value: await this.increment(by) });
    return Response.json({ value: await this.get() });
  }
}
