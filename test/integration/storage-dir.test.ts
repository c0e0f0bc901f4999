// The files behind the objects (issue 9): private modes whatever the umask, one coordinator per
// storageDir (a second one is refused at once, a dead one's lock is taken over), and run directories
// left by a killed coordinator removed at the next start.
import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { once } from "node:events";
import { afterEach, describe, expect, it } from "vitest";
import { ClusterCoordinator } from "sourdough";
import { TestCounter } from "../fixtures/objects.ts";
import { FIXTURES, isAlive, startCluster } from "../support/cluster.ts";

const CHILD = new URL("../fixtures/coordinator-child.ts", import.meta.url);
const mode = (p: string) => statSync(p).mode & 0o777;
const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "sourdough-test-"));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** Starts a coordinator in a child process and waits for its first successful call. */
async function childCoordinator(storageDir: string, hosts: number): Promise<{ pid: number; runDir: string | null }> {
  const child = spawn(process.execPath, ["--import", "tsx", CHILD.pathname, storageDir, String(hosts)], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (text: string) => (out += text));
  while (!out.includes("\n")) {
    const [exited] = await Promise.race([once(child.stdout, "data"), once(child, "exit").then(() => ["exit"])]);
    if (exited === "exit") throw new Error(`the child coordinator exited early: ${out}`);
  }
  return JSON.parse(out) as { pid: number; runDir: string | null };
}

async function killed(pid: number): Promise<void> {
  process.kill(pid, "SIGKILL");
  for (let i = 0; i < 100 && isAlive(pid); i++) await new Promise((r) => setTimeout(r, 20));
}

describe("storageDir", () => {
  it("keeps object data private: directories 0700, database and WAL 0600, whatever the umask", async () => {
    const root = tempDir();
    const storageDir = path.join(root, "data");
    const previous = process.umask(0o022);
    try {
      const cluster = await startCluster({ hostCount: 1, isolatesPerHost: 1, storageDir });
      try {
        await cluster.coordinator.get("secret", TestCounter).increment(1);
        const classDir = path.join(storageDir, "TestCounter");
        expect(mode(storageDir)).toBe(0o700);
        expect(mode(classDir)).toBe(0o700);
        const files = readdirSync(classDir);
        expect(files.some((f) => f.endsWith(".sqlite-wal"))).toBe(true);
        for (const f of files) expect([f, mode(path.join(classDir, f))]).toEqual([f, 0o600]);
        expect(mode(path.join(storageDir, "_alarms.sqlite"))).toBe(0o600);
      } finally {
        await cluster.close();
      }
    } finally {
      process.umask(previous);
    }
  });

  it("warns when an existing storageDir is open to other users", async () => {
    const storageDir = tempDir();
    chmodSync(storageDir, 0o755);
    const lines: string[] = [];
    const coordinator = new ClusterCoordinator({ hostCount: 0, storageDir, output: (_h, _s, text) => void lines.push(text) });
    await coordinator.close();
    expect(lines.join("")).toContain(`storageDir ${storageDir} has mode 0755: other users can read your objects' data. Run chmod 700`);
  });

  it("refuses a second coordinator on a storageDir in use, naming the owner; the first keeps working", async () => {
    const storageDir = tempDir();
    const first = await startCluster({ hostCount: 1, isolatesPerHost: 1, storageDir });
    try {
      const second = new ClusterCoordinator({ hostCount: 1, modules: [FIXTURES], storageDir, output: () => {} });
      const started = Date.now();
      const error = await second.ready.catch((e: unknown) => e);
      expect(Date.now() - started).toBeLessThan(1000);
      expect(error).toMatchObject({ code: "ERR_STORAGE_IN_USE" });
      expect((error as Error).message).toContain(`storageDir ${storageDir} is in use by another coordinator in this process (pid ${process.pid})`);
      expect(second.hosts.every((h) => h.pid === undefined || !isAlive(h.pid))).toBe(true);
      await second.close();
      expect(await first.coordinator.get("still", TestCounter).increment(2)).toBe(2);
    } finally {
      await first.close();
    }
    expect(existsSync(path.join(storageDir, ".sourdough.lock"))).toBe(false); // released on close
  });

  it("refuses a live coordinator's storageDir, then takes over its lock and run directory once it is killed with SIGKILL", async () => {
    const storageDir = tempDir();
    const child = await childCoordinator(storageDir, 1);
    const refused = new ClusterCoordinator({ hostCount: 0, storageDir, output: () => {} });
    await expect(refused.ready).rejects.toMatchObject({ code: "ERR_STORAGE_IN_USE", message: expect.stringContaining(`another sourdough coordinator (pid ${child.pid})`) });
    await refused.close();
    await killed(child.pid);
    expect(existsSync(path.join(storageDir, ".sourdough.lock"))).toBe(true);
    expect(child.runDir !== null && existsSync(child.runDir)).toBe(true);
    const cluster = await startCluster({ hostCount: 1, isolatesPerHost: 1, storageDir });
    try {
      expect(existsSync(child.runDir!)).toBe(false);
      expect(await cluster.coordinator.get("child", TestCounter).increment(1)).toBe(2); // its data, found
    } finally {
      await cluster.close();
    }
  });

  it("leaves no lock behind when the constructor refuses an option", async () => {
    const storageDir = tempDir();
    expect(() => new ClusterCoordinator({ hostCount: 1, modules: [FIXTURES], storageDir, cpuLimitMs: -1, output: () => {} })).toThrow(/cpuLimitMs must be a whole number/);
    expect(existsSync(path.join(storageDir, ".sourdough.lock"))).toBe(false);
    const next = new ClusterCoordinator({ hostCount: 0, storageDir, output: () => {} });
    await expect(next.ready).resolves.toBeUndefined();
    await next.close();
  });

  it("refuses a second in-process coordinator too", async () => {
    const storageDir = tempDir();
    mkdirSync(storageDir, { recursive: true });
    const first = new ClusterCoordinator({ hostCount: 0, storageDir, output: () => {} });
    const second = new ClusterCoordinator({ hostCount: 0, storageDir, output: () => {} });
    await expect(second.ready).rejects.toMatchObject({ code: "ERR_STORAGE_IN_USE" });
    await expect(second.get("x", TestCounter).get()).rejects.toMatchObject({ code: "ERR_STORAGE_IN_USE" });
    await second.close();
    await first.close();
  });
});
