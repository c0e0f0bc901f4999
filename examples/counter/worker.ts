// The HTTP worker: Cloudflare's `fetch(request, env)` shape, calling the counter by typed RPC.
import type { Worker } from "sourdough";
import type { Env } from "./counter.ts";

export const worker: Worker<Env> = {
  async fetch(request, env) {
    const url = new URL(request.url);
    const name = url.searchParams.get("name");
    if (name === null) return new Response("pass ?name=<counter>\n", { status: 400 });
    const counter = env.COUNTER.getByName(name);
    if (url.pathname === "/increment") return Response.json({ name, value: await counter.increment(Number(url.searchParams.get("by") ?? "1")) });
    if (url.pathname === "/get") return Response.json({ name, value: await counter.get() });
    return counter.fetch(request); // anything else goes to the object's own fetch()
  },
};
