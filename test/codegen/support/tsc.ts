// Running tsc from tests: the strictest options a user project may set, and a runner returning tsc's output.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { REPO } from "./fixtures.ts";

export const STRICTEST = {
  target: "ES2022",
  module: "NodeNext",
  moduleResolution: "NodeNext",
  types: ["node"],
  strict: true,
  noUncheckedIndexedAccess: true,
  exactOptionalPropertyTypes: true,
  noImplicitOverride: true,
  noImplicitReturns: true,
  noFallthroughCasesInSwitch: true,
  noUnusedLocals: true,
  noUnusedParameters: true,
  noPropertyAccessFromIndexSignature: true,
  verbatimModuleSyntax: true,
  isolatedModules: true,
  erasableSyntaxOnly: true,
  allowImportingTsExtensions: true,
  noEmit: true,
  skipLibCheck: true,
};

/** Runs tsc; returns its output ("" when clean). */
export function tsc(project: string): string {
  try {
    execFileSync(join(REPO, "node_modules/.bin/tsc"), ["-p", project], { encoding: "utf8", stdio: "pipe" });
    return "";
  } catch (error) {
    return String((error as { stdout?: string }).stdout ?? error);
  }
}
