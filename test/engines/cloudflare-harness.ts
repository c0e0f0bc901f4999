// Runs an app on workerd the way a user would: `sourdough-cloudflare build` writes the wrangler
// project, esbuild bundles its entry with the workerd/worker conditions (as wrangler does), and
// miniflare runs the bundle inside a Worker with the options read from the generated wrangler.jsonc.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import type { Problem } from "../../codegen/cloudflare/app-model.ts";
import { build } from "../../codegen/cloudflare/build.ts";
import type { ServeHandle } from "sourdough";
import { loadMiniflare, type MiniflareInstance, type MiniflareModule } from "../support/miniflare.ts";

export const REPO = fileURLToPath(new URL("../..", import.meta.url));

export interface WorkerdProject {
  dir: string;
  outDir: string;
  wrangler: {
    compatibility_date: string;
    compatibility_flags?: string[];
    durable_objects: { bindings: Array<{ name: string; class_name: string }> };
    migrations: Array<{ tag: string; new_sqlite_classes?: string[] }>;
    vars?: Record<string, unknown>;
  };
  bundle: string;
  problems: Problem[];
  remove(): void;
}

/** Same date rule as the storage oracle: what this miniflare supports, never older than 2025-04-01. */
export function compatibilityDate(miniflare: MiniflareModule): string {
  const supported = miniflare.supportedCompatibilityDate;
  return supported !== undefined && supported > "2025-04-01" ? supported : "2025-04-01";
}

/** Writes the wrangler project for `appFile` into a temp dir (with node_modules/sourdough → this repo, as installed) and bundles it. */
export async function buildWorkerdProject(appFile: string, date: string): Promise<WorkerdProject> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "sourdough-cf-"));
  mkdirSync(path.join(dir, "node_modules"));
  symlinkSync(REPO, path.join(dir, "node_modules", "sourdough"), "dir");
  const outDir = path.join(dir, "cloudflare");
  const result = build({ entry: path.join(REPO, appFile), outDir, compatibilityDate: date, command: `sourdough-cloudflare build ${appFile}` });
  if (result.model === undefined) throw new Error(`build failed:\n${result.problems.map((p) => `${p.code}: ${p.message}`).join("\n")}`);
  const text = readFileSync(path.join(outDir, "wrangler.jsonc"), "utf8");
  const wrangler = JSON.parse(text.split("\n").filter((l) => !l.startsWith("//")).join("\n")) as WorkerdProject["wrangler"];
  const bundled = await esbuild.build({
    entryPoints: [path.join(outDir, "entry.ts")],
    bundle: true,
    write: false,
    format: "esm",
    platform: "neutral",
    conditions: ["workerd", "worker"],
    external: ["cloudflare:*", "node:*"],
    logLevel: "silent",
  });
  await esbuild.stop(); // esbuild's service process would outlive the test
  return { dir, outDir, wrangler, bundle: bundled.outputFiles[0]!.text, problems: result.problems, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Starts miniflare on the bundle, configured from the generated wrangler.jsonc (plus `bindings`). */
export async function startWorkerd(miniflare: MiniflareModule, project: WorkerdProject, bindings: Record<string, unknown> = {}): Promise<MiniflareInstance> {
  const { wrangler } = project;
  const sqlite = new Set(wrangler.migrations.flatMap((m) => m.new_sqlite_classes ?? []));
  const mf = new miniflare.Miniflare({
    modules: [{ type: "ESModule", path: "entry.js", contents: project.bundle }],
    compatibilityDate: wrangler.compatibility_date,
    compatibilityFlags: wrangler.compatibility_flags ?? [],
    durableObjects: Object.fromEntries(wrangler.durable_objects.bindings.map((b) => [b.name, { className: b.class_name, useSQLite: sqlite.has(b.class_name) }])),
    bindings: { ...wrangler.vars, ...bindings },
  });
  await mf.ready;
  return mf;
}

/** One request and what came back, comparable across engines. */
export interface Exchange {
  request: string;
  status: number;
  contentType: string | null;
  body: string;
}

export async function exchange(send: (url: string, init: RequestInit) => Promise<Response>, origin: string, method: string, target: string): Promise<Exchange> {
  const response = await send(new URL(target, origin).href, { method });
  return { request: `${method} ${target}`, status: response.status, contentType: response.headers.get("content-type"), body: await response.text() };
}

/** One app on both engines: the project `sourdough-cloudflare build` writes, on workerd, and the app itself on sourdough. */
export interface TwoEngines {
  project: WorkerdProject;
  mf: MiniflareInstance;
  /** workerd's own socket, e.g. http://127.0.0.1:41234 (WebSocket clients connect here). */
  workerdOrigin: string;
  app: ServeHandle;
  storageDir: string;
  /** Closes both engines and removes the project and storage. Idempotent. */
  close(): Promise<void>;
}

/** Builds `appFile`'s wrangler project and starts it on workerd, and `startApp(storageDir)` on sourdough. */
export async function startTwoEngines(appFile: string, startApp: (storageDir: string) => ServeHandle, bindings: Record<string, unknown> = {}): Promise<TwoEngines> {
  const miniflare = await loadMiniflare();
  const project = await buildWorkerdProject(appFile, compatibilityDate(miniflare));
  let mf: MiniflareInstance | undefined;
  let app: ServeHandle | undefined;
  const storageDir = mkdtempSync(path.join(os.tmpdir(), "sourdough-cf-app-"));
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      await app?.close();
      await mf?.dispose();
      project.remove();
      rmSync(storageDir, { recursive: true, force: true });
    })());
  try {
    mf = await startWorkerd(miniflare, project, bindings);
    const workerdOrigin = (await mf.ready).origin;
    app = startApp(storageDir);
    await app.ready;
    return { project, mf, workerdOrigin, app, storageDir, close };
  } catch (error) {
    await close();
    throw error;
  }
}
