// Issue 11, part 3 (logs) and issue 13's storageDir items: the logger option receives host and isolate
// start, exit with cause, restart and "back after N ms", object resets with their error, and stray
// errors of object code; logFormat: "json"; the in-memory notice; an unusable storageDir.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClusterCoordinator, serve, type Logger } from "sourdough";
import { Lifecycle, Runaway, TestCounter } from "../fixtures/objects.ts";
import { FIXTURES, startCluster, type TestCluster } from "../support/cluster.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
type Entry = { level: "info" | "warn" | "error"; message: string; fields: Record<string, unknown> | undefined };

function recorder(): { logger: Logger; entries: Entry[]; waitFor(re: RegExp): Promise<Entry> } {
  const entries: Entry[] = [];
  const at = (level: Entry["level"]) => (message: string, fields?: Record<string, unknown>) => void entries.push({ level, message, fields });
  return {
    logger: { info: at("info"), warn: at("warn"), error: at("error") },
    entries,
    async waitFor(re) {
      for (let i = 0; i < 200; i++) {
        const hit = entries.find((e) => re.test(e.message));
        if (hit !== undefined) return hit;
        await sleep(25);
      }
      throw new Error(`no log entry matched ${re}; got:\n${entries.map((e) => `${e.level} ${e.message}`).join("\n")}`);
    },
  };
}

describe("ops: lifecycle logs through the logger option", () => {
  const log = recorder();
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startCluster({ hostCount: 2, isolatesPerHost: 1, cpuLimitMs: 500, logger: log.logger, durableObjects: { COUNTER: TestCounter, LIFECYCLE: Lifecycle, RUNAWAY: Runaway } });
  });
  afterAll(() => cluster.close());

  it("logs each host's start with its pid", () => {
    for (const host of cluster.coordinator.hosts) {
      expect(log.entries).toContainEqual({ level: "info", message: `host ${host.index} ready (pid ${host.pid}, 1 isolate)`, fields: { host: host.index, pid: host.pid } });
    }
  });

  it("logs a host's exit with its cause, its restart, and when it is back", async () => {
    const pid = cluster.coordinator.hosts[1]!.pid!;
    process.kill(pid, "SIGKILL");
    const exit = await log.waitFor(new RegExp(`^host 1 \\(pid ${pid}\\) exited with SIGKILL`));
    expect(exit.level).toBe("warn");
    expect(exit.message).toMatch(/restarting it now$/);
    const back = await log.waitFor(/^host 1 back after \d+ ms \(pid \d+, 1 isolate\)$/);
    expect(back.level).toBe("info");
    expect(back.fields).toMatchObject({ host: 1, pid: cluster.coordinator.hosts[1]!.pid });
  });

  it("logs an isolate's exit with its code and when it is back", async () => {
    await expect(cluster.coordinator.get("crash", TestCounter).crashIsolate()).rejects.toThrow();
    const exit = await log.waitFor(/^host \d isolate 0 exited with code 3; replacing it/);
    expect(exit.level).toBe("warn");
    const host = exit.fields!["host"];
    const back = await log.waitFor(new RegExp(`^host ${String(host)} isolate 0 back after \\d+ ms$`));
    expect(back).toMatchObject({ level: "info", fields: { host, isolate: 0 } });
  });

  it("logs an object reset with the error and its stack", async () => {
    const stub = cluster.coordinator.get("gate", Lifecycle);
    await expect(stub.failGate()).rejects.toThrow("gate failed");
    const id = cluster.coordinator.namespace(Lifecycle).idFromName("gate").toString();
    const reset = await log.waitFor(new RegExp(`object Lifecycle ${id} was reset: RangeError: gate failed`));
    expect(reset.level).toBe("warn");
    expect(reset.message).toMatch(/\n\s+at /); // the stack
    expect(reset.fields).toMatchObject({ class: "Lifecycle", objectId: id });
  });

  it("logs an isolate stopped for the CPU limit, with the event, and counts the kill", async () => {
    const at = cluster.coordinator.locate(Runaway, cluster.coordinator.namespace(Runaway).idFromName("spinner"))!;
    await expect(cluster.coordinator.get("spinner", Runaway).spin()).rejects.toMatchObject({ code: "ERR_CPU_LIMIT" });
    const stop = await log.waitFor(/Runaway\.spin \(object [0-9a-f]{64}\) ran on the CPU for more than 500 ms/);
    expect(stop).toMatchObject({ level: "warn", fields: { host: at.host, isolate: at.isolate } });
    await log.waitFor(new RegExp(`^host ${at.host} isolate ${at.isolate} back after \\d+ ms$`));
    const text = await cluster.coordinator.metrics();
    expect(text).toContain(`sourdough_cpu_limit_kills_total{host="${at.host}"} 1`);
  });

  it("logs errors that escape object code (a throwing timer) with their stack, and the isolate goes on", async () => {
    const stub = cluster.coordinator.get("stray", Runaway);
    expect(await stub.throwFromTimer()).toBe("scheduled");
    const entry = await log.waitFor(/uncaught exception in object code \(the isolate goes on\)/);
    expect(entry.level).toBe("error");
    expect(entry.message).toMatch(/\n\s+at /);
    expect(await stub.ping()).toBe("pong");
  });
});

describe("ops: the default logger", () => {
  it("writes JSON lines with logFormat: json", async () => {
    const lines: string[] = [];
    const cluster = await startCluster({ hostCount: 1, isolatesPerHost: 1, logFormat: "json", output: (_h, _s, text) => void lines.push(text) });
    await cluster.close();
    const entries = lines.join("").trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(entries[0]).toMatchObject({ level: "info", msg: expect.stringMatching(/^host 0 ready \(pid \d+, 1 isolate\)$/), host: 0 });
    expect(Date.parse(entries[0]!["time"] as string)).toBeGreaterThan(0);
  });

  it("says once that storage is in memory when storageDir is left out, unless told not to", async () => {
    const lines: string[] = [];
    const output = (_h: number, _s: string, text: string) => void lines.push(text);
    await new ClusterCoordinator({ hostCount: 0, output }).close();
    expect(lines).toEqual(["sourdough: no storageDir: objects' storage is in memory and is lost when the process exits. Pass storageDir to keep it (inMemoryNotice: false hides this line).\n"]);
    lines.length = 0;
    await new ClusterCoordinator({ hostCount: 0, output, inMemoryNotice: false }).close();
    expect(lines).toEqual([]);
  });

  it("refuses a logger without info, warn and error", () => {
    expect(() => new ClusterCoordinator({ hostCount: 0, logger: { info() {} } as unknown as Logger })).toThrow(
      "ClusterCoordinator: logger must be an object with info, warn and error functions (console or a pino logger will do); missing warn, error.",
    );
  });
});

describe("ops: an unusable storageDir", () => {
  const root = mkdtempSync(path.join(os.tmpdir(), "sourdough-test-"));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  for (const hostCount of [0, 1]) {
    it(`rejects ready with the path and the fix, and serve() does not throw (hostCount ${hostCount})`, async () => {
      const file = path.join(root, `a-file-${hostCount}`);
      writeFileSync(file, "not a directory");
      const storageDir = path.join(file, "data");
      const app = serve({ fetch: () => new Response("x") }, { durableObjects: { COUNTER: TestCounter }, modules: [FIXTURES], hostCount, storageDir, output: () => {}, handleSignals: false });
      const error = (await app.ready.catch((e: unknown) => e)) as Error & { code?: string };
      expect(error.code).toBe("ERR_STORAGE");
      expect(error.message).toContain(`ClusterCoordinator: storageDir ${storageDir} cannot be used: ENOTDIR`);
      expect(error.message).toContain("Give storageDir a directory this user");
      expect(error.message).toContain("or leave storageDir out to keep objects in memory.");
      await app.close();
    });
  }

  it("names the path when SQLite cannot open a file in it", async () => {
    const storageDir = path.join(root, "blocked");
    mkdirSync(path.join(storageDir, "_alarms.sqlite"), { recursive: true }); // a directory where the alarm index goes
    const coordinator = new ClusterCoordinator({ hostCount: 1, modules: [FIXTURES], storageDir, output: () => {} });
    const error = (await coordinator.ready.catch((e: unknown) => e)) as Error & { code?: string };
    expect(error.code).toBe("ERR_STORAGE");
    expect(error.message).toContain(`storageDir ${storageDir} cannot be used: EISDIR`);
    await coordinator.close();
    // The lock was released: a coordinator on a fixed directory starts.
    rmSync(path.join(storageDir, "_alarms.sqlite"), { recursive: true });
    const ok = new ClusterCoordinator({ hostCount: 0, storageDir, output: () => {} });
    await ok.ready;
    await ok.close();
  });
});
