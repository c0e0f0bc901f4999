// The two servers of the WebSocket bench, each running test/engines/ws-worker.ts (the chat example's
// room, unchanged): sourdough's serve() in this process (the gateway holding the client sockets) with
// 2 host processes, and workerd started by miniflare from bench/peers/ (the same classes, bundled by
// esbuild). Also: which processes to measure and how many objects are resident (open SQLite files).
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as os from "node:os";
import * as path from "node:path";
import type { Readable } from "node:stream";
import { serve } from "sourdough";
import { bundleForWorkerd, workerdOptions } from "../test/engines/workerd-engine.ts";
import { peersDir } from "./peers-install.ts";

export interface WsServer {
  readonly engine: "sourdough" | "workerd";
  readonly wsOrigin: string;
  /** Processes whose memory counts, by role ("gateway", "host 0", "workerd"). */
  processes(): Array<{ role: string; pid: number }>;
  /** Durable Objects resident now: SQLite files of objects held open by the server's processes. */
  residentObjects(): number;
  close(): Promise<void>;
}

/** Count of open file descriptors of `pid` that are objects' `.sqlite` files under `dir`. */
function openSqliteFiles(pid: number, dir: string): number {
  let n = 0;
  let fds: string[];
  try {
    fds = fs.readdirSync(`/proc/${pid}/fd`);
  } catch {
    return 0;
  }
  for (const fd of fds) {
    try {
      const target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
      // Object databases only: not sourdough's per-host _alarms.sqlite nor workerd's metadata.sqlite.
      if (target.startsWith(dir) && target.endsWith(".sqlite") && !/\/(_[^/]*|metadata\.sqlite)$/.test(target)) n++;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

export async function startSourdoughServer(idleEvictionMs: number, log: (line: string) => void): Promise<WsServer> {
  const { ChatRoom, WsTestRoom, worker } = await import("../test/engines/ws-worker.ts");
  const storageDir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "sourdough-bench-ws-")));
  const app = serve(worker, {
    durableObjects: { ROOMS: ChatRoom, TEST: WsTestRoom },
    modules: [new URL("../examples/chat/room.ts", import.meta.url), new URL("../test/engines/ws-room.ts", import.meta.url)],
    hostCount: 2,
    isolatesPerHost: 1,
    storageDir,
    idleEvictionMs,
    output: (host, _stream, text) => log(`[host ${host}] ${text.trimEnd()}`),
  });
  await app.ready;
  const hostPids = () => app.coordinator.hosts.map((h) => h.pid).filter((p): p is number => p !== undefined);
  return {
    engine: "sourdough",
    wsOrigin: app.url.replace(/^http/, "ws"),
    processes: () => [{ role: "gateway", pid: process.pid }, ...hostPids().map((pid, i) => ({ role: `host ${i}`, pid }))],
    residentObjects: () => hostPids().reduce((n, pid) => n + openSqliteFiles(pid, storageDir), 0),
    async close() {
      await app.close();
      fs.rmSync(storageDir, { recursive: true, force: true });
    },
  };
}

/** Child processes of this process named workerd (Linux /proc). */
function workerdChildren(): number[] {
  const found: number[] = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
      const close = stat.lastIndexOf(")");
      const ppid = Number(stat.slice(close + 2).split(" ")[1]);
      if (ppid === process.pid && stat.slice(stat.indexOf("(") + 1, close).startsWith("workerd")) found.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

/** workerd via bench/peers' miniflare; its compatibility date is the newest its version knows. */
export async function startWorkerdServer(workerdVersion: string, log: (line: string) => void): Promise<WsServer> {
  const { Miniflare } = createRequire(path.join(peersDir, "package.json"))("miniflare") as { Miniflare: new (o: Record<string, unknown>) => { ready: Promise<URL>; dispose(): Promise<void> } };
  const m = /^\d+\.(\d{4})(\d{2})(\d{2})\./.exec(workerdVersion);
  const persistDir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "sourdough-bench-ws-workerd-")));
  const before = new Set(workerdChildren());
  const forward = (stream: Readable) => stream.on("data", (chunk: Buffer) => log(`[workerd] ${chunk.toString("utf8").trimEnd()}`));
  const mf = new Miniflare({
    ...workerdOptions(await bundleForWorkerd(), m === null ? "2025-09-01" : `${m[1]}-${m[2]}-${m[3]}`, persistDir),
    handleRuntimeStdio(stdout: Readable, stderr: Readable) {
      forward(stdout);
      forward(stderr);
    },
  });
  const url = await mf.ready;
  const pids = workerdChildren().filter((p) => !before.has(p));
  if (pids.length !== 1) log(`[bench] expected one new workerd process, found ${pids.length}: memory figures for workerd will be missing`);
  return {
    engine: "workerd",
    wsOrigin: url.origin.replace(/^http/, "ws"),
    processes: () => (pids.length === 1 ? [{ role: "workerd", pid: pids[0]! }] : []),
    residentObjects: () => pids.reduce((n, pid) => n + openSqliteFiles(pid, persistDir), 0),
    async close() {
      await mf.dispose();
      fs.rmSync(persistDir, { recursive: true, force: true });
    },
  };
}
