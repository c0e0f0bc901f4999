// What the side-by-side bench scripts (containment, metrics) share: the coordinators and temp dirs a
// run starts (closed and removed however it ends), the report's header and machine-load note, and
// the results files. Each script keeps its own scenarios, measurement and table.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { ClusterCoordinator, type ClusterCoordinatorOptions } from "sourdough";
import { codeVersion, distIsStale } from "./code-version.ts";
import { bounded, machineBusy, round } from "./rpc-drivers.ts";
import { generated } from "./sourdough.gen/index.ts";

const resultsDir = path.join(path.dirname(fileURLToPath(import.meta.url)), "results");

/** One run of bench/<name>.ts: `--only=<name>` in bench/all.ts. */
export class BenchRun {
  readonly quick = process.argv.includes("--quick");
  readonly tempDirs: string[] = [];
  readonly coordinators: ClusterCoordinator[] = [];
  readonly log: (text: string) => void;

  constructor(readonly name: string) {
    this.log = (text) => void process.stderr.write(`[${name}] ${text}\n`);
  }

  /** A temp dir removed when the run ends. */
  tempDir(prefix = `sourdough-bench-${this.name}-`): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    this.tempDirs.push(dir);
    return dir;
  }

  /** A coordinator on BenchCounter's generated codecs with its own storageDir, closed when the run ends; host output on stderr. */
  async start(label: string, modules: URL[], options: ClusterCoordinatorOptions): Promise<ClusterCoordinator> {
    const c = new ClusterCoordinator({
      generated,
      modules,
      storageDir: this.tempDir(),
      output: (host, stream, text) => {
        for (const line of text.replace(/\n$/, "").split("\n")) process.stderr.write(`[${label} host ${host} ${stream}] ${line}\n`);
      },
      ...options,
    });
    this.coordinators.push(c);
    await bounded(`starting ${label}`, 40_000, c.ready);
    return c;
  }

  /** Closes the coordinators started so far (e.g. between two phases). */
  async closeCoordinators(): Promise<void> {
    for (const c of this.coordinators.splice(0)) await bounded("closing", 15_000, c.close());
  }

  /**
   * Runs `measure` with the machine's load noted around it, then writes the report `render` makes
   * (header and load note given) to stdout and bench/results/<name>-latest.{md,json}. Sets a failing
   * exit code on error; always closes the coordinators and removes the temp dirs.
   */
  async run<T>(title: string, measure: () => Promise<T>, render: (result: T, header: string, loadNote: string) => { md: string; json: Record<string, unknown> }): Promise<void> {
    try {
      if (distIsStale()) this.log("warning: runtime/ has sources newer than dist/; run `npm run build` first, or the bench measures old code");
      const version = codeVersion();
      const date = new Date().toISOString();
      const loadStart = os.loadavg();
      const busyBefore = await machineBusy(1000);
      const t0 = performance.now();
      const result = await measure();
      const elapsed = (performance.now() - t0) / 1000;
      const loadEnd = os.loadavg();
      const command = process.env["npm_lifecycle_event"] === "bench" ? `npm run bench -- --only=${this.name}${this.quick ? " --quick" : ""}` : `node --import tsx bench/${this.name}.ts${this.quick ? " --quick" : ""}`;
      const header = `sourdough ${title} — ${os.cpus()[0]?.model ?? "unknown CPU"} (${os.availableParallelism()} cores), Node ${process.version}, ${date}, \`${command}\`${this.quick ? " (quick)" : ""}, commit ${version.commit} (dist built ${version.distBuilt}); ${elapsed.toFixed(0)} s`;
      const loadNote = `- Other load: the machine was ${(busyBefore * 100).toFixed(0)}% busy in the second before the run (all cores); load average (1 min) ${loadStart[0]?.toFixed(2)} at start, ${loadEnd[0]?.toFixed(2)} at end (includes this run).`;
      const { md, json } = render(result, header, loadNote);
      process.stdout.write(`${md}\n`);
      this.#write(md, { date, command, quick: this.quick, code: version, elapsedSeconds: round(elapsed, 1), loadAverage: { start: loadStart, end: loadEnd }, machineBusyBeforeStart: round(busyBefore, 3), ...json });
    } catch (error) {
      this.log(`FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      process.exitCode = 1;
    } finally {
      for (const c of this.coordinators) await bounded("closing", 15_000, c.close()).catch((e: unknown) => this.log(`close: ${String(e)}`));
      for (const dir of this.tempDirs) fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  #write(md: string, json: Record<string, unknown>): void {
    fs.mkdirSync(resultsDir, { recursive: true });
    fs.writeFileSync(path.join(resultsDir, `${this.name}-latest.json`), `${JSON.stringify(json, null, 2)}\n`);
    fs.writeFileSync(path.join(resultsDir, `${this.name}-latest.md`), `${md}\n`);
    this.log(`wrote bench/results/${this.name}-latest.{json,md}`);
  }
}
