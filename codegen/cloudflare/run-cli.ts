// The sourdough-cloudflare command: `build` writes a wrangler project from the app's serve() call,
// `export` writes a namespace's objects from a storageDir to a file, `import` replays that file into
// the deployed worker. Returns the exit code; cli.ts is the process entry point.
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { formatProblem } from "./app-model.ts";
import { build } from "./build.ts";
import { exportNamespace } from "./export-data.ts";
import { importExport, parseExportFile } from "./import-data.ts";

export interface CliIo {
  cwd: string;
  out: (line: string) => void;
  err: (line: string) => void;
  env: Record<string, string | undefined>;
  /** Tests pass miniflare's dispatchFetch. */
  fetch?: (url: string, init: RequestInit) => Promise<Response>;
}

export const USAGE = `Usage:
  sourdough-cloudflare build <app.ts> [-o <dir>] [--name <worker>] [--compatibility-date <YYYY-MM-DD>] [-p <tsconfig>]
      Writes a wrangler project (wrangler.jsonc, entry.ts) into <dir> (default: ./cloudflare) from the
      file that calls serve(worker, { durableObjects, env, … }). Then: cd <dir> && npx wrangler deploy
  sourdough-cloudflare export --storage-dir <dir> --namespace <Class> [-o <file.json>]
      Writes every object of one class, stored by a stopped app, to a portable file (default: <Class>.export.json).
  sourdough-cloudflare import <file.json> --url <worker origin> [--secret <value>]
      Replays the file into the worker's import route (enabled while SOURDOUGH_IMPORT_SECRET is set;
      --secret defaults to that environment variable). Objects are addressed by name.`;

export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === "build") return runBuild(rest, io);
    if (command === "export") return runExport(rest, io);
    if (command === "import") return await runImport(rest, io);
    io.err(command === undefined || command === "-h" || command === "--help" ? USAGE : `sourdough-cloudflare: unknown command ${JSON.stringify(command)}.\n${USAGE}`);
    return command === "-h" || command === "--help" ? 0 : 2;
  } catch (error) {
    io.err(`sourdough-cloudflare ${command}: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}

function runBuild(argv: string[], io: CliIo): number {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { out: { type: "string", short: "o" }, name: { type: "string" }, "compatibility-date": { type: "string" }, project: { type: "string", short: "p" } },
  });
  if (positionals.length !== 1) throw new Error(`expected one file (the one that calls serve()), got ${positionals.length}.\n${USAGE}`);
  const entry = path.resolve(io.cwd, positionals[0]!);
  const outDir = path.resolve(io.cwd, values.out ?? "cloudflare");
  const result = build({
    entry,
    outDir,
    tsconfig: values.project === undefined ? undefined : path.resolve(io.cwd, values.project),
    name: values.name,
    compatibilityDate: values["compatibility-date"],
    command: ["sourdough-cloudflare", "build", ...argv].join(" "),
  });
  for (const p of result.problems) (p.severity === "error" ? io.err : io.out)(formatProblem(p, io.cwd));
  if (result.model === undefined) {
    io.err(`sourdough-cloudflare build: ${result.problems.filter((p) => p.severity === "error").length} error(s); nothing written.`);
    return 1;
  }
  const bindings = result.model.bindings.map((b) => `${b.binding} → ${b.className}`).join(", ");
  io.out(`wrote ${result.written.map((f) => path.relative(io.cwd, f)).join(", ")} (bindings: ${bindings}). Next: cd ${path.relative(io.cwd, outDir) || "."} && npx wrangler deploy`);
  return 0;
}

function runExport(argv: string[], io: CliIo): number {
  const { values } = parseArgs({ args: argv, options: { "storage-dir": { type: "string" }, namespace: { type: "string" }, out: { type: "string", short: "o" } } });
  if (values["storage-dir"] === undefined || values.namespace === undefined) throw new Error(`--storage-dir and --namespace are required.\n${USAGE}`);
  const { file, nameless } = exportNamespace(path.resolve(io.cwd, values["storage-dir"]), values.namespace);
  const out = path.resolve(io.cwd, values.out ?? `${values.namespace}.export.json`);
  writeFileSync(out, JSON.stringify(file));
  io.out(`exported ${file.objects.length} ${values.namespace} object(s) to ${path.relative(io.cwd, out)}`);
  for (const id of nameless) io.out(`warning: ${values.namespace} ${id} has no recorded name: it cannot be imported on Cloudflare (objects are found by name there)`);
  return 0;
}

async function runImport(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { url: { type: "string" }, secret: { type: "string" } } });
  const secret = values.secret ?? io.env.SOURDOUGH_IMPORT_SECRET;
  if (positionals.length !== 1 || values.url === undefined || secret === undefined) throw new Error(`expected <file.json> --url <origin>, and --secret or SOURDOUGH_IMPORT_SECRET.\n${USAGE}`);
  const fileName = path.resolve(io.cwd, positionals[0]!);
  const file = parseExportFile(readFileSync(fileName, "utf8"), fileName);
  const report = await importExport(file, { url: values.url, secret, ...(io.fetch === undefined ? {} : { fetch: io.fetch }) });
  io.out(`imported ${report.imported.length} ${file.namespace} object(s) into ${values.url}`);
  for (const s of report.skipped) io.out(`skipped ${file.namespace} ${s.id}: ${s.reason}`);
  for (const f of report.failed) io.err(`failed ${file.namespace} "${f.name}" (${f.id}): HTTP ${f.status}: ${f.message}`);
  return report.failed.length > 0 ? 1 : 0;
}
