// The HTTP benchmark app on sourdough (scenario 4): a counter Durable Object (one committed SQLite
// KV write per increment) and a Cloudflare-style worker calling it by RPC. Its twin for workerd is
// bench/peers/workerd-app.js: keep the two line for line alike, or the comparison means nothing.
import { DurableObject } from "sourdough";
import type { DurableObjectNamespace, Worker } from "sourdough";

export interface Env {
  COUNTER: DurableObjectNamespace<Counter>;
}

export class Counter extends DurableObject<Env> {
  async increment(): Promise<number> {
    const n = (this.ctx.storage.kv.get<number>("n") ?? 0) + 1;
    this.ctx.storage.kv.put("n", n);
    return n;
  }

  async get(): Promise<number> {
    return this.ctx.storage.kv.get<number>("n") ?? 0;
  }
}

export const worker: Worker<Env> = {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/increment") {
      const name = url.searchParams.get("name");
      if (name === null) return new Response("pass ?name=<counter>\n", { status: 400 });
      return Response.json({ name, value: await env.COUNTER.getByName(name).increment() });
    }
    if (url.pathname === "/tally") {
      // Outside the measured windows: how the requests of a run spread over objects prefix0..N-1.
      const prefix = url.searchParams.get("prefix") ?? "obj-";
      const from = Number(url.searchParams.get("from") ?? "0");
      const to = Number(url.searchParams.get("to") ?? "0");
      const names = Array.from({ length: Math.max(0, to - from) }, (_, i) => `${prefix}${from + i}`);
      const values = await Promise.all(names.map((n) => env.COUNTER.getByName(n).get()));
      return Response.json({ objects: values.length, touched: values.filter((v) => v > 0).length, total: values.reduce((a, b) => a + b, 0), min: Math.min(...values), max: Math.max(...values) });
    }
    return new Response("not found\n", { status: 404 });
  },
};
