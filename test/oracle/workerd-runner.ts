// Runs cases in Cloudflare's own runtime: workerd, started through the `miniflare` package installed
// in test/oracle/node_modules (npm install --prefix test/oracle). Each case goes to a Worker inside
// workerd as an HTTP request; the Worker calls a fresh SQLite-backed object's run(ops) over workerd's
// own RPC (once per segment, all calls at once for a concurrent one, see concurrent.ts) and answers
// with JSON, so nothing passes through miniflare's Node-side proxy.
import { readFileSync } from "node:fs";
import { assembleResults, planSegments } from "./concurrent.ts";
import { interpreterModule } from "./interpreter.ts";
import type { OracleRunner } from "./runner.ts";

interface MiniflareResponse {
  status: number;
  text(): Promise<string>;
}
interface Miniflare {
  ready: Promise<unknown>;
  dispatchFetch(url: string, init: { method: string; body: string; headers: Record<string, string> }): Promise<MiniflareResponse>;
  dispose(): Promise<void>;
}
/** The part of the `miniflare` module the oracle uses (typed here so the repo type-checks without it). */
export interface MiniflareModule {
  Miniflare: new (options: Record<string, unknown>) => Miniflare;
  supportedCompatibilityDate?: string;
}

// Cloudflare documents deleteAll() deleting the alarm from this date on; sourdough follows that.
const MIN_COMPATIBILITY_DATE = "2026-02-24";

/** The miniflare module, or undefined when test/oracle's dependencies are not installed. */
export async function loadMiniflare(): Promise<MiniflareModule | undefined> {
  const specifier = "miniflare"; // a variable, so TypeScript does not need its types
  let mod: unknown;
  try {
    mod = await import(specifier);
  } catch (error) {
    if ((error as { code?: unknown }).code === "ERR_MODULE_NOT_FOUND") return undefined;
    throw error;
  }
  if (typeof (mod as { Miniflare?: unknown }).Miniflare !== "function") throw new Error("oracle: the miniflare module has no Miniflare class.");
  return mod as MiniflareModule;
}

/** Installed versions, for reports. */
export function installedVersions(): { miniflare: string; workerd: string } {
  const version = (name: string) => {
    const file = new URL(`./node_modules/${name}/package.json`, import.meta.url);
    return (JSON.parse(readFileSync(file, "utf8")) as { version: string }).version;
  };
  return { miniflare: version("miniflare"), workerd: version("workerd") };
}

export function compatibilityDate(miniflare: MiniflareModule): string {
  const supported = miniflare.supportedCompatibilityDate;
  return supported !== undefined && supported > MIN_COMPATIBILITY_DATE ? supported : MIN_COMPATIBILITY_DATE;
}

const WORKER = `
export default {
  async fetch(request, env) {
    const { segments, object } = await request.json();
    const ns = object === "noAlarmHandler" ? env.ORACLE_NO_ALARM : env.ORACLE;
    try {
      const stub = ns.get(ns.newUniqueId());
      const results = [];
      for (const segment of segments) {
        if (segment.kind === "serial") results.push(await stub.run(segment.ops));
        else results.push(await Promise.all(segment.calls.map((ops) => stub.run(ops).catch((e) => ({ callFailed: { name: String(e?.name), message: String(e?.message) } })))));
      }
      return Response.json({ results });
    } catch (e) {
      return Response.json({ failure: { name: String(e?.name), message: String(e?.message) } });
    }
  },
};`;

export async function startWorkerd(miniflare: MiniflareModule): Promise<OracleRunner> {
  const date = compatibilityDate(miniflare);
  const mf = new miniflare.Miniflare({
    modules: true,
    script: interpreterModule("cloudflare:workers") + WORKER,
    compatibilityDate: date,
    durableObjects: {
      ORACLE: { className: "Oracle", useSQLite: true },
      ORACLE_NO_ALARM: { className: "OracleNoAlarm", useSQLite: true },
    },
  });
  await mf.ready;
  const label = `workerd (compatibility date ${date})`;
  return {
    label,
    async run(oracleCase) {
      const segments = planSegments(oracleCase.ops);
      const response = await mf.dispatchFetch("http://oracle/", {
        method: "POST",
        body: JSON.stringify({ segments, object: oracleCase.object }),
        headers: { "content-type": "application/json" },
      });
      const text = await response.text();
      let body: { results?: unknown; failure?: { name: string; message: string } };
      try {
        body = JSON.parse(text) as typeof body;
      } catch {
        throw new Error(`${label}: HTTP ${response.status} with a body that is not JSON: ${text.slice(0, 500)}`);
      }
      if (body.failure !== undefined) throw new Error(`${label}: run() failed: ${body.failure.name}: ${body.failure.message}`);
      if (!Array.isArray(body.results)) throw new Error(`${label}: expected an array of segment results, got ${text.slice(0, 200)}`);
      return assembleResults(segments, body.results, label);
    },
    close: () => mf.dispose(),
  };
}
