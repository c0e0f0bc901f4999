// Test helpers for integration suites: start a coordinator over real host processes (or in-process)
// with a temp storage directory, and prove that closing it leaves nothing behind.
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ClusterCoordinator, type ClusterCoordinatorOptions } from "sourdough";
import { expect } from "vitest";
import { Caller, TestCounter } from "../fixtures/objects.ts";

export const FIXTURES = new URL("../fixtures/objects.ts", import.meta.url);

export interface TestCluster {
  coordinator: ClusterCoordinator;
  storageDir: string;
  /** Closes the coordinator and asserts no process, socket file or file descriptor is left. */
  close(): Promise<void>;
}

export function openFds(): number {
  return readdirSync("/proc/self/fd").length;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Handles that keep a process alive and that a cluster creates: child processes, pipes, sockets. */
export function ioHandles(): string[] {
  return process.getActiveResourcesInfo().filter((r) => /Process|Pipe|TCP|Signal/.test(r)).sort();
}

export async function startCluster(options: ClusterCoordinatorOptions = {}): Promise<TestCluster> {
  const fdsBefore = openFds();
  const handlesBefore = ioHandles();
  const storageDir = options.storageDir ?? mkdtempSync(path.join(os.tmpdir(), "sourdough-test-"));
  const coordinator = new ClusterCoordinator({
    hostCount: 2,
    isolatesPerHost: 2,
    modules: [FIXTURES],
    durableObjects: { COUNTER: TestCounter, CALLER: Caller },
    output: () => {},
    ...options,
    storageDir,
  });
  await coordinator.ready;
  let closed = false;
  return {
    coordinator,
    storageDir,
    async close() {
      if (closed) return;
      closed = true;
      const pids = coordinator.hosts.flatMap((h) => [h.pid, h.standbyPid]).filter((p): p is number => p !== undefined);
      const runDir = coordinator.runDir;
      await coordinator.close();
      for (const pid of pids) expect(isAlive(pid), `host pid ${pid} still running after close()`).toBe(false);
      if (runDir !== undefined) expect(existsSync(runDir), `run directory ${runDir} left behind`).toBe(false);
      // Sockets and pipes to hosts are closed asynchronously; give the loop a few turns.
      const leaked = () => openFds() > fdsBefore || ioHandles().length > handlesBefore.length;
      for (let i = 0; i < 100 && leaked(); i++) await new Promise((r) => setTimeout(r, 10));
      expect(openFds(), "file descriptors leaked by the cluster").toBeLessThanOrEqual(fdsBefore);
      expect(ioHandles().length, `handles left open by the cluster: ${ioHandles().join(", ")}`).toBeLessThanOrEqual(handlesBefore.length);
      if (options.storageDir === undefined) rmSync(storageDir, { recursive: true, force: true });
    },
  };
}
