// Why a slot's isolate went away, told to its callers. The host's main thread writes a small file next
// to the slot's socket just before it stops an isolate (CPU limit) or right after the isolate died
// (out of memory); a caller whose connection to that socket closes reads it, so the calls that were in
// flight fail with the real reason instead of a bare "connection closed".
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { ErrorCode } from "../errors.ts";
import type { EventLabel } from "./isolate-monitor.ts";
import { socketPath } from "./cluster-config.ts";

export interface SlotDown {
  code: typeof ErrorCode.CPU_LIMIT | typeof ErrorCode.MEMORY_LIMIT;
  /** What happened, naming the isolate and the limit. */
  message: string;
  /** The event the isolate started last: the culprit, as far as the isolate could tell. */
  event: EventLabel | undefined;
  /** When it happened (ms since the epoch): a caller ignores reasons older than its connection. */
  at: number;
}

function downPath(runDir: string, host: number, isolate: number): string {
  return `${socketPath(runDir, host, isolate)}.down`;
}

/** Written atomically (rename), so a reader never sees half a record. */
export function writeSlotDown(runDir: string, host: number, isolate: number, down: SlotDown): void {
  const file = downPath(runDir, host, isolate);
  writeFileSync(`${file}.tmp`, JSON.stringify(down), { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}

/** The slot's last recorded stop, if any and not older than `since`. */
export function readSlotDown(runDir: string, host: number, isolate: number, since: number): SlotDown | undefined {
  let down: SlotDown;
  try {
    down = JSON.parse(readFileSync(downPath(runDir, host, isolate), "utf8")) as SlotDown;
  } catch {
    return undefined; // no record (the usual case: a host killed from outside leaves none)
  }
  // Validated where it arrives: only a well-formed record of a known limit names an error code.
  const known = down.code === ErrorCode.CPU_LIMIT || down.code === ErrorCode.MEMORY_LIMIT;
  return known && typeof down.message === "string" && typeof down.at === "number" && down.at >= since ? down : undefined;
}
