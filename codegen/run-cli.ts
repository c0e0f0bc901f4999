// The sourdough-gen command: parses arguments and configuration, runs generate(), prints diagnostics
// and the one-line summary, writes or checks the files, and watches when asked. Returns the exit code;
// cli.ts is the process entry point that exits with it.
import { type Dirent, type FSWatcher, readFileSync, readdirSync, statSync, watch } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { parseArgs } from "node:util";
import { formatDiagnostic } from "./diagnostics.ts";
import { type GenerateOptions, type GenerateResult, generate, staleFiles, writeFiles } from "./generate.ts";

export interface CliIo {
  cwd: string;
  out: (line: string) => void;
  err: (line: string) => void;
  /** Ends --watch (the CLI passes one tied to SIGINT/SIGTERM). */
  signal?: AbortSignal | undefined;
}

export const USAGE = `Usage: sourdough-gen [options] [paths...]

Finds the exported classes extending DurableObject (from "sourdough") in a TypeScript project and writes,
into the out dir: schema.capnp (the wire contract), stubs.ts (typed stubs), registry.ts (where each class
lives, method ids), codecs.ts (Cap'n Proto codecs) and sourdough.ir.json (keeps ordinals stable: commit it).

  paths                 only classes in these files or directories (default: the whole project)
  -p, --project <file>  tsconfig.json of the project (default: ./tsconfig.json)
  -o, --out <dir>       output directory (default: sourdough.gen)
      --check           write nothing; exit 1 listing the files that are out of date
  -w, --watch           regenerate when a source file changes
      --allow-breaking  accept breaking schema changes (they are reported as warnings)
  -h, --help            show this help

Defaults may also come from a "sourdough" field in the package.json next to the tsconfig:
  { "sourdough": { "out": "src/sourdough.gen", "include": ["src/objects"] } }`;

interface Parsed {
  options: GenerateOptions;
  check: boolean;
  watch: boolean;
}

/** Runs the command; resolves with the exit code (0 ok, 1 errors or stale output, 2 bad usage). */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let parsed: Parsed | "help";
  try {
    parsed = parse(argv, io.cwd);
  } catch (error) {
    io.err(`sourdough-gen: ${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
    return 2;
  }
  if (parsed === "help") {
    io.out(USAGE);
    return 0;
  }
  const first = once(parsed, io);
  if (!parsed.watch) return first.code;
  await watchLoop(parsed, io, first.inputs);
  return 0;
}

function parse(argv: readonly string[], cwd: string): Parsed | "help" {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      project: { type: "string", short: "p" },
      out: { type: "string", short: "o" },
      check: { type: "boolean" },
      watch: { type: "boolean", short: "w" },
      "allow-breaking": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help === true) return "help";
  if (values.check === true && values.watch === true) throw new Error("--check and --watch cannot be combined");
  const project = resolve(cwd, values.project ?? "tsconfig.json");
  const config = packageConfig(dirname(project));
  const configDir = dirname(project);
  return {
    options: {
      project,
      out: values.out !== undefined ? resolve(cwd, values.out) : resolve(configDir, config.out ?? "sourdough.gen"),
      include: positionals.length > 0 ? positionals.map((p) => resolve(cwd, p)) : config.include?.map((p) => resolve(configDir, p)),
      allowBreaking: values["allow-breaking"] === true,
      cwd,
    },
    check: values.check === true,
    watch: values.watch === true,
  };
}

function packageConfig(dir: string): { out?: string; include?: string[] } {
  let pkg: unknown;
  try {
    pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
  } catch {
    return {};
  }
  const field = typeof pkg === "object" && pkg !== null ? (pkg as { sourdough?: unknown }).sourdough : undefined;
  if (typeof field !== "object" || field === null) return {};
  const { out, include } = field as { out?: unknown; include?: unknown };
  if (out !== undefined && typeof out !== "string") throw new Error(`package.json: "sourdough.out" must be a string`);
  if (include !== undefined && !(Array.isArray(include) && include.every((x) => typeof x === "string"))) throw new Error(`package.json: "sourdough.include" must be an array of paths`);
  return { ...(out === undefined ? {} : { out }), ...(include === undefined ? {} : { include: include as string[] }) };
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? "" : word.endsWith("s") ? "es" : "s"}`;

function display(cwd: string, path: string): string {
  return relative(cwd, path).split(sep).join("/") || ".";
}

interface Outcome {
  code: number;
  inputs: string[];
}

function once(parsed: Parsed, io: CliIo): Outcome {
  const started = performance.now();
  let result: GenerateResult;
  try {
    result = generate(parsed.options);
  } catch (error) {
    io.err(`sourdough-gen: error: ${error instanceof Error ? error.message : String(error)}`);
    return { code: 1, inputs: [] };
  }
  const done = (code: number): Outcome => ({ code, inputs: result.inputs });
  const ms = Math.round(performance.now() - started);
  for (const w of result.warnings) io.err(formatDiagnostic(w, io.cwd, "warning"));
  const outDir = `${display(io.cwd, result.outDir)}/`;
  const counts = `${plural(result.classes, "class")}, ${plural(result.methods, "method")} in ${ms} ms`;
  if (result.diagnostics.length > 0) {
    for (const d of result.diagnostics) io.err(formatDiagnostic(d, io.cwd));
    io.err(`sourdough-gen: ${plural(result.diagnostics.length, "error")}; nothing was written.`);
    return done(1);
  }
  if (parsed.check) {
    const stale = staleFiles(result.files);
    if (stale.length === 0) {
      io.out(`sourdough-gen --check: up to date (${counts}) → ${outDir}`);
      return done(0);
    }
    io.err(`sourdough-gen --check: ${plural(stale.length, "generated file")} out of date:`);
    for (const s of stale) io.err(`  ${display(io.cwd, s.path)} (${s.state})`);
    io.err("Run sourdough-gen to update them.");
    return done(1);
  }
  writeFiles(result.files);
  io.out(`sourdough-gen: ${counts} → ${outDir}`);
  return done(0);
}

// Regenerates on changes to the project's sources (not to the out dir) until io.signal aborts. It
// watches the tsconfig's directory and every input's; a directory created in one of them (with its
// subdirectories: `mkdir -p src/rooms/chat`) is watched from then on, and triggers a run, so the files
// it brings become inputs.
async function watchLoop(parsed: Parsed, io: CliIo, firstInputs: string[]): Promise<void> {
  const outDir = resolve(parsed.options.out);
  const skipped = (dir: string): boolean => dir === outDir || dir.startsWith(outDir + sep) || /(^|[\\/])(node_modules|\.[^\\/]*)$/.test(dir);
  let inputs = firstInputs;
  const created = new Set<string>();
  let watchers: FSWatcher[] = [];
  let timer: NodeJS.Timeout | undefined;
  const schedule = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      const outcome = once(parsed, io);
      if (outcome.inputs.length > 0) inputs = outcome.inputs;
      arm();
    }, 100);
  };
  const addTree = (dir: string): void => {
    if (skipped(dir) || created.has(dir)) return;
    created.add(dir);
    for (const entry of readdirSafe(dir)) if (entry.isDirectory()) addTree(join(dir, entry.name));
  };
  const arm = (): void => {
    for (const w of watchers) w.close();
    for (const dir of created) if (!isDirectory(dir)) created.delete(dir);
    const dirs = new Set([dirname(parsed.options.project), ...inputs.map((f) => dirname(f)), ...created]);
    watchers = [...dirs].filter((d) => !skipped(d) && isDirectory(d)).map((dir) =>
      watch(dir, (_event, name) => {
        if (name === null) return schedule();
        if (/\.(m|c)?tsx?$|(^|\/)(tsconfig.*|package)\.json$/.test(String(name))) return schedule();
        const path = join(dir, String(name));
        if (!created.has(path) && isDirectory(path) && !skipped(path)) {
          addTree(path);
          schedule();
        }
      }),
    );
  };
  arm();
  io.out("sourdough-gen: watching for changes (Ctrl-C to stop)");
  await new Promise<void>((done) => {
    if (io.signal === undefined || io.signal.aborted) return done();
    io.signal.addEventListener("abort", () => done(), { once: true });
  });
  clearTimeout(timer);
  for (const w of watchers) w.close();
}

function isDirectory(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isDirectory() === true;
}

function readdirSafe(dir: string): Dirent[] {
  try {
    return readdirSync(dir, { withFileTypes: true });
  } catch {
    return []; // removed meanwhile
  }
}
