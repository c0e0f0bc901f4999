// The harness of the RPC engine suites (rpc.test.ts, rpc-streams.test.ts): one app whose worker
// answers each request with what it observed, as JSON, run on workerd (miniflare, inside a Worker)
// and on sourdough in each of several modes (host processes, in-process); a request's answers from
// all of them side by side, asserted equal (expectSame) or per engine (expectEach); and a close that
// checks nothing the suite started is left behind.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { ServeHandle } from "sourdough";
import { expect } from "vitest";
import { ioHandles, isAlive } from "../support/cluster.ts";
import { startTwoEngines, type TwoEngines } from "./cloudflare-harness.ts";

/** A sourdough mode: `hostCount` 0 runs the objects in the test process, ≥ 1 in host processes. */
export interface SourdoughMode {
  mode: string;
  hostCount: number;
}

export const BOTH_MODES: SourdoughMode[] = [
  { mode: "2 host processes", hostCount: 2 },
  { mode: "in-process (hostCount: 0)", hostCount: 0 },
];

/** One request's JSON answer from workerd and from each sourdough mode (keyed by mode). */
export interface Answers {
  workerd: unknown;
  sourdough: Record<string, unknown>;
}

export interface RpcEngines {
  /** workerd and the first mode's app (its project, miniflare instance, storage dir). */
  two: TwoEngines;
  /** Every sourdough app, by mode. */
  apps: Record<string, ServeHandle>;
  /** GETs `target` (e.g. "/?case=x") on workerd, then on each sourdough mode in turn (never at once: some cases watch timing). */
  answers(target: string): Promise<Answers>;
  /**
   * Closes every engine, then fails if a host process, a storage/project dir, or an I/O handle
   * (process, pipe, socket: workerd's goes a moment after dispose, so it waits up to 5 s) it started is left. Idempotent.
   */
  close(): Promise<void>;
}

async function json(response: Response, where: string): Promise<unknown> {
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`${where}: answered ${response.status} with a body that is not JSON: ${text.slice(0, 500)}`);
  }
}

/** Builds `appFile`'s wrangler project and runs it on workerd, and `startApp(storageDir, hostCount)` once per mode. */
export async function startRpcEngines(appFile: string, startApp: (storageDir: string, hostCount: number) => ServeHandle, modes: SourdoughMode[] = BOTH_MODES): Promise<RpcEngines> {
  const handlesBefore = ioHandles();
  const [first, ...rest] = modes;
  if (first === undefined) throw new Error("startRpcEngines: give at least one sourdough mode");
  const two = await startTwoEngines(appFile, (dir) => startApp(dir, first.hostCount));
  const apps: Record<string, ServeHandle> = { [first.mode]: two.app };
  const dirs = [two.storageDir, two.project.dir];
  const extra: Array<{ app: ServeHandle; dir: string }> = [];
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      const pids = Object.values(apps).flatMap((app) => app.coordinator.hosts.flatMap((h) => [h.pid, h.standbyPid]));
      await Promise.allSettled(extra.map(({ app }) => app.close()));
      for (const { dir } of extra) rmSync(dir, { recursive: true, force: true });
      await two.close();
      const alive = pids.filter((pid): pid is number => pid !== undefined && isAlive(pid));
      const left = dirs.filter((dir) => existsSync(dir));
      const deadline = Date.now() + 5000;
      while (ioHandles().join() !== handlesBefore.join() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const handles = ioHandles().filter((h, i, all) => all.filter((x) => x === h).length > handlesBefore.filter((x) => x === h).length && all.indexOf(h) === i);
      if (alive.length > 0 || left.length > 0 || handles.length > 0) {
        throw new Error(`left behind after close: host pids ${alive.join(", ") || "none"}; dirs ${left.join(", ") || "none"}; handles ${handles.join(", ") || "none"}`);
      }
    })());
  try {
    for (const { mode, hostCount } of rest) {
      const dir = mkdtempSync(path.join(os.tmpdir(), "sourdough-cf-app-"));
      dirs.push(dir);
      const app = startApp(dir, hostCount);
      extra.push({ app, dir });
      apps[mode] = app;
      await app.ready;
    }
  } catch (error) {
    await close().catch(() => {});
    throw error;
  }
  const answers = async (target: string): Promise<Answers> => {
    const workerd = await json(await two.mf.dispatchFetch(new URL(target, "http://engines.example").href), `workerd ${target}`);
    const sourdough: Record<string, unknown> = {};
    for (const [mode, app] of Object.entries(apps)) sourdough[mode] = await json(await fetch(new URL(target, app.url)), `sourdough (${mode}) ${target}`);
    return { workerd, sourdough };
  };
  return { two, apps, answers, close };
}

/** The same observation on workerd and on every sourdough mode. */
export function expectSame(answers: Answers, want: unknown): void {
  expect(answers.workerd, "workerd").toEqual(want);
  for (const [mode, got] of Object.entries(answers.sourdough)) expect(got, `sourdough (${mode})`).toEqual(want);
}

/** Each engine's own observation (sourdough's the same in every mode). */
export function expectEach(answers: Answers, want: { workerd: unknown; sourdough: unknown }): void {
  expect(answers.workerd, "workerd").toEqual(want.workerd);
  for (const [mode, got] of Object.entries(answers.sourdough)) expect(got, `sourdough (${mode})`).toEqual(want.sourdough);
}
