/**
 * `npm run bench`: every benchmark in one sitting, each as a child of this process, then (for a full,
 * unprofiled run) the README's performance section rewritten from their results.
 *
 *   npm run bench                  full (~15 minutes)
 *   npm run bench -- --quick       smoke run (~4 minutes): shorter windows, README untouched
 *   npm run bench -- --only=rpc,codecs   a subset; other flags (--profile, --runs=N,
 *                                  --topologies=…, --scenarios=…) go to bench/run.ts
 *   npm run bench -- --only=containment --readme
 *                                  a subset that rewrites its own sections of the README (the
 *                                  others stay as the last run left them)
 *
 * Results: bench/results/{latest,codecs-latest,storage-latest,scale-latest,codegen-latest,chaos-latest,containment-latest,metrics-latest,websocket-latest}.{md,json}.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { fileURLToPath } from "node:url";

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const profile = args.includes("--profile");
const only = args.find((a) => a.startsWith("--only="))?.slice("--only=".length).split(",");
const readme = args.includes("--readme");
const runArgs = args.filter((a) => !a.startsWith("--only=") && a !== "--readme");
const own = quick ? ["--quick"] : [];

const BENCHES = [
  { id: "rpc", script: "run.ts", args: runArgs, result: "latest.md", title: "RPC, raw echo and HTTP (`bench/run.ts`)" },
  { id: "codecs", script: "codecs.ts", args: own, result: "codecs-latest.md", title: "Codecs (`bench/codecs.ts`)" },
  { id: "storage", script: "storage.ts", args: own, result: "storage-latest.md", title: "Storage (`bench/storage.ts`)" },
  { id: "scale", script: "scale.ts", args: own, result: "scale-latest.md", title: "Activation and scale (`bench/scale.ts`)" },
  { id: "codegen", script: "codegen.ts", args: own, result: "codegen-latest.md", title: "Codegen (`bench/codegen.ts`)" },
  { id: "chaos", script: "chaos.ts", args: own, result: "chaos-latest.md", title: "Availability under `kill -9` every second (`bench/chaos.ts`)" },
  { id: "fetch", script: "fetch-bodies.ts", args: own, result: "fetch-latest.md", title: "stub.fetch() and serve() bodies beside an RPC call (`bench/fetch-bodies.ts`)" },
  { id: "pipelining", script: "pipelining.ts", args: own, result: "pipelining-latest.md", title: "Promise pipelining (`bench/pipelining.ts`)" },
  { id: "containment", script: "containment.ts", args: own, result: "containment-latest.md", title: "Containment: watchdog overhead and CPU limit (`bench/containment.ts`)" },
  { id: "metrics", script: "metrics.ts", args: own, result: "metrics-latest.md", title: "Metrics overhead (`bench/metrics.ts`)" },
  { id: "websocket", script: "websocket.ts", args: own, result: "websocket-latest.md", title: "WebSockets vs workerd: fan-out, many rooms, idle hibernated sockets (`bench/websocket.ts`)" },
];

const here = fileURLToPath(new URL(".", import.meta.url));
const failed: string[] = [];
const ran: typeof BENCHES = [];
for (const bench of BENCHES) {
  if (only !== undefined && !only.includes(bench.id)) continue;
  process.stderr.write(`\n[bench] ${bench.script} ${bench.args.join(" ")}\n`);
  const r = spawnSync(process.execPath, ["--import", "tsx", `${here}${bench.script}`, ...bench.args], { stdio: "inherit" });
  if (r.status !== 0) failed.push(`${bench.script} (exit ${r.status ?? r.signal})`);
  else ran.push(bench);
}

if (failed.length > 0) {
  process.stderr.write(`[bench] failed: ${failed.join(", ")}\n`);
  process.exitCode = 1;
} else if (!quick && !profile && (only === undefined || readme)) {
  const fresh = new Map(ran.map((b) => [b.title, fs.readFileSync(`${here}results/${b.result}`, "utf8").trim()]));
  embedInReadme(fresh);
  process.stderr.write(`[bench] updated the performance section of README.md (${ran.map((b) => b.id).join(", ")})\n`);
}

/**
 * Rewrites the README's bench section: one `### <title>` subsection per bench, in BENCHES order, the
 * fresh results where a bench ran, the README's previous text where it did not.
 */
function embedInReadme(fresh: Map<string, string>): void {
  const README = new URL("../README.md", import.meta.url);
  const BEGIN = "<!-- bench:begin (written by npm run bench) -->";
  const END = "<!-- bench:end -->";
  const text = fs.readFileSync(README, "utf8");
  const start = text.indexOf(BEGIN);
  const end = text.indexOf(END);
  if (start < 0 || end < start) throw new Error(`README.md has no ${BEGIN} ... ${END} section to update`);
  const previous = new Map<string, string>();
  for (const part of text.slice(start + BEGIN.length, end).split(/^### /m).slice(1)) {
    const newline = part.indexOf("\n");
    previous.set(part.slice(0, newline).trim(), part.slice(newline + 1).trim());
  }
  const sections = BENCHES.flatMap((b) => {
    const body = fresh.get(b.title) ?? previous.get(b.title);
    return body === undefined ? [] : [`### ${b.title}\n\n${body}`];
  });
  fs.writeFileSync(README, `${text.slice(0, start + BEGIN.length)}\n${sections.join("\n\n")}\n${text.slice(end)}`);
}
