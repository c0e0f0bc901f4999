// Prints, for every case, the ops where sourdough (in-process) differs from workerd, next to what
// known.ts expects: the tool for keeping known.ts exact after a runtime change.
// Run: node --import tsx test/oracle/diff-report.ts
import { CASES } from "./cases.ts";
import { compareResults, differingOps, formatDifferences } from "./compare.ts";
import { startSourdough } from "./sourdough-runner.ts";
import { loadMiniflare, startWorkerd } from "./workerd-runner.ts";

const miniflare = await loadMiniflare();
if (miniflare === undefined) throw new Error("run npm install --prefix test/oracle first");
const workerd = await startWorkerd(miniflare);
const sourdough = await startSourdough({ hostCount: 0 });
try {
  for (const c of CASES) {
    const differences = compareResults(c.ops, await workerd.run(c), await sourdough.run(c));
    const found = differingOps(differences);
    const expected = c.known?.ops ?? [];
    if (JSON.stringify(found) === JSON.stringify(expected)) continue;
    process.stdout.write(`\n### ${c.name}\nknown: ${JSON.stringify(expected)}  found: ${JSON.stringify(found)}\n${formatDifferences(differences)}\n`);
  }
} finally {
  await sourdough.close();
  await workerd.close();
}
