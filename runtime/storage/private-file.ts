// Object data is private to the user who runs sourdough: database files are made 0600 and their
// directories 0700 whatever the umask (SQLite gives a database's WAL the database's own mode), and a
// failure to open says what actually went wrong (EMFILE is not "another process owns it").
import { chmodSync, closeSync, existsSync, fchmodSync, linkSync, mkdirSync, openSync, unlinkSync, writeSync } from "node:fs";
import path from "node:path";
import { threadId } from "node:worker_threads";
import { ErrorCode, SourdoughError } from "../errors.ts";

/** Creates `file`'s directory (0700) and the file itself (0600) if missing; tightens an existing file to 0600. */
export function preparePrivateFile(file: string): void {
  const dir = path.dirname(file);
  const made = mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (made !== undefined) {
    for (let d = dir; d.length >= made.length; d = path.dirname(d)) chmodSync(d, 0o700); // mode is subject to umask
  }
  const fd = openSync(file, "a", 0o600);
  try {
    fchmodSync(fd, 0o600);
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes `name` to `<database without .sqlite>.name` (0600) unless that file exists: the name an
 * object was addressed by, for exports. Written whole or not at all (a temp file linked into place),
 * so a process killed mid-write never leaves an empty name that later activations would keep (no
 * fsync: the database itself is not synced before its first commit either). Later activations cost
 * one stat.
 */
export function recordName(databaseFile: string, name: string): void {
  const file = databaseFile.replace(/\.sqlite$/, "") + ".name";
  if (existsSync(file)) return;
  const temp = `${file}.${process.pid}.${threadId}.tmp`;
  const fd = openSync(temp, "w", 0o600);
  try {
    fchmodSync(fd, 0o600); // the mode given to open is subject to the umask
    writeSync(fd, name);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(temp, file); // fails with EEXIST if another writer got there first: theirs stays
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  } finally {
    unlinkSync(temp);
  }
}

/** True when this process cannot open another file descriptor (EMFILE/ENFILE). */
export function outOfFileDescriptors(): boolean {
  try {
    closeSync(openSync("/dev/null", "r"));
    return false;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === "EMFILE" || code === "ENFILE";
  }
}

/** The error for a database that could not be opened, saying why as precisely as the system tells. */
export function openFailure(file: string, cause: unknown): SourdoughError {
  const detail = cause instanceof Error ? cause.message : String(cause);
  const code = (cause as { code?: string }).code;
  let why: string;
  if (code === "EMFILE" || code === "ENFILE" || outOfFileDescriptors()) {
    why = "too many open files. Raise the fd limit (ulimit -n), or lower idleEvictionMs so idle objects close their databases sooner";
  } else if (code === "SQLITE_BUSY" || /locked|busy/i.test(detail)) {
    why = `${detail}. Another process holds this object's database: run one coordinator per storageDir`;
  } else if (code === "EACCES" || code === "EPERM" || /readonly|permission/i.test(detail)) {
    why = `${detail}. Check that this user may read and write ${path.dirname(file)}`;
  } else {
    why = `${detail}. Check the storageDir (free space, permissions)`;
  }
  return new SourdoughError(ErrorCode.STORAGE, `storage: cannot open ${file}: ${why}.`, { cause, retryable: code === "EMFILE" || code === "SQLITE_BUSY" });
}
