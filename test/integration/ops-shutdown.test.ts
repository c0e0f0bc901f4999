// Issue 11, part 4: serve() in a real child process. SIGTERM drains (requests in flight finish, writes
// commit, hosts stop, the run directory goes) and exits 0 with no acknowledged write lost; a second
// signal exits at once.
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ClusterCoordinator } from "sourdough";
import { TestCounter } from "../fixtures/objects.ts";
import { isAlive } from "../support/cluster.ts";

const CHILD = new URL("../fixtures/serve-child.ts", import.meta.url);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const cleanup: Array<() => void> = [];
afterEach(() => {
  for (const f of cleanup.splice(0)) f();
});

interface Started {
  child: ChildProcess;
  info: { pid: number; url: string; runDir: string; hostPids: number[] };
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

async function startChild(storageDir: string, graceMs: number): Promise<Started> {
  const child = spawn(process.execPath, ["--import", "tsx", CHILD.pathname, storageDir, String(graceMs)], { stdio: ["ignore", "pipe", "pipe"] });
  cleanup.push(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  let out = "";
  let err = "";
  child.stdout!.setEncoding("utf8").on("data", (t: string) => (out += t));
  child.stderr!.setEncoding("utf8").on("data", (t: string) => (err += t));
  const exited = once(child, "exit").then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
  while (!out.includes("\n")) {
    const r = await Promise.race([once(child.stdout!, "data"), exited.then(() => "exit")]);
    if (r === "exit") throw new Error(`serve child exited early:\n${err}`);
  }
  return { child, info: JSON.parse(out) as Started["info"], stderr: () => err, exited };
}

async function gone(pids: number[]): Promise<number[]> {
  for (let i = 0; i < 100 && pids.some(isAlive); i++) await sleep(50);
  return pids.filter(isAlive);
}

describe("serve(): graceful shutdown on signals", () => {
  it("drains on SIGTERM: requests in flight finish, every acknowledged write is kept, nothing is left, exit 0", async () => {
    const storageDir = mkdtempSync(path.join(os.tmpdir(), "sourdough-test-"));
    cleanup.push(() => rmSync(storageDir, { recursive: true, force: true }));
    const { child, info, stderr, exited } = await startChild(storageDir, 5000);
    const acked = new Map<string, number>(); // name → highest acknowledged value
    const ackedCount = new Map<string, number>();
    let refused = 0;
    let stop = false;
    const loop = async (name: string) => {
      while (!stop) {
        try {
          const res = await fetch(`${info.url}/inc?name=${name}`, { method: "POST" });
          if (res.status !== 200) throw new Error(`status ${res.status}`);
          const { value } = (await res.json()) as { value: number };
          acked.set(name, Math.max(acked.get(name) ?? 0, value));
          ackedCount.set(name, (ackedCount.get(name) ?? 0) + 1);
        } catch {
          refused++;
          return; // the server stopped accepting
        }
      }
    };
    const loops = ["a", "b", "c", "d"].map(loop);
    const slow = ["s1", "s2", "s3"].map((name) => fetch(`${info.url}/slow-inc?name=${name}&ms=800`, { method: "POST" }).then((r) => r.json() as Promise<{ value: number }>));
    await sleep(300);
    child.kill("SIGTERM");
    const slowAnswers = await Promise.all(slow); // started before the signal: they finish during the grace
    expect(slowAnswers).toEqual([{ value: 1 }, { value: 1 }, { value: 1 }]);
    const { code, signal } = await exited;
    stop = true;
    await Promise.all(loops);
    expect({ code, signal }, stderr()).toEqual({ code: 0, signal: null });
    expect(stderr()).toContain("sourdough: SIGTERM: shutting down (requests in flight get up to 5000 ms; a second signal exits at once)");
    expect(stderr()).toMatch(/sourdough: shut down after \d+ ms\n/);
    expect(await gone(info.hostPids)).toEqual([]);
    expect(existsSync(info.runDir), "run directory left behind").toBe(false);
    expect([...acked.values()].reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    // Every acknowledged increment is on disk: reopen the storageDir in this process.
    const check = new ClusterCoordinator({ hostCount: 0, storageDir, output: () => {} });
    try {
      for (const [name, value] of acked) {
        const stored = await check.get(name, TestCounter).get();
        expect(stored, `counter ${name}`).toBeGreaterThanOrEqual(value);
        expect(stored).toBeGreaterThanOrEqual(ackedCount.get(name)!);
      }
      for (const name of ["s1", "s2", "s3"]) expect(await check.get(name, TestCounter).get()).toBe(1);
    } finally {
      await check.close();
    }
  });

  it("exits at once on a second signal, without waiting for requests in flight", async () => {
    const storageDir = mkdtempSync(path.join(os.tmpdir(), "sourdough-test-"));
    cleanup.push(() => rmSync(storageDir, { recursive: true, force: true }));
    const { child, info, stderr, exited } = await startChild(storageDir, 60_000);
    cleanup.push(() => rmSync(info.runDir, { recursive: true, force: true })); // exiting at once leaves it for the next start to sweep
    const hanging = fetch(`${info.url}/slow-inc?name=h&ms=30000`, { method: "POST" }).catch((e: unknown) => e);
    await sleep(300);
    child.kill("SIGTERM");
    await sleep(300);
    expect(child.exitCode).toBe(null); // still draining: the request has 60 s
    const second = Date.now();
    child.kill("SIGTERM");
    const { code } = await exited;
    expect(Date.now() - second).toBeLessThan(2000);
    expect(code).toBe(143);
    expect(stderr()).toContain("sourdough: SIGTERM again: exiting now, without waiting for requests in flight");
    expect(await hanging).toBeInstanceOf(Error);
    // Hosts notice their coordinator is gone and stop on their own.
    expect(await gone(info.hostPids)).toEqual([]);
  });
});
