// Developer CLI: runs oracle cases in workerd and sourdough and prints every difference (or, with
// --results, both sides' result for every op), e.g. while fixing a difference:
//   node --import tsx test/oracle/show.ts [--host] [--results] [--known] [name filter]
// --host runs sourdough in a host process (default: in-process); --known includes known differences;
// --skeleton prints known.ts entries ({ why, ops }) for the cases that differ.
import { CASES } from "./cases.ts";
import { compareResults, differingOps, formatDifferences, render } from "./compare.ts";
import type { Op, OpResult } from "./ops.ts";
import { startSourdough } from "./sourdough-runner.ts";
import { installedVersions, loadMiniflare, startWorkerd } from "./workerd-runner.ts";

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const filter = args.find((a) => !a.startsWith("--")) ?? "";

const miniflare = await loadMiniflare();
if (miniflare === undefined) {
  process.stderr.write("oracle: miniflare is not installed. Run: npm install --prefix test/oracle\n");
  process.exit(2);
}
const started = Date.now();
const workerd = await startWorkerd(miniflare);
const sourdough = await startSourdough({ hostCount: flag("--host") ? 1 : 0 });
const versions = installedVersions();
let same = 0;
let differing = 0;
try {
  process.stdout.write(`${workerd.label}, miniflare ${versions.miniflare}, workerd ${versions.workerd} vs ${sourdough.label}\n\n`);
  for (const c of CASES.filter((c) => c.name.includes(filter) && (flag("--known") || c.known === undefined))) {
    let w: OpResult[];
    let s: OpResult[];
    try {
      [w, s] = await Promise.all([workerd.run(c), sourdough.run(c)]);
    } catch (error) {
      differing++;
      if (flag("--skeleton")) process.stdout.write(`  ${JSON.stringify(c.name)}: { why: "", ops: "run" },\n`);
      else process.stdout.write(`## ${c.name}: the run failed: ${String(error)}\n\n`);
      continue;
    }
    const differences = compareResults(c.ops, w, s);
    if (differences.length === 0) same++;
    else differing++;
    if (differences.length === 0 && !flag("--results")) continue;
    if (flag("--skeleton")) {
      process.stdout.write(`  ${JSON.stringify(c.name)}: { why: ${JSON.stringify(c.known?.why ?? "")}, ops: ${JSON.stringify(differingOps(differences))} },\n`);
      continue;
    }
    process.stdout.write(`## ${c.name} [${c.doc}]${c.known === undefined ? "" : ` (known: ${c.known.why})`}\n`);
    if (flag("--results")) printResults(c.ops, w, s, "");
    else process.stdout.write(`${formatDifferences(differences)}\n\n`);
  }
  process.stdout.write(`${same} same, ${differing} different, ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
} finally {
  await Promise.all([workerd.close(), sourdough.close()]);
}

function printResults(ops: readonly Op[], w: readonly OpResult[], s: readonly OpResult[], indent: string): void {
  for (let i = 0; i < Math.max(w.length, s.length); i++) {
    const op = ops[i];
    process.stdout.write(`${indent}#${i} ${op?.op ?? "(run)"}\n${indent}  workerd:   ${render(w[i], 2000)}\n${indent}  sourdough: ${render(s[i], 2000)}\n`);
    const inner = op !== undefined && "ops" in op ? op.ops : undefined;
    if (inner !== undefined) printResults(inner, w[i]?.inner ?? [], s[i]?.inner ?? [], `${indent}    `);
  }
  if (indent === "") process.stdout.write("\n");
}
