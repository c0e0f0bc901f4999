/**
 * Summarizes V8 .cpuprofile files (from `--cpu-prof` or the inspector): self time per function,
 * summed over every node of the call tree with the same functionName + url + line.
 *
 *   node --import tsx bench/profile-summary.ts [--top=N] file.cpuprofile...
 *
 * Used by `npm run bench -- --profile` to print the hot functions of every host process and
 * isolate next to the benchmark table.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { pathToFileURL } from "node:url";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface HotFunction {
  /** functionName (or "(anonymous)") */
  name: string;
  /** where, shortened: path relative to the repo, or node:internal/..., or a pseudo-frame */
  where: string;
  selfMs: number;
  /** share of all sampled time in this profile, 0..1 */
  share: number;
}

export interface ProfileSummary {
  file: string;
  totalMs: number;
  /** sampled time outside "(idle)", "(program)" and "(garbage collector)" */
  busyMs: number;
  idleMs: number;
  gcMs: number;
  top: HotFunction[];
}

const repoRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");

function shortUrl(url: string): string {
  if (url === "") return "";
  let p = url;
  if (p.startsWith("file://")) p = new URL(p).pathname;
  if (p.startsWith(repoRoot + path.sep)) p = path.relative(repoRoot, p);
  return p;
}

function isCpuProfile(value: unknown): value is CpuProfile {
  if (typeof value !== "object" || value === null) return false;
  const v = value as { nodes?: unknown; startTime?: unknown; endTime?: unknown };
  return Array.isArray(v.nodes) && typeof v.startTime === "number" && typeof v.endTime === "number";
}

/**
 * `windows`: only samples taken inside one of these [start, end] intervals count (µs of the
 * monotonic clock: the same clock as `process.hrtime.bigint() / 1000n` in any process of this
 * machine), e.g. the measurement windows of a benchmark, leaving out start-up and shutdown.
 */
export function summarizeProfile(file: string, top = 15, windows?: ReadonlyArray<readonly [number, number]>): ProfileSummary {
  const parsed: unknown = JSON.parse(fs.readFileSync(file, "utf8"));
  if (!isCpuProfile(parsed)) throw new Error(`${file}: not a .cpuprofile`);
  const byId = new Map<number, ProfileNode>();
  for (const n of parsed.nodes) byId.set(n.id, n);
  const samples = parsed.samples ?? [];
  const deltas = parsed.timeDeltas ?? [];
  // timeDeltas[i] is the time since the previous sample; the time until the next sample is the
  // time spent in sample i (the last sample gets the profile's end).
  const selfUs = new Map<string, { name: string; where: string; us: number }>();
  let totalUs = 0;
  let idleUs = 0;
  let gcUs = 0;
  let programUs = 0;
  let t = parsed.startTime;
  for (let i = 0; i < samples.length; i++) {
    t += deltas[i] ?? 0;
    const next = i + 1 < samples.length ? t + (deltas[i + 1] ?? 0) : parsed.endTime;
    const us = Math.max(0, next - t);
    if (windows !== undefined && !windows.some(([a, b]) => t >= a && t <= b)) continue;
    const node = byId.get(samples[i] as number);
    if (node === undefined) continue;
    const cf = node.callFrame;
    const name = cf.functionName === "" ? "(anonymous)" : cf.functionName;
    const where = cf.url === "" ? "" : `${shortUrl(cf.url)}:${cf.lineNumber + 1}`;
    totalUs += us;
    if (name === "(idle)") idleUs += us;
    else if (name === "(garbage collector)") gcUs += us;
    else if (name === "(program)") programUs += us;
    const key = `${name}\u0000${where}`;
    const entry = selfUs.get(key);
    if (entry === undefined) selfUs.set(key, { name, where, us });
    else entry.us += us;
  }
  const rows = [...selfUs.values()]
    .filter((e) => e.name !== "(idle)")
    .sort((a, b) => b.us - a.us)
    .slice(0, top)
    .map(
      (e): HotFunction => ({
        name: e.name,
        where: e.where,
        selfMs: Math.round(e.us / 100) / 10,
        share: totalUs > 0 ? e.us / totalUs : 0,
      }),
    );
  return {
    file,
    totalMs: Math.round(totalUs / 1000),
    busyMs: Math.round((totalUs - idleUs - gcUs - programUs) / 1000),
    idleMs: Math.round(idleUs / 1000),
    gcMs: Math.round(gcUs / 1000),
    top: rows,
  };
}

/** Markdown for one summary: a header line and a table of the hottest functions. */
export function formatSummary(s: ProfileSummary, title?: string): string {
  const lines: string[] = [];
  lines.push(`#### ${title ?? path.basename(s.file)}`);
  lines.push("");
  lines.push(`\`${path.basename(s.file)}\` — sampled ${s.totalMs} ms: idle ${s.idleMs} ms, GC ${s.gcMs} ms, JS/native ${s.busyMs} ms`);
  lines.push("");
  lines.push("| self ms | share | function | where |");
  lines.push("|---:|---:|---|---|");
  for (const r of s.top) lines.push(`| ${r.selfMs.toFixed(1)} | ${(r.share * 100).toFixed(1)}% | \`${r.name}\` | ${r.where === "" ? "" : `\`${r.where}\``} |`);
  return lines.join("\n");
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  let top = 20;
  const files: string[] = [];
  for (const arg of process.argv.slice(2)) {
    const m = /^--top=(\d+)$/.exec(arg);
    if (m !== null) top = Number(m[1]);
    else files.push(arg);
  }
  if (files.length === 0) {
    process.stderr.write("usage: profile-summary.ts [--top=N] file.cpuprofile...\n");
    process.exitCode = 2;
  }
  for (const f of files) process.stdout.write(`${formatSummary(summarizeProfile(f, top))}\n\n`);
}
