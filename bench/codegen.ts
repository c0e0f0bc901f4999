/**
 * Codegen speed (issue 3 and issue 5 scenario 7): `sourdough-gen` beside `tsc --noEmit` of the same
 * project, each as a fresh process, alternating A B A B, on the example and on a synthetic project of
 * 50 classes × 10 methods. Target: sourdough-gen within 2× of tsc --noEmit.
 *
 *   node --import tsx bench/codegen.ts [--quick]      (run `npm run build` first: it times dist/)
 *
 * Writes bench/results/codegen-latest.{json,md}.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { writeSyntheticProject } from "../test/codegen/support/synthetic.ts";

const quick = process.argv.includes("--quick");
const RUNS = quick ? 3 : 5;
const root = fileURLToPath(new URL("..", import.meta.url));
const CLI = path.join(root, "dist/codegen/cli.js");
const TSC = path.join(root, "node_modules/typescript/bin/tsc");

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function timed(args: string[], cwd: string): number {
  const t = performance.now();
  execFileSync(process.execPath, args, { cwd, stdio: "pipe" });
  return performance.now() - t;
}

function measure(name: string, tsconfig: string, out: string, cwd: string) {
  const gen: number[] = [];
  const tsc: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    tsc.push(timed([TSC, "--noEmit", "-p", tsconfig], cwd));
    gen.push(timed([CLI, "--project", tsconfig, "--out", out], cwd));
  }
  const ratios = gen.map((g, i) => g / tsc[i]!);
  return { name, gen, tsc, ratios };
}

if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sourdough-bench-codegen-"));
try {
  const synthetic = writeSyntheticProject(dir, 50);
  const results = [
    measure("examples/counter (repo tsconfig, sourdough field in package.json)", path.join(root, "tsconfig.json"), path.join(dir, "example.gen"), root),
    measure("synthetic: 50 classes × 10 methods", synthetic, path.join(dir, "synthetic.gen"), dir),
  ];
  const fmt = (ms: number) => `${ms.toFixed(0)} ms`;
  const lines = [
    `sourdough codegen bench — ${os.cpus()[0]?.model ?? "cpu"} (${os.cpus().length} cores), Node ${process.version}, ${new Date().toISOString()}, \`node --import tsx bench/codegen.ts${quick ? " --quick" : ""}\`, ${RUNS} alternating runs`,
    "",
    "| Project | sourdough-gen median (min–max) | tsc --noEmit median (min–max) | ratio, same run (target ≤ 2×) |",
    "|---|---:|---:|---:|",
    ...results.map(
      (r) =>
        `| ${r.name} | ${fmt(median(r.gen))} (${fmt(Math.min(...r.gen))}–${fmt(Math.max(...r.gen))}) | ${fmt(median(r.tsc))} (${fmt(Math.min(...r.tsc))}–${fmt(Math.max(...r.tsc))}) | ${median(r.ratios).toFixed(2)}× ${median(r.ratios) <= 2 ? "✓" : "✗"} |`,
    ),
    "",
    "Both as fresh processes (node startup included). The example row type-checks the whole repository with tsc while sourdough-gen scans only the configured classes.",
  ];
  const md = `${lines.join("\n")}\n`;
  process.stdout.write(md);
  fs.mkdirSync(path.join(root, "bench/results"), { recursive: true });
  fs.writeFileSync(path.join(root, "bench/results/codegen-latest.md"), md);
  fs.writeFileSync(path.join(root, "bench/results/codegen-latest.json"), `${JSON.stringify({ quick, runs: RUNS, results }, null, 2)}\n`);
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
