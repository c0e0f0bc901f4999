/**
 * Availability under repeated `kill -9` (issue 8): 2 hosts, callers depositing without pause into
 * objects on every slot, a random host killed every second. Reports per slot the share of time it
 * was serving, failed calls by code and the longest outage; fails if an acknowledged deposit is lost.
 * Runs twice: classes in TypeScript (every restarted isolate registers tsx) and in compiled JavaScript.
 *
 *   node --import tsx bench/chaos.ts                 25 s per variant, kill every 1000 ms, 2 hosts × 1 isolate
 *   npm run bench -- --only=chaos                    the same, through bench/all.ts
 *   ... --quick (10 s) | --seconds=N | --kill-every=MS | --isolates=N | --seed=N | --per-slot=N
 *       | --pause=MS (each caller pauses between calls; default 0: back to back, every core busy)
 *
 * Writes bench/results/chaos-latest.{json,md}.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ClusterCoordinator } from "sourdough";
import { runChaos, targetsOnEverySlot, type ChaosReport } from "./chaos-driver.ts";
import { BenchCounter } from "./objects.ts";

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const flag = (name: string, fallback: number) => Number(args.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? fallback);
const SECONDS = flag("seconds", quick ? 10 : 25);
const KILL_EVERY_MS = flag("kill-every", 1000);
const ISOLATES = flag("isolates", 1);
const SEED = flag("seed", 8);
const PER_SLOT = flag("per-slot", 4);
const PAUSE_MS = flag("pause", 0);
const HOSTS = 2;

interface Variant {
  id: string;
  label: string;
  module: URL;
  Class: typeof BenchCounter;
}

const fmt = (n: number, digits = 0) => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });

async function variants(): Promise<Variant[]> {
  const js = new URL("./js-counter.mjs", import.meta.url);
  const { JsBenchCounter } = (await import(js.href)) as { JsBenchCounter: typeof BenchCounter };
  return [
    { id: "ts", label: "TypeScript classes (tsx in every isolate)", module: new URL("./objects.ts", import.meta.url), Class: BenchCounter },
    { id: "js", label: "compiled JavaScript classes", module: js, Class: JsBenchCounter },
  ];
}

async function run(variant: Variant, log: string[]): Promise<ChaosReport> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sourdough-bench-chaos-"));
  const coordinator = new ClusterCoordinator({
    hostCount: HOSTS,
    isolatesPerHost: ISOLATES,
    storageDir: dir,
    modules: [variant.module],
    output: (host, stream, text) => {
      if (/restarting|replacing/.test(text)) log.push(`[${variant.id} host ${host}] ${text.trim()}`);
      else if (stream === "stderr" && !/failed to start: exited with SIGKILL/.test(text)) process.stderr.write(`[host ${host}] ${text}`);
    },
  });
  try {
    await coordinator.ready;
    const ns = coordinator.namespace(variant.Class);
    const targets = targetsOnEverySlot(HOSTS * ISOLATES, PER_SLOT, (name) => {
      const at = coordinator.locate(variant.Class, ns.idFromName(name))!;
      return at.host * ISOLATES + at.isolate;
    });
    process.stderr.write(`[chaos] ${variant.label}: ${SECONDS} s, kill -9 of a random host every ${KILL_EVERY_MS} ms, ${targets.length} callers\n`);
    return await runChaos({
      coordinator,
      targets,
      deposit: (name) => ns.getByName(name).incrementStored(),
      balance: (name) => ns.getByName(name).stored(),
      durationMs: SECONDS * 1000,
      killEveryMs: KILL_EVERY_MS,
      seed: SEED,
      pauseMs: PAUSE_MS,
    });
  } finally {
    await coordinator.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const LOAD_AT_START = os.loadavg()[0]!;

async function main(): Promise<void> {
  const log: string[] = [];
  const reports: Array<{ variant: Variant; report: ChaosReport }> = [];
  for (const variant of await variants()) reports.push({ variant, report: await run(variant, log) });
  const md = render(reports);
  process.stdout.write(md);
  const results = new URL("./results/", import.meta.url);
  fs.mkdirSync(results, { recursive: true });
  fs.writeFileSync(new URL("chaos-latest.md", results), md);
  const json = { quick, hosts: HOSTS, isolatesPerHost: ISOLATES, loadAverageAtStart: LOAD_AT_START, runs: reports.map(({ variant, report }) => ({ variant: variant.id, ...report })), log };
  fs.writeFileSync(new URL("chaos-latest.json", results), `${JSON.stringify(json, null, 2)}\n`);
  const wrong = reports.filter(({ report }) => report.lost.length > 0 || report.overcounted.length > 0);
  for (const { variant, report } of wrong) process.stderr.write(`[chaos] ${variant.id}: counters wrong: lost ${JSON.stringify(report.lost)}, overcounted ${JSON.stringify(report.overcounted)}\n`);
  if (wrong.length > 0) process.exitCode = 1;
}

function render(reports: Array<{ variant: Variant; report: ChaosReport }>): string {
  const lines = [
    `sourdough chaos bench — ${os.cpus()[0]?.model ?? "cpu"} (${os.cpus().length} cores), Node ${process.version}, ${new Date().toISOString()}, \`node --import tsx bench/chaos.ts${args.length ? ` ${args.join(" ")}` : ""}\`, ${HOSTS} hosts × ${ISOLATES} isolate${ISOLATES > 1 ? "s" : ""}, load average ${fmt(LOAD_AT_START, 1)} at start`,
    "",
    "| Classes | Slot | Serving | Longest outage | Outages | Calls ok | Failed calls by code |",
    "|---|---|---:|---:|---:|---:|---|",
    ...reports.flatMap(({ variant, report }) =>
      report.slots.map((s) => `| ${variant.label} | ${s.slot} | ${fmt(s.serving * 100, 1)} % | ${fmt(s.longestOutageMs)} ms | ${s.outages} | ${fmt(s.ok)} | ${Object.entries(s.failed).map(([code, n]) => `${code} ${fmt(n)}`).join(", ") || "none"} |`),
    ),
    "",
    ...reports.map(({ variant, report }) => {
      const kills = Object.entries(report.kills).map(([state, n]) => (state === "down" ? `${n} while it was down` : `${n} on a ${state} host`)).join(", ");
      return `${variant.label}: ${kills}; restarts per host ${report.restarts.join(", ")}; acknowledged deposits lost: ${report.lost.length === 0 ? "none" : report.lost.length}.`;
    }),
    "",
    `Each run: ${fmt(SECONDS)} s, \`kill -9\` of a random host every ${KILL_EVERY_MS} ms (seed ${SEED}), ${PER_SLOT} sequential callers per slot, each depositing (one committed KV write) ${PAUSE_MS > 0 ? `with a ${PAUSE_MS} ms pause between calls` : "back to back"} and retrying after 5 ms on failure; ` +
      `every counter is checked against the acknowledged deposits at the end. A slot counts as out of service for every gap longer than ${reports[0]?.report.outageGapMs ?? 100} ms between two successful calls on it.`,
  ];
  return `${lines.join("\n")}\n`;
}

await main();
