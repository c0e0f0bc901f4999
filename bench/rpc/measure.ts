// bench/run.ts's measurement bookkeeping: the registry of figures (runs per round, paired ratios,
// targets), and what it reads off the machine (clock, storage on disk, open descriptors, liveness).
import * as fs from "node:fs";
import * as path from "node:path";


export type Unit = "µs" | "frames/s" | "calls/s" | "req/s" | "ms" | "×" | "count" | "MiB";

export interface Figure {
  key: string;
  label: string;
  unit: Unit;
  runs: number[];
  /** Informational figures are measured once (not alternated) and have no ratio. */
  once?: boolean;
  /** Why this figure was not measured (the table shows "skipped: <reason>"). */
  skipped?: string;
}

export interface Ratio {
  key: string;
  /** Figure keys: numerator (RPC) and denominator (raw echo, same round). */
  num: string;
  den: string;
  label: string;
}

export interface Target {
  figure: string;
  /** Compared against the figure's median (or the ratio's median, for ratio targets). */
  ratio?: string;
  op: "<=" | ">=";
  value: number;
  text: string;
}


export class Registry {
  readonly figures = new Map<string, Figure>();
  readonly ratios: Ratio[] = [];
  readonly targets: Target[] = [];

  define(key: string, label: string, unit: Unit, once = false): void {
    if (!this.figures.has(key)) this.figures.set(key, { key, label, unit, runs: [], ...(once ? { once } : {}) });
  }

  record(key: string, value: number): void {
    const f = this.figures.get(key);
    if (f === undefined) throw new Error(`bench: figure ${key} was not defined`);
    f.runs.push(value);
  }

  skip(key: string, reason: string): void {
    const f = this.figures.get(key);
    if (f === undefined) throw new Error(`bench: figure ${key} was not defined`);
    f.skipped = reason;
  }

  ratio(num: string, den: string, label: string): void {
    this.ratios.push({ key: `${num}/${den}`, num, den, label });
  }

  /** Paired ratios: run i of the numerator over run i of the denominator (same round). */
  pairedRatios(r: Ratio): number[] {
    const a = this.figures.get(r.num)?.runs ?? [];
    const b = this.figures.get(r.den)?.runs ?? [];
    const out: number[] = [];
    for (let i = 0; i < Math.min(a.length, b.length); i++) out.push((a[i] as number) / (b[i] as number));
    return out;
  }
}

// ---------------------------------------------------------------------------------------------------
// Helpers

export function log(text: string): void {
  process.stderr.write(`[bench] ${text}\n`);
}

export function nowUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/** Bytes of all files under `dir`, and of the SQLite WAL files among them. */
export function storageBytes(dir: string): { total: number; wal: number } {
  let total = 0;
  let wal = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      const sub = storageBytes(p);
      total += sub.total;
      wal += sub.wal;
    } else if (entry.isFile()) {
      // Objects evicted while idle close their databases, and SQLite removes the -wal/-shm files.
      const size = fs.statSync(p, { throwIfNoEntry: false })?.size ?? 0;
      total += size;
      if (entry.name.endsWith("-wal")) wal += size;
    }
  }
  return { total, wal };
}

/** Open file descriptors of a process (Linux /proc), or undefined where that cannot be read. */
export function openFds(pid: number): number | undefined {
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return undefined;
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
