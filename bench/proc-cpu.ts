// CPU accounting for the HTTP scenarios (Linux /proc): CPU time of one process, of this process,
// and of the whole machine, to see where each request's cost sits and how busy the rest was.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";

const CLK_TCK = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** user + system CPU of a process (all threads), µs; NaN when unreadable. */
export function procCpuUs(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // fields[0] is the state (field 3); utime and stime are fields 14 and 15.
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLK_TCK;
  } catch {
    return Number.NaN;
  }
}

/** Busy CPU time of the whole machine (all cores, /proc/stat), µs; NaN when unreadable. */
export function machineBusyUs(): number {
  try {
    const line = fs.readFileSync("/proc/stat", "utf8").split("\n", 1)[0] ?? "";
    const [user, nice, system, , , irq, softirq] = line.trim().split(/\s+/).slice(1).map(Number);
    return (((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0)) * 1e6) / CLK_TCK;
  } catch {
    return Number.NaN;
  }
}

export function selfCpuUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}
