// Scenario 5's server: bench/peers/workerd-app.js on workerd, started through miniflare (from
// bench/peers/) on a loopback port, with its Durable Objects persisted (SQLite) in a temp dir.
// Requests go straight to workerd's socket; miniflare's Node side only starts and stops it.
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import type { Readable } from "node:stream";
import { peersDir } from "./peers-install.ts";

export interface WorkerdPeer {
  /** Origin, e.g. http://127.0.0.1:40123 */
  readonly url: string;
  /** The workerd process (a child of this one), found after start; undefined if not found. */
  readonly pid: number | undefined;
  readonly startMs: number;
  /** Disposes miniflare (stops workerd). Idempotent. */
  close(): Promise<void>;
}

/** The subset of miniflare's API used here (typed locally: bench/peers is not type-checked). */
interface Miniflare {
  readonly ready: Promise<URL>;
  dispose(): Promise<void>;
}
type MiniflareCtor = new (options: Record<string, unknown>) => Miniflare;

export interface WorkerdPeerOptions {
  persistDir: string;
  /** workerd's own stdout/stderr, line by line (it must not reach the results on stdout). */
  output: (line: string) => void;
  /** The workerd npm version (1.YYYYMMDD.n): its date is the newest compatibility date it knows. */
  workerdVersion: string;
}

function forwardLines(stream: Readable, output: (line: string) => void): void {
  let carry = "";
  stream.setEncoding("utf8");
  stream.on("data", (chunk: string) => {
    const lines = (carry + chunk).split("\n");
    carry = lines.pop() ?? "";
    for (const line of lines) if (line.trim() !== "") output(line);
  });
}

/** Child processes of this process named `workerd` (Linux /proc). */
function workerdChildren(): Set<number> {
  const found = new Set<number>();
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
      const close = stat.lastIndexOf(")");
      const comm = stat.slice(stat.indexOf("(") + 1, close);
      const ppid = Number(stat.slice(close + 2).split(" ")[1]);
      if (ppid === process.pid && comm.startsWith("workerd")) found.add(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

/** Starts workerd via miniflare; rejects (with miniflare disposed) if it does not come up. */
export async function startWorkerdPeer(options: WorkerdPeerOptions): Promise<WorkerdPeer> {
  const peersRequire = createRequire(path.join(peersDir, "package.json"));
  const { Miniflare } = peersRequire("miniflare") as { Miniflare: MiniflareCtor };
  const m = /^\d+\.(\d{4})(\d{2})(\d{2})\./.exec(options.workerdVersion);
  const compatibilityDate = m === null ? "2025-09-01" : `${m[1]}-${m[2]}-${m[3]}`;
  const before = workerdChildren();
  const t0 = performance.now();
  const mf = new Miniflare({
    modules: true,
    script: fs.readFileSync(path.join(peersDir, "workerd-app.js"), "utf8"),
    compatibilityDate,
    durableObjects: { COUNTER: { className: "Counter", useSQLite: true } },
    durableObjectsPersist: options.persistDir,
    host: "127.0.0.1",
    port: 0,
    handleRuntimeStdio(stdout: Readable, stderr: Readable) {
      forwardLines(stdout, options.output);
      forwardLines(stderr, options.output);
    },
  });
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => (closing ??= mf.dispose());
  let url: URL;
  try {
    url = await mf.ready;
  } catch (error) {
    await close().catch(() => undefined);
    throw error;
  }
  const startMs = performance.now() - t0;
  const started = [...workerdChildren()].filter((pid) => !before.has(pid));
  return { url: url.origin, pid: started.length === 1 ? started[0] : undefined, startMs, close };
}
