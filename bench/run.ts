/**
 * sourdough benchmark: typed RPC beside the raw Unix-socket echo baseline, in one process tree and
 * one sitting.
 *
 *   node --import tsx bench/run.ts      full: 5 rounds, ~8 minutes (npm run bench runs this and more: bench/all.ts)
 *   ... --quick                         3 rounds, shorter windows, ~2 minutes
 *   npm run bench -- --profile          also write .cpuprofile files (hosts, isolates and this
 *                                       process) to bench/results/profiles and summarize them
 *   npm run bench -- --runs=7           override the number of rounds
 *   npm run bench -- --topologies=h2i1,h1i2
 *                                       only these topologies (h2i1, h2i2, h1i2, h1i1 =
 *                                       hosts × isolates per host; default: quick h2i1,h2i2,h1i2,
 *                                       full all four)
 *   npm run bench -- --scenarios=http   only these scenario groups: rpc (raw echo + typed RPC),
 *                                       http (HTTP end to end vs workerd), gate (the input gate's
 *                                       cost, with the pipelined echo beside it); default all three
 *
 * What runs, per round (A = baseline, B = scenarios; rounds repeat A B A B ...):
 *   A  raw echo, sequential round trips (bench/raw-echo.ts, fresh echo server process)
 *   B  typed RPC, sequential `await stub.increment()` on one object, per topology
 *   A  raw echo, pipelined frames/s at 1, 16 and 256 in flight (fresh echo server process)
 *   B  typed RPC throughput: exactly 256 calls in flight over 1000 objects for a fixed window,
 *      without storage (`increment`) and with one committed SQLite KV write per call
 *      (`incrementStored`), per topology (hosts × isolates per host)
 *   A  RPC read-modify-write with the sync KV API (`kv.get` + `kv.put`), then B  the same with the
 *      promise API (`await storage.get` + `await storage.put`, which only the input gate keeps
 *      correct): 256 in flight on one object, 2 hosts × 1 isolate; after every run the stored
 *      counter must equal the calls made, or the run fails (a lost update)
 *   A  HTTP on workerd via miniflare, then B  HTTP on `serve()`, per case: 1 and 64 connections
 *      over 1 and 1000 objects, one KV write per request (bench/http-load.ts; autocannon in a
 *      child process, installed on demand in bench/peers/)
 * Every RPC figure is also reported as a ratio to the echo figure measured in the same round
 * (median, min and max over rounds), so both sides of a ratio saw the same machine conditions;
 * every HTTP figure of sourdough as a ratio to workerd's in the same round.
 *
 * Coordinators (one per topology) start once, before round 1, and stay up for the whole run: each
 * round measures the steady state of the same processes. All 1000 objects are activated, and their
 * SQLite files created, before round 1. Every phase is bounded in time; coordinators are closed and
 * temporary directories removed in `finally`, and the process exits by itself.
 *
 * Output: a Markdown table on stdout (progress goes to stderr), bench/results/latest.json and
 * bench/results/latest.md. With --profile the numbers are distorted by the profiler, so they go
 * to bench/results/profile-latest.{json,md} instead, with the profile summaries.
 * To profile only this (caller) process, not the hosts:
 *   node --cpu-prof --cpu-prof-dir=bench/results/profiles --import tsx bench/run.ts --quick
 * then `node --import tsx bench/profile-summary.ts bench/results/profiles/CPU.*.cpuprofile`.
 *
 * Code: this file is the entry (arguments → settings → start → rounds → report). By concern:
 * bench/rpc/settings.ts (topologies, quick/full settings, budgets, arguments), bench/rpc/scenarios.ts
 * (coordinators, figure definitions, the rounds), bench/rpc/measure.ts (the figure registry, what is
 * read off the machine), bench/rpc/report.ts (Markdown table, JSON), bench/rpc/profiles.ts
 * (--profile summaries). The raw echo's framing lives in bench/echo-frames.ts.
 */
import * as fs from "node:fs";
import type { Session } from "node:inspector/promises";
import * as os from "node:os";
import * as path from "node:path";
import { codeVersion, distIsStale } from "./code-version.ts";
import { HTTP_FULL, HTTP_QUICK, HttpScenarios } from "./http-load.ts";
import { bounded, machineBusy, round } from "./rpc-drivers.ts";
import { Registry, alive, log, openFds, storageBytes } from "./rpc/measure.ts";
import { startSelfProfile, stopSelfProfile, summarizeProfiles } from "./rpc/profiles.ts";
import { jsonResults, markdownTable } from "./rpc/report.ts";
import { cleanup, closeMs, clusters, databaseCount, defineFigures, runRounds, startCluster, tempDirs } from "./rpc/scenarios.ts";
import { CLOSE_BUDGET_MS, FULL, QUICK, TOPO_1x1, TOPO_1x2, TOPO_2x1, TOPO_2x2, commandLine, parseArgs, profilesDir, resultsDir, type Settings } from "./rpc/settings.ts";

// ---------------------------------------------------------------------------------------------------
// Main

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const args = parseArgs(argv);
  const base = args.quick ? QUICK : FULL;
  const known = [TOPO_2x1, TOPO_2x2, TOPO_1x2, TOPO_1x1];
  for (const id of args.topologies ?? []) {
    if (!known.some((t) => t.id === id)) throw new Error(`unknown topology ${id} (known: ${known.map((t) => t.id).join(", ")})`);
  }
  for (const id of args.scenarios ?? []) {
    if (id !== "rpc" && id !== "http" && id !== "gate") throw new Error(`unknown scenario group ${id} (known: rpc, http, gate)`);
  }
  const rpc = args.scenarios?.includes("rpc") ?? base.rpc;
  const withHttp = args.scenarios?.includes("http") ?? base.http;
  const gate = args.scenarios?.includes("gate") ?? base.gate;
  const chosen = args.topologies === undefined ? base.topologies : known.filter((t) => args.topologies?.includes(t.id));
  // Without the rpc group, only the topologies the gate scenario runs on are started.
  const topologies = rpc ? chosen : gate ? chosen.filter((t) => t.gate) : [];
  if (gate && !topologies.some((t) => t.gate)) log("note: the input-gate scenario runs on h2i1 only, which is not among the topologies; it is skipped");
  const settings: Settings = { ...base, rounds: args.rounds ?? base.rounds, topologies, rpc, http: withHttp, gate };
  const command = commandLine(argv);
  const version = codeVersion();
  if (distIsStale()) log("warning: runtime/ has sources newer than dist/; run `npm run build` first, or the bench measures old code");
  const date = new Date().toISOString();
  const reg = new Registry();
  let http: HttpScenarios | undefined;
  defineFigures(reg, settings);
  if (settings.http) {
    http = new HttpScenarios(args.quick ? HTTP_QUICK : HTTP_FULL, { log, profile: args.profile, profilesDir });
    http.define(reg);
  }

  fs.mkdirSync(resultsDir, { recursive: true });
  let profileSession: Session | undefined;
  let profilesBefore = new Set<string>();
  if (args.profile) {
    fs.mkdirSync(profilesDir, { recursive: true });
    profilesBefore = new Set(fs.readdirSync(profilesDir));
    profileSession = await startSelfProfile();
  }

  // Whole-run watchdog: a wedged phase must not keep the machine busy forever.
  const watchdog = setTimeout(() => {
    log(`aborting: the run exceeded its budget of ${settings.totalBudgetMs / 1000} s`);
    process.exitCode = 1;
    void bounded("cleanup", CLOSE_BUDGET_MS, cleanup(http)).finally(() => process.exit(1));
  }, settings.totalBudgetMs);
  watchdog.unref();
  process.once("SIGINT", () => {
    log("interrupted; closing coordinators");
    void bounded("cleanup", CLOSE_BUDGET_MS, cleanup(http)).finally(() => process.exit(130));
  });

  const loadStart = os.loadavg();
  const busyBefore = await machineBusy(1000);
  if (busyBefore > 0.1) log(`warning: the machine is ${(busyBefore * 100).toFixed(0)}% busy before the run starts; figures will be distorted`);
  const t0 = performance.now();
  log(`${args.quick ? "quick" : "full"} run: ${settings.rounds} rounds; ${os.cpus()[0]?.model ?? "?"} × ${os.availableParallelism()}, Node ${process.version}`);
  const echoDir = fs.mkdtempSync(path.join(os.tmpdir(), "sourdough-bench-echo-"));
  tempDirs.push(echoDir);
  let failed: unknown;
  let leftover: number[] = [];
  try {
    for (const topo of settings.topologies) await startCluster(topo, settings, args.profile, reg);
    await http?.start(reg);
    await runRounds(settings, reg, echoDir, http);
    await http?.verify();
    for (const c of clusters) {
      const fds = c.pids.map(openFds);
      if (fds.some((n) => n === undefined)) continue;
      reg.define(`fds.${c.topo.id}`, `Open file descriptors per host process after the rounds (objects stay active), ${c.topo.label}`, "count", true);
      reg.record(`fds.${c.topo.id}`, Math.max(...fds.map((n) => n ?? 0)));
    }
    for (const c of clusters) {
      if (!c.topo.throughput.includes("incrementStored")) continue;
      const bytes = storageBytes(c.storageDir);
      reg.define(`disk.${c.topo.id}`, `Storage on disk after the rounds (of which WAL: ${(bytes.wal / 2 ** 20).toFixed(0)} MiB), ${c.topo.label}`, "MiB", true);
      reg.record(`disk.${c.topo.id}`, round(bytes.total / 2 ** 20, 1));
    }
  } catch (error) {
    failed = error;
  } finally {
    await cleanup(http);
    leftover = [...clusters.flatMap((c) => c.pids).filter((pid) => pid > 0 && alive(pid)), ...(http?.leftoverPids() ?? [])];
    clearTimeout(watchdog);
  }
  for (const c of clusters) {
    const ms = closeMs.get(c.topo.id);
    if (ms === undefined) continue;
    const dbs = c.topo.throughput.includes("incrementStored") ? ` (commits and closes ${databaseCount(c, settings)} SQLite databases)` : "";
    reg.define(`close.${c.topo.id}`, `Coordinator close, ${c.topo.label}${dbs}`, "ms", true);
    reg.record(`close.${c.topo.id}`, round(ms, 1));
  }
  http?.recordOnce(reg);
  const loadEnd = os.loadavg();
  const elapsedS = (performance.now() - t0) / 1000;
  if (failed !== undefined) {
    log(`FAILED: ${failed instanceof Error ? (failed.stack ?? failed.message) : String(failed)}`);
    process.exitCode = 1;
  }
  if (leftover.length > 0) {
    log(`processes still alive after close (hosts, workerd, load driver): ${leftover.join(", ")}`);
    process.exitCode = 1;
  }

  let selfProfile: string | undefined;
  if (profileSession !== undefined) selfProfile = await stopSelfProfile(profileSession);

  const load =
    `- Other load: the machine was ${(busyBefore * 100).toFixed(0)}% busy in the second before the run (all cores); ` +
    `load average (1 min) ${loadStart[0]?.toFixed(2)} at start, ${loadEnd[0]?.toFixed(2)} at end (includes this run).`;
  const table = `${markdownTable(reg, settings, http?.notes() ?? [])}\n${load}`;
  const header =
    `sourdough bench — ${os.cpus()[0]?.model ?? "unknown CPU"} (${os.availableParallelism()} cores), Node ${process.version}, ${date}, ` +
    `\`${command}\`${args.quick ? " (quick)" : ""}, commit ${version.commit} (dist built ${version.distBuilt})${args.profile ? " — PROFILER ON: figures are distorted" : ""}; ${elapsedS.toFixed(0)} s` +
    `${failed !== undefined ? " — RUN FAILED, partial results" : ""}`;
  process.stdout.write(`${header}\n\n${table}\n`);

  let profileText = "";
  if (args.profile) {
    profileText = summarizeProfiles(profilesBefore, selfProfile, http?.profileOwner());
    process.stdout.write(`\n### CPU profiles (self time, top functions)\n\n${profileText}\n`);
  }

  const stem = args.profile ? "profile-latest" : "latest";
  const json = jsonResults(reg, settings, args, command, date, {
    elapsedSeconds: round(elapsedS, 1),
    code: version,
    failed: failed === undefined ? null : failed instanceof Error ? failed.message : String(failed),
    leftoverHostPids: leftover,
    loadAverage: { start: loadStart, end: loadEnd },
    machineBusyBeforeStart: round(busyBefore, 3),
    http: http?.json() ?? null,
    inputGate: settings.gate ? Object.fromEntries(clusters.filter((c) => c.topo.gate).map((c) => [c.topo.id, { object: "gate", calls: c.gate.calls, counter: c.gate.stored, lostUpdates: c.gate.calls - c.gate.stored }])) : null,
  });
  fs.writeFileSync(path.join(resultsDir, `${stem}.json`), `${JSON.stringify(json, null, 2)}\n`);
  fs.writeFileSync(path.join(resultsDir, `${stem}.md`), `${header}\n\n${table}\n${profileText === "" ? "" : `\n### CPU profiles (self time, top functions)\n\n${profileText}\n`}`);
  log(`wrote ${path.relative(process.cwd(), path.join(resultsDir, `${stem}.json`))} and ${stem}.md`);
}

try {
  await main();
} catch (error) {
  // Bad arguments and other failures before any process was started.
  log(error instanceof Error ? error.message : String(error));
  process.exitCode = 2;
}
