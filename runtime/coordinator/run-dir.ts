// A coordinator's private run directory (sockets, slot-down records): made 0700 in the temp dir with
// an owner file, so the next coordinator to start removes the directories of coordinators that died
// without cleaning up (kill -9, a signal nobody handled).
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { currentProcess, isRunning, parseIdentity } from "../util/process-identity.ts";

const PREFIX = "sourdough-run-";
const OWNER_FILE = "owner.json";

/** Makes a new run directory (mode 0700) owned by this process. */
export function createRunDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), PREFIX));
  writeFileSync(path.join(dir, OWNER_FILE), JSON.stringify(currentProcess()), { mode: 0o600 });
  return dir;
}

/** Removes run directories whose owner is no longer running. Returns how many it removed. */
export function removeStaleRunDirs(): number {
  const tmp = os.tmpdir();
  let entries: string[];
  try {
    entries = readdirSync(tmp).filter((name) => name.startsWith(PREFIX));
  } catch {
    return 0;
  }
  let removed = 0;
  for (const name of entries) {
    const dir = path.join(tmp, name);
    let text: string;
    try {
      text = readFileSync(path.join(dir, OWNER_FILE), "utf8");
    } catch {
      continue; // being created right now, or not ours to judge
    }
    const owner = parseIdentity(text);
    if (owner === undefined || isRunning(owner)) continue;
    rmSync(dir, { recursive: true, force: true });
    removed++;
  }
  return removed;
}
