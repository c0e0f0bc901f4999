// A synthetic 50 classes × 10 methods project: sourdough-gen finds every method and the project
// type-checks. Its speed against `tsc --noEmit` is measured by bench/codegen.ts, not here.
import { join } from "node:path";
import ts from "typescript";
import { afterAll, describe, expect, it } from "vitest";
import { generate } from "../../codegen/generate.ts";
import { removeDir, tempDir } from "./support/fixtures.ts";
import { writeSyntheticProject } from "./support/synthetic.ts";

const dir = tempDir("synthetic");
afterAll(() => removeDir(dir));

function typeCheck(tsconfig: string): number {
  const parsed = ts.getParsedCommandLineOfConfigFile(tsconfig, {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} });
  if (parsed === undefined) throw new Error("cannot parse tsconfig");
  const program = ts.createProgram({ rootNames: parsed.fileNames, options: { ...parsed.options, noEmit: true } });
  return ts.getPreEmitDiagnostics(program).length;
}

describe("sourdough-gen on a 50 × 10 project", { timeout: 120_000 }, () => {
  it("generates all 500 methods from a project that type-checks", () => {
    const tsconfig = writeSyntheticProject(dir, 50);
    const r = generate({ project: tsconfig, out: join(dir, "sourdough.gen"), fresh: true, cwd: dir });
    expect(r.diagnostics).toEqual([]);
    expect(r.methods).toBe(500);
    expect(typeCheck(tsconfig)).toBe(0);
  });
});
