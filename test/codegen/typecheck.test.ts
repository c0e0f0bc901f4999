// Generated TypeScript compiles under the strictest settings a user project may have (noUnused*,
// exactOptionalPropertyTypes, noPropertyAccessFromIndexSignature, erasableSyntaxOnly, ...).
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CASES, REPO, removeDir, tempDir } from "./support/fixtures.ts";
import { STRICTEST, tsc } from "./support/tsc.ts";

const dir = tempDir("typecheck");
afterAll(() => removeDir(dir));

describe("generated TypeScript", { timeout: 60_000 }, () => {
  it("type-checks under tsc --strict and every extra strictness flag", () => {
    const files = CASES.flatMap((c) => readdirSync(c.expected).filter((f) => f.endsWith(".ts")).map((f) => join(c.expected, f)));
    expect(files.length).toBeGreaterThanOrEqual(CASES.length * 3);
    const config = join(dir, "tsconfig.json");
    writeFileSync(config, JSON.stringify({ compilerOptions: { ...STRICTEST, typeRoots: [join(REPO, "node_modules/@types")], paths: { sourdough: [join(REPO, "dist/runtime/index.d.ts")], "sourdough/codecs": [join(REPO, "dist/runtime/codecs/index.d.ts")] } }, files }, null, 2));
    expect(tsc(config)).toBe("");
  });
});
