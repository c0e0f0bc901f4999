// The kill-every-second chaos run (issue 8): callers deposit into objects on every slot without pause
// while a random host gets `kill -9` on a fixed period; reports, per slot, the share of time it was
// serving, failed calls by code and the longest outage, and checks that no acknowledged deposit was lost.
import { setTimeout as sleep } from "node:timers/promises";
import type { ClusterCoordinator } from "sourdough";

export interface ChaosTarget {
  name: string;
  slot: number;
}

export interface ChaosOptions {
  coordinator: ClusterCoordinator;
  /** The objects to drive (one sequential caller each), with the slot each lives on. */
  targets: ChaosTarget[];
  /** Adds 1 to the object's stored counter and returns the new value. */
  deposit(name: string): Promise<number>;
  /** The object's stored counter. */
  balance(name: string): Promise<number>;
  durationMs: number;
  killEveryMs: number;
  /** Seed of the choice of victims, so a run can be repeated. */
  seed: number;
  /** A gap between two successful calls on a slot longer than this counts as an outage. Default 100 ms. */
  outageGapMs?: number;
  /** Pause of each caller between two calls. Default 0 (back to back, which keeps every core busy). */
  pauseMs?: number;
}

export interface SlotReport {
  slot: number;
  objects: number;
  ok: number;
  /** Failed calls by error code. */
  failed: Record<string, number>;
  /** Share of the run during which the slot answered (1 − outages ÷ duration). */
  serving: number;
  longestOutageMs: number;
  outages: number;
}

export interface ChaosReport {
  durationMs: number;
  killEveryMs: number;
  seed: number;
  outageGapMs: number;
  /** Kills, by the victim's state at that moment: "ready", "restarting" (being started again), "down" (no process to kill). */
  kills: Record<string, number>;
  restarts: number[];
  slots: SlotReport[];
  /** Objects whose stored counter is below the last acknowledged value (must be empty). */
  lost: Array<{ name: string; acked: number; stored: number }>;
  /** Objects whose stored counter exceeds the acknowledged value by more than their failed calls (must be empty). */
  overcounted: Array<{ name: string; acked: number; stored: number; failed: number }>;
}

interface Caller {
  target: ChaosTarget;
  acked: number;
  failed: number;
}

/** Runs the chaos scenario for `durationMs`, then waits for every host and checks every counter. */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const { coordinator, durationMs, killEveryMs, seed } = options;
  const outageGapMs = options.outageGapMs ?? 100;
  const pauseMs = options.pauseMs ?? 0;
  const successes = options.targets.map(() => [] as number[]);
  const failures = new Map<number, Record<string, number>>();
  const callers: Caller[] = options.targets.map((target) => ({ target, acked: 0, failed: 0 }));
  const start = performance.now();
  const end = start + durationMs;
  let stop = false;
  const driving = callers.map(async (caller, i) => {
    while (!stop) {
      try {
        caller.acked = await options.deposit(caller.target.name);
        successes[i]!.push(performance.now());
        if (pauseMs > 0) await sleep(pauseMs);
      } catch (error) {
        caller.failed++;
        const code = (error as { code?: unknown }).code;
        const byCode = failures.get(caller.target.slot) ?? {};
        byCode[typeof code === "string" ? code : String(error)] = (byCode[typeof code === "string" ? code : String(error)] ?? 0) + 1;
        failures.set(caller.target.slot, byCode);
        await sleep(5);
      }
    }
  });
  const kills = await killPeriodically(coordinator, end, killEveryMs, seed);
  stop = true;
  await Promise.all(driving);
  await waitForHosts(coordinator, 30_000);
  const slots = slotReports(options.targets, successes, failures, start, end, outageGapMs);
  const { lost, overcounted } = await checkCounters(callers, options.balance);
  return { durationMs, killEveryMs, seed, outageGapMs, kills, restarts: coordinator.hosts.map((h) => h.restarts), slots, lost, overcounted };
}

async function killPeriodically(coordinator: ClusterCoordinator, end: number, everyMs: number, seed: number): Promise<Record<string, number>> {
  const random = mulberry32(seed);
  const kills: Record<string, number> = {};
  for (let next = performance.now() + everyMs; next < end; next += everyMs) {
    await sleep(next - performance.now());
    const hosts = coordinator.hosts;
    const victim = hosts[Math.floor(random() * hosts.length)]!;
    let outcome: string = victim.state;
    try {
      if (victim.pid === undefined) throw new Error("no process");
      process.kill(victim.pid, "SIGKILL");
    } catch {
      outcome = "down";
    }
    kills[outcome] = (kills[outcome] ?? 0) + 1;
  }
  await sleep(Math.max(0, end - performance.now()));
  return kills;
}

async function waitForHosts(coordinator: ClusterCoordinator, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!coordinator.hosts.every((h) => h.state === "ready")) {
    if (performance.now() > deadline) throw new Error(`chaos: hosts not ready ${timeoutMs} ms after the last kill: ${JSON.stringify(coordinator.hosts)}`);
    await sleep(20);
  }
}

function slotReports(targets: ChaosTarget[], successes: number[][], failures: Map<number, Record<string, number>>, start: number, end: number, gapMs: number): SlotReport[] {
  const slots = [...new Set(targets.map((t) => t.slot))].sort((a, b) => a - b);
  return slots.map((slot) => {
    const times = targets.flatMap((t, i) => (t.slot === slot ? successes[i]!.filter((x) => x <= end) : [])).sort((a, b) => a - b);
    const { downMs, longestMs, outages } = outagesOf(times, start, end, gapMs);
    return {
      slot,
      objects: targets.filter((t) => t.slot === slot).length,
      ok: times.length,
      failed: failures.get(slot) ?? {},
      serving: 1 - downMs / (end - start),
      longestOutageMs: longestMs,
      outages,
    };
  });
}

/** Gaps longer than `gapMs` between successive successes (and at either end of the run) are outages. */
export function outagesOf(times: number[], start: number, end: number, gapMs: number): { downMs: number; longestMs: number; outages: number } {
  let downMs = 0;
  let longestMs = 0;
  let outages = 0;
  let previous = start;
  for (const t of [...times, end]) {
    const gap = t - previous;
    if (gap > gapMs) {
      downMs += gap;
      outages++;
      longestMs = Math.max(longestMs, gap);
    }
    previous = t;
  }
  return { downMs, longestMs, outages };
}

async function checkCounters(callers: Caller[], balance: (name: string) => Promise<number>): Promise<Pick<ChaosReport, "lost" | "overcounted">> {
  const lost: ChaosReport["lost"] = [];
  const overcounted: ChaosReport["overcounted"] = [];
  for (const { target, acked, failed } of callers) {
    const stored = await retry(() => balance(target.name));
    // A call that failed may still have committed: at most one extra deposit per failed call.
    if (stored < acked) lost.push({ name: target.name, acked, stored });
    if (stored > acked + failed) overcounted.push({ name: target.name, acked, stored, failed });
  }
  return { lost, overcounted };
}

async function retry<T>(call: () => Promise<T>, attempts = 20): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await call();
    } catch (error) {
      if (i >= attempts || (error as { retryable?: unknown }).retryable !== true) throw error;
      await sleep(50);
    }
  }
}

/** A small seeded PRNG (mulberry32), so the order of victims repeats with the seed. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Picks `perSlot` object names on each of the cluster's slots (names are tried in order). */
export function targetsOnEverySlot(slots: number, perSlot: number, slotOf: (name: string) => number, prefix = "chaos"): ChaosTarget[] {
  const bySlot = Array.from({ length: slots }, () => [] as string[]);
  for (let i = 0; bySlot.some((names) => names.length < perSlot); i++) {
    if (i > slots * perSlot * 100) throw new Error(`chaos: could not place ${perSlot} objects on each of ${slots} slots`);
    const name = `${prefix}-${i}`;
    const names = bySlot[slotOf(name)]!;
    if (names.length < perSlot) names.push(name);
  }
  return bySlot.flatMap((names, slot) => names.map((name) => ({ name, slot })));
}
