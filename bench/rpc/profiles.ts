// bench/run.ts --profile: this process's own CPU profile, and summaries of every profile the run
// wrote, restricted to the measurement windows of each scenario.
import * as fs from "node:fs";
import { Session } from "node:inspector/promises";
import * as path from "node:path";
import type { ProfileOwner } from "../http-load.ts";
import { formatSummary, summarizeProfile } from "../profile-summary.ts";
import { GATE_METHODS, clusters, gateKey, thrKey, type Cluster } from "./scenarios.ts";
import { profilesDir } from "./settings.ts";


export async function startSelfProfile(): Promise<Session> {
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.start");
  return session;
}

export async function stopSelfProfile(session: Session): Promise<string> {
  const { profile } = await session.post("Profiler.stop");
  session.disconnect();
  const file = path.join(profilesDir, `bench-main.${new Date().toISOString().replace(/[:.]/g, "-")}.${process.pid}.cpuprofile`);
  fs.writeFileSync(file, JSON.stringify(profile));
  return file;
}

export const PROFILE_TOP = 12;
/** A thread whose busy time is below this share of the windows gets a one-line note, not a table. */
export const PROFILE_IDLE_SHARE = 0.03;

export interface Section {
  title: string;
  windows: Array<[number, number]>;
}

/**
 * Summaries of the profiles written during this run, restricted to measurement windows (start-up,
 * object activation and shutdown left out): per isolate thread, one table per throughput scenario
 * of its topology; for the bench process, one table per throughput scenario of the first topology.
 */
export function summarizeProfiles(before: Set<string>, selfFile: string | undefined, httpOwner: ProfileOwner | undefined): string {
  const out: string[] = [];
  const files = fs
    .readdirSync(profilesDir)
    .filter((f) => f.endsWith(".cpuprofile") && !before.has(f))
    .map((f) => path.join(profilesDir, f))
    .sort();
  if (files.length === 0) return "No profiles were written.";
  const scenarioWindows = (c: Cluster, kind: "thr" | "all"): Section[] => {
    const sections: Section[] = [];
    if (kind === "thr") {
      for (const m of c.topo.throughput) sections.push({ title: `throughput ${m}()`, windows: c.windows.get(thrKey(c.topo, m)) ?? [] });
      if (c.topo.gate) for (const m of GATE_METHODS) sections.push({ title: `input gate ${m}()`, windows: c.windows.get(gateKey(c.topo, m)) ?? [] });
    } else {
      sections.push({ title: "all measurement windows of this topology", windows: [...c.windows.values()].flat() });
    }
    return sections;
  };
  const emit = (file: string, title: string, sections: Section[]): void => {
    for (const sec of sections) {
      if (sec.windows.length === 0) continue;
      const heading = `${title} — ${sec.title}`;
      try {
        const summary = summarizeProfile(file, PROFILE_TOP, sec.windows);
        if (summary.totalMs > 0 && (summary.busyMs + summary.gcMs) / summary.totalMs < PROFILE_IDLE_SHARE) {
          out.push(`#### ${heading}\n\n\`${path.basename(file)}\`: idle (${summary.busyMs + summary.gcMs} ms busy of ${summary.totalMs} ms sampled).`);
        } else {
          out.push(formatSummary(summary, heading));
        }
      } catch (error) {
        out.push(`#### ${heading}\n\n${error instanceof Error ? error.message : String(error)}`);
      }
    }
  };
  for (const file of files) {
    const base = path.basename(file);
    if (file === selfFile) {
      const first = clusters[0];
      if (first !== undefined) emit(file, `bench process (caller) while ${first.topo.label} ran`, scenarioWindows(first, "thr"));
      if (httpOwner !== undefined) emit(file, "bench process (the serve() front: node:http, fetch adapter, worker, RPC caller)", httpOwner.sections);
      continue;
    }
    // --cpu-prof names files CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile
    const m = /^CPU\.\d+\.\d+\.(\d+)\.(\d+)\.\d+\.cpuprofile$/.exec(base);
    const pid = Number(m?.[1] ?? -1);
    const tid = Number(m?.[2] ?? -1);
    const owner = clusters.find((c) => c.pids.includes(pid));
    if (owner === undefined && httpOwner?.pids.includes(pid) === true) {
      const host = httpOwner.pids.indexOf(pid);
      const isolate = httpOwner.threadIds[host]?.indexOf(tid) ?? -1;
      const who = tid === 0 ? "main thread (supervisor)" : isolate >= 0 ? `isolate ${isolate} (thread ${tid})` : `thread ${tid} (not an isolate)`;
      const sections = isolate >= 0 ? httpOwner.sections : [{ title: "all HTTP windows", windows: httpOwner.sections.flatMap((x) => x.windows) }];
      emit(file, `${httpOwner.label}, host ${host} (pid ${pid}), ${who}`, sections);
      continue;
    }
    if (owner === undefined) {
      out.push(`#### ${base}\n\nnot attributed to a host of this run.`);
      continue;
    }
    const host = owner.pids.indexOf(pid);
    const isolate = owner.threadIds[host]?.indexOf(tid) ?? -1;
    const who =
      tid === 0 ? "main thread (supervisor)" : isolate >= 0 ? `isolate ${isolate} (thread ${tid})` : `thread ${tid} (not an isolate: the module-hooks thread tsx registers)`;
    const title = `${owner.topo.label}, host ${host} (pid ${pid}), ${who}`;
    emit(file, title, isolate >= 0 ? scenarioWindows(owner, "thr") : scenarioWindows(owner, "all"));
  }
  return out.join("\n\n");
}

