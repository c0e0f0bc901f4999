// One owner per storageDir: a coordinator takes `storageDir/.sourdough.lock` (its pid and start time)
// before any host opens a database there, and removes it on close. A second coordinator on the same
// directory fails at once, naming the owner; a lock left by a process that is gone (kill -9) is
// recognised as stale and taken over. Also warns when the directory is readable by other users.
import { chmodSync, closeSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from "node:fs";
import path from "node:path";
import { ErrorCode, SourdoughError } from "../errors.ts";
import { currentProcess, isRunning, parseIdentity } from "../util/process-identity.ts";

const LOCK_FILE = ".sourdough.lock";
/** Lock files held by coordinators of this process (a pid alone cannot tell two of them apart). */
const heldHere = new Set<string>();

export interface StorageLock {
  /** Removes the lock file if it is still ours. */
  release(): void;
}

/**
 * Creates `dir` (mode 0700) if needed and takes its lock. Throws ERR_STORAGE_IN_USE naming the
 * directory and the owner's pid when another live process holds it. `warn` receives one line when
 * the directory is open to other users.
 */
export function lockStorageDir(dir: string, warn: (line: string) => void): StorageLock {
  if (mkdirSync(dir, { recursive: true }) !== undefined) chmodSync(dir, 0o700);
  const mode = statSync(dir).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    warn(`sourdough: storageDir ${dir} has mode 0${mode.toString(8)}: other users can read your objects' data. Run chmod 700 ${JSON.stringify(dir)}.`);
  }
  const file = path.join(dir, LOCK_FILE);
  const me = currentProcess();
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = openSync(file, "wx", 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const owner = readOwner(file);
      const inUse = owner !== undefined && (owner.pid === me.pid ? heldHere.has(file) : isRunning(owner));
      if (inUse) {
        const who = owner.pid === me.pid ? `another coordinator in this process (pid ${owner.pid})` : `another sourdough coordinator (pid ${owner.pid})`;
        throw new SourdoughError(
          ErrorCode.STORAGE_IN_USE,
          `ClusterCoordinator: storageDir ${dir} is in use by ${who}; lock file ${file}. Close that coordinator, or give this one another storageDir.`,
        );
      }
      try {
        unlinkSync(file); // stale: its owner is gone (or it is unreadable, half-written by a crash)
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
      }
      continue;
    }
    writeSync(fd, JSON.stringify(me));
    closeSync(fd);
    heldHere.add(file);
    return {
      release() {
        if (!heldHere.delete(file) || readOwner(file)?.pid !== me.pid) return;
        try {
          unlinkSync(file);
        } catch {
          // already gone
        }
      },
    };
  }
  throw new SourdoughError(ErrorCode.STORAGE_IN_USE, `ClusterCoordinator: could not take the lock ${file}: other processes keep taking it. Start one coordinator per storageDir.`);
}

function readOwner(file: string) {
  try {
    return parseIdentity(readFileSync(file, "utf8"));
  } catch {
    return undefined;
  }
}
