// Peak resident memory of this process and of a host process while something runs: the 1 GiB
// stream tests assert that it grows by a fraction of what went through, not by the data.
import { readFileSync } from "node:fs";
import { expect } from "vitest";

const MiB = 1024 * 1024;

export function rssOf(pid: number): number {
  if (pid === process.pid) return process.memoryUsage().rss;
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m === null ? 0 : Number(m[1]) * 1024;
}

export interface RssPeaks {
  /** RSS before `run`, bytes. */
  base: { self: number; host: number };
  /** Highest RSS seen while `run` ran (sampled every 50 ms), bytes. */
  peak: { self: number; host: number };
}

export async function peakRss(hostPid: number, run: () => Promise<void>): Promise<RssPeaks> {
  const base = { self: rssOf(process.pid), host: rssOf(hostPid) };
  const peak = { ...base };
  const sample = setInterval(() => {
    peak.self = Math.max(peak.self, rssOf(process.pid));
    peak.host = Math.max(peak.host, rssOf(hostPid));
  }, 50);
  try {
    await run();
  } finally {
    clearInterval(sample);
  }
  return { base, peak };
}

/** "peak RSS <self> 40 MiB (was 30), host 50 MiB (was 45)", for a test's log line. */
export function describeRss({ base, peak }: RssPeaks, self: string): string {
  const mib = (n: number) => (n / MiB).toFixed(0);
  return `peak RSS ${self} ${mib(peak.self)} MiB (was ${mib(base.self)}), host ${mib(peak.host)} MiB (was ${mib(base.host)})`;
}

/**
 * Neither this process nor the host (when it is another process) grew by `bound`: a fraction of what
 * went through, so a buffer of the whole stream anywhere would cross it.
 */
export function expectRssBounded({ base, peak }: RssPeaks, hostPid: number, bound = 256 * MiB): void {
  expect(peak.self - base.self).toBeLessThan(bound);
  if (hostPid !== process.pid) expect(peak.host - base.host).toBeLessThan(bound);
}
