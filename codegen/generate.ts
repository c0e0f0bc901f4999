// The pipeline behind the CLI: scan → check → evolve (against the previous sourdough.ir.json) → ids →
// emit, all in memory. Writing and checking files are separate steps, so --check writes nothing.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { unsupportedDiagnostics } from "./check.ts";
import { DiagnosticCode, type Diagnostic, type SourceLocation, sortDiagnostics } from "./diagnostics.ts";
import { emitCodecs } from "./emit/codecs.ts";
import { emitIndex } from "./emit/index-module.ts";
import { emitIr } from "./emit/ir-json.ts";
import { emitRegistry } from "./emit/registry.ts";
import { emitSchema } from "./emit/schema.ts";
import { emitStubs } from "./emit/stubs.ts";
import { evolve } from "./evolve.ts";
import { assignIds } from "./ids.ts";
import { IR_VERSION, type IrProject } from "./ir.ts";
import { type ScanResult, scan } from "./scan.ts";

/** The files sourdough-gen writes into the out dir. */
export const OUTPUT_FILES = { schema: "schema.capnp", stubs: "stubs.ts", registry: "registry.ts", codecs: "codecs.ts", index: "index.ts", ir: "sourdough.ir.json" } as const;

export interface GenerateOptions {
  /** tsconfig.json of the project (resolved against cwd). */
  project: string;
  /** The out dir (resolved against cwd). */
  out: string;
  /** Only classes in these files or directories (resolved against cwd); all when empty. */
  include?: readonly string[] | undefined;
  /** Refuse nothing: breaking changes are retired and reported as warnings. */
  allowBreaking?: boolean | undefined;
  /** Ignore the previous sourdough.ir.json: start a new schema (ordinals and ids from scratch). */
  fresh?: boolean | undefined;
  /** Seed of the schema's file id on the first run; default: the package name, else the project directory name. */
  schemaName?: string | undefined;
  cwd?: string | undefined;
}

export interface GeneratedFile {
  /** Absolute path. */
  path: string;
  content: string;
}

export interface GenerateResult {
  /** Empty when there are errors. */
  files: GeneratedFile[];
  ir: IrProject | undefined;
  /** Errors: when any, nothing should be written. Sorted by file and position. */
  diagnostics: Diagnostic[];
  /** Methods left out of the stub that may still be meant, and breaking changes let through by allowBreaking. Sorted. */
  warnings: Diagnostic[];
  /** Source files of the project, for --watch. */
  inputs: string[];
  classes: number;
  methods: number;
  outDir: string;
}

/** Runs the whole pipeline in memory. Problems in the user's code come back as diagnostics, never thrown. */
export function generate(options: GenerateOptions): GenerateResult {
  const cwd = options.cwd ?? process.cwd();
  const tsconfig = resolve(cwd, options.project);
  const outDir = resolve(cwd, options.out);
  const irPath = join(outDir, OUTPUT_FILES.ir);
  const empty = { files: [], ir: undefined, warnings: [], inputs: [], classes: 0, methods: 0, outDir };
  if (!existsSync(tsconfig)) {
    return { ...empty, diagnostics: [{ file: tsconfig, line: 1, column: 1, code: DiagnosticCode.CONFIG, message: "no such tsconfig. Pass --project <path to tsconfig.json>." }] };
  }
  const previous = options.fresh === true ? { ir: undefined } : readPrevious(irPath);
  if ("error" in previous) return { ...empty, diagnostics: [previous.error] };
  let scanned: ScanResult;
  try {
    scanned = scan({ tsconfig, outDir, include: options.include?.map((p) => resolve(cwd, p)), fileIdSeed: options.schemaName ?? schemaSeed(tsconfig) });
  } catch (error) {
    const why = error instanceof Error ? error.message.split("\n")[0] : String(error);
    return { ...empty, diagnostics: [{ file: tsconfig, line: 1, column: 1, code: DiagnosticCode.CONFIG, message: `the project cannot be loaded (${why}). Check the tsconfig.` }] };
  }
  const problems = [...scanned.diagnostics, ...unsupportedDiagnostics(scanned.ir, scanned.sites)];
  const { ir, breaks } = evolve(scanned.ir, previous.ir);
  assignIds(ir);
  const at = (site: string): SourceLocation => scanned.sites[site] ?? { file: irPath, line: 1, column: 1 };
  // Refused: the fix, or the flag. Accepted with --allow-breaking: a warning that does not suggest the flag it was given.
  const breakDiagnostics = breaks.map((b): Diagnostic => ({ ...at(b.site), code: DiagnosticCode.BREAKING_CHANGE, message: `${b.message} ${b.fix}, or pass --allow-breaking.` }));
  const breakWarnings = breaks.map((b): Diagnostic => ({ ...at(b.site), code: DiagnosticCode.BREAKING_CHANGE, message: `${b.message} Accepted (--allow-breaking): update those peers.` }));
  const errors = sortDiagnostics([...problems, ...(options.allowBreaking === true ? [] : breakDiagnostics)]);
  const counts = { inputs: scanned.inputs, classes: ir.classes.length, methods: ir.classes.reduce((n, c) => n + c.methods.length, 0), outDir };
  if (errors.length > 0) return { ...counts, files: [], ir: undefined, diagnostics: errors, warnings: sortDiagnostics(scanned.warnings) };
  const file = (name: string, content: string): GeneratedFile => ({ path: join(outDir, name), content });
  const files = [
    file(OUTPUT_FILES.schema, emitSchema(ir)),
    file(OUTPUT_FILES.stubs, emitStubs(ir)),
    file(OUTPUT_FILES.registry, emitRegistry(ir)),
    file(OUTPUT_FILES.codecs, emitCodecs(ir)),
    file(OUTPUT_FILES.index, emitIndex(ir)),
    file(OUTPUT_FILES.ir, emitIr(ir)),
  ];
  return { ...counts, files, ir, diagnostics: [], warnings: sortDiagnostics([...scanned.warnings, ...(options.allowBreaking === true ? breakWarnings : [])]) };
}

function readPrevious(irPath: string): { ir: IrProject | undefined } | { error: Diagnostic } {
  if (!existsSync(irPath)) return { ir: undefined };
  const bad = (why: string): { error: Diagnostic } => ({
    error: { file: irPath, line: 1, column: 1, code: DiagnosticCode.BAD_PREVIOUS_IR, message: `${why}. It records the ordinals and method ids of the previous run: restore it from version control, or delete it to start a new schema.` },
  });
  try {
    const parsed: unknown = JSON.parse(readFileSync(irPath, "utf8"));
    if (typeof parsed !== "object" || parsed === null) return bad("sourdough.ir.json is not an object");
    const ir = parsed as Partial<IrProject>;
    if (ir.version !== IR_VERSION) return bad(`sourdough.ir.json has version ${String(ir.version)}, this sourdough-gen reads version ${IR_VERSION}`);
    if (!Array.isArray(ir.classes) || !Array.isArray(ir.structs) || !Array.isArray(ir.enums) || typeof ir.fileId !== "string") return bad("sourdough.ir.json is incomplete");
    return { ir: ir as IrProject };
  } catch (error) {
    return bad(`sourdough.ir.json cannot be parsed (${error instanceof Error ? error.message : String(error)})`);
  }
}

// The package name next to the tsconfig, else the directory's name.
function schemaSeed(tsconfig: string): string {
  const dir = dirname(tsconfig);
  try {
    const pkg: unknown = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
    const name = typeof pkg === "object" && pkg !== null ? (pkg as { name?: unknown }).name : undefined;
    if (typeof name === "string" && name !== "") return name;
  } catch {
    // no package.json: the directory name will do
  }
  return basename(dir);
}

/** Writes the files whose content differs; returns the paths written. */
export function writeFiles(files: readonly GeneratedFile[]): string[] {
  const written: string[] = [];
  for (const f of files) {
    if (existsSync(f.path) && readFileSync(f.path, "utf8") === f.content) continue;
    mkdirSync(dirname(f.path), { recursive: true });
    writeFileSync(f.path, f.content);
    written.push(f.path);
  }
  return written;
}

/** The files that are missing or differ on disk. */
export function staleFiles(files: readonly GeneratedFile[]): Array<{ path: string; state: "missing" | "differs" }> {
  const out: Array<{ path: string; state: "missing" | "differs" }> = [];
  for (const f of files) {
    if (!existsSync(f.path)) out.push({ path: f.path, state: "missing" });
    else if (readFileSync(f.path, "utf8") !== f.content) out.push({ path: f.path, state: "differs" });
  }
  return out;
}
