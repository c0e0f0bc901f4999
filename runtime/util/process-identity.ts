// Who owns a lock or a run directory: a pid plus that process's start time, so a pid the system has
// since reused for another process is not mistaken for the owner. Linux reads the start time from
// /proc; elsewhere the pid alone is used.
import { readFileSync } from "node:fs";

export interface ProcessIdentity {
  pid: number;
  /** Start time in clock ticks since boot (/proc/<pid>/stat field 22), when the system tells. */
  started: string | undefined;
}

export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Field 2 (the command) may hold spaces and parentheses: count fields after its closing ")".
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

export function currentProcess(): ProcessIdentity {
  return { pid: process.pid, started: processStartTime(process.pid) };
}

/** True when the process that wrote `owner` still runs (the same process, not a reused pid). */
export function isRunning(owner: ProcessIdentity): boolean {
  try {
    process.kill(owner.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EPERM") return false; // ESRCH: gone
  }
  const started = processStartTime(owner.pid);
  return owner.started === undefined || started === undefined || started === owner.started;
}

/** Parses an identity written by `JSON.stringify(currentProcess())`; undefined if it is not one. */
export function parseIdentity(text: string): ProcessIdentity | undefined {
  try {
    const value = JSON.parse(text) as Partial<ProcessIdentity>;
    if (typeof value.pid !== "number" || !Number.isInteger(value.pid) || value.pid <= 0) return undefined;
    return { pid: value.pid, started: typeof value.started === "string" ? value.started : undefined };
  } catch {
    return undefined;
  }
}
