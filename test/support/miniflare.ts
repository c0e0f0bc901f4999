// Cloudflare's local runtime for tests that run one behaviour on both engines. miniflare (and its
// workerd binary) is installed beside the storage oracle (`npm ci --prefix test/oracle`, done by
// .ci/run), not by the root `npm install`, so the main install stays lean. Tests load it from
// there; where it is missing they skip with the one command that installs it.
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";

const ORACLE_PACKAGE = fileURLToPath(new URL("../oracle/package.json", import.meta.url));

/** The part of miniflare's API the engine tests use (typed here: the root does not depend on it). */
export interface MiniflareInstance {
  readonly ready: Promise<URL>;
  dispatchFetch(url: string, init?: RequestInit): Promise<Response>;
  dispose(): Promise<void>;
}
export interface MiniflareModule {
  Miniflare: new (options: Record<string, unknown>) => MiniflareInstance;
  supportedCompatibilityDate?: string;
}

/** Why workerd tests cannot run here, or undefined when they can. */
export function miniflareSkipReason(): string | undefined {
  try {
    createRequire(ORACLE_PACKAGE).resolve("miniflare");
    return undefined;
  } catch {
    return "workerd tests skipped: miniflare is not installed (npm ci --prefix test/oracle)";
  }
}

/** Loads miniflare from test/oracle/node_modules; throws the skip reason when it is absent. */
export async function loadMiniflare(): Promise<MiniflareModule> {
  const reason = miniflareSkipReason();
  if (reason !== undefined) throw new Error(reason);
  const entry = createRequire(ORACLE_PACKAGE).resolve("miniflare");
  const mod = (await import(pathToFileURL(entry).href)) as Partial<MiniflareModule>;
  if (typeof mod.Miniflare !== "function") throw new Error(`miniflare at ${entry} has no Miniflare class`);
  return mod as MiniflareModule;
}

/** The workerd package's version (reports name the engine they compared against). */
export function workerdVersion(): string | undefined {
  try {
    const file = createRequire(ORACLE_PACKAGE).resolve("workerd/package.json");
    return existsSync(file) ? (createRequire(ORACLE_PACKAGE)("workerd/package.json") as { version: string }).version : undefined;
  } catch {
    return undefined;
  }
}
