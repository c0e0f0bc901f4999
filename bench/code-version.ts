// Which code a benchmark measured: the commit (marked dirty when runtime/ has uncommitted changes)
// and when dist/ was built, which is what the hosts run.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));

/** The commit under test, "+dirty" when runtime/ has uncommitted changes; dist/'s build time. */
export function codeVersion(): { commit: string; distBuilt: string } {
  const repo = path.resolve(here, "..");
  let commit = "unknown";
  try {
    const git = (...a: string[]): string => execFileSync("git", a, { cwd: repo, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    commit = git("rev-parse", "--short", "HEAD");
    if (git("status", "--porcelain", "--", "runtime") !== "") commit += "+dirty";
  } catch {
    // not a git checkout
  }
  let distBuilt = "unknown";
  try {
    distBuilt = fs.statSync(path.join(repo, "dist", "runtime", "index.js")).mtime.toISOString();
  } catch {
    // not built
  }
  return { commit, distBuilt };
}

/** True when a runtime/ source file is newer than dist/runtime/index.js (`npm run build` is due). */
export function distIsStale(): boolean {
  const repo = path.resolve(here, "..");
  let built: number;
  try {
    built = fs.statSync(path.join(repo, "dist", "runtime", "index.js")).mtimeMs;
  } catch {
    return true;
  }
  const newest = (dir: string): number => {
    let max = 0;
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) max = Math.max(max, newest(p));
      else if (e.name.endsWith(".ts")) max = Math.max(max, fs.statSync(p).mtimeMs);
    }
    return max;
  };
  try {
    return newest(path.join(repo, "runtime")) > built;
  } catch {
    return false;
  }
}
