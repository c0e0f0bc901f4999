// The golden fixtures of sourdough-gen: test/codegen/fixtures/<case>/input.ts → <case>/expected/*
// (or <case>/expected-errors.txt). The counter-example case reads examples/counter/counter.ts through
// the repository's own tsconfig. Generation is memoized per process: ts-morph projects are slow to load.
import { mkdtempSync, rmSync, symlinkSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type GenerateResult, generate } from "../../../codegen/generate.ts";

export const REPO = fileURLToPath(new URL("../../..", import.meta.url));
export const FIXTURES = join(REPO, "test/codegen/fixtures");

export interface Case {
  name: string;
  project: string;
  include: string[];
  expected: string;
}

/** The cases that generate output. */
export const CASES: Case[] = [
  ...["basic", "types", "inheritance", "empty", "bench", "refs"].map((name) => ({
    name,
    project: join(FIXTURES, "tsconfig.json"),
    include: [join(FIXTURES, name, "input.ts")],
    expected: join(FIXTURES, name, "expected"),
  })),
  {
    name: "counter-example",
    project: join(REPO, "tsconfig.json"),
    include: [join(REPO, "examples/counter/counter.ts")],
    expected: join(FIXTURES, "counter-example/expected"),
  },
];

/** The cases that must fail, with their expected diagnostics. */
export const INVALID_CASES = ["invalid", "reserved"].map((name) => ({
  name,
  project: join(FIXTURES, "tsconfig.json"),
  include: [join(FIXTURES, name, "input.ts")],
  expectedErrors: join(FIXTURES, name, "expected-errors.txt"),
}));

const memo = new Map<string, GenerateResult>();

/** Generates a case in memory, ignoring any sourdough.ir.json in its expected dir. */
export function generateCase(c: { name: string; project: string; include: string[]; expected?: string }): GenerateResult {
  const hit = memo.get(c.name);
  if (hit !== undefined) return hit;
  const result = generate({ project: c.project, out: c.expected ?? join(FIXTURES, c.name, "expected"), include: c.include, fresh: true, cwd: REPO });
  memo.set(c.name, result);
  return result;
}

export function caseNamed(name: string): Case {
  const c = CASES.find((x) => x.name === name);
  if (c === undefined) throw new Error(`no fixture case ${name}`);
  return c;
}

/** A temp directory removed when the process exits (tests also remove it themselves). */
export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `sourdough-gen-${prefix}-`));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Writes files (path relative to `dir` → content), creating directories. */
export function writeTree(dir: string, files: Record<string, string>): void {
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
}

/**
 * Installs this repository as the temp project's only dependency: `node_modules/sourdough` links
 * here (built dist/), nothing else. Generated code must run with that alone (issue 13).
 */
export function linkSourdough(dir: string): void {
  mkdirSync(join(dir, "node_modules"), { recursive: true });
  symlinkSync(REPO, join(dir, "node_modules", "sourdough"), "dir");
}

/**
 * A tsconfig for a temp project: ESM, strict, `sourdough` and `sourdough/codecs` resolved to this
 * repository's built declarations (so generated stubs and codecs type-check), and nothing else.
 */
export function tempProjectFiles(extra: Record<string, unknown> = {}): Record<string, string> {
  return {
    "package.json": JSON.stringify({ name: "temp-project", type: "module" }),
    "tsconfig.json": JSON.stringify(
      {
        compilerOptions: {
          target: "ES2022",
          module: "NodeNext",
          moduleResolution: "NodeNext",
          types: ["node"],
          typeRoots: [join(REPO, "node_modules/@types")],
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          allowImportingTsExtensions: true,
          paths: { sourdough: [join(REPO, "dist/runtime/index.d.ts")], "sourdough/codecs": [join(REPO, "dist/runtime/codecs/index.d.ts")] },
          ...extra,
        },
        include: ["src"],
      },
      null,
      2,
    ),
  };
}
