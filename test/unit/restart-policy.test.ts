import { describe, expect, it } from "vitest";
import { RestartPolicy, type RestartPolicyOptions } from "../../runtime/util/restart-policy.ts";

// A life is [start-up ms, then ms served before dying] (served undefined: died before it was ready).
type Life = [startMs: number, servedMs: number | undefined];

function delays(lives: Life[], options: RestartPolicyOptions = {}): number[] {
  const policy = new RestartPolicy(options);
  let now = 1_000;
  const out: number[] = [];
  for (const [startMs, servedMs] of lives) {
    policy.starting(now);
    now += startMs;
    if (servedMs !== undefined) {
      policy.ready(now);
      now += servedMs;
    }
    const decision = policy.exited(now);
    out.push(decision.delayMs);
    now += decision.delayMs;
  }
  return out;
}

describe("RestartPolicy", () => {
  it.each<{ name: string; given: Life[]; options?: RestartPolicyOptions; want: number[] }>([
    { name: "restarts at once a process killed after serving a while", given: [[300, 10_000]], want: [0] },
    { name: "restarts at once every time when killed every second", given: Array.from({ length: 10 }, (): Life => [300, 700]), want: Array(10).fill(0) },
    { name: "restarts at once after one early death (a kill while starting)", given: [[300, 10_000], [100, undefined], [300, 10_000]], want: [0, 0, 0] },
    { name: "backs off a process that keeps dying before it is ready, doubling to 1 s", given: Array.from({ length: 7 }, (): Life => [50, undefined]), want: [0, 100, 200, 400, 800, 1000, 1000] },
    { name: "backs off a process that keeps dying right after ready (a poisoned first call)", given: [[300, 5], [300, 5], [300, 5]], want: [0, 100, 200] },
    { name: "forgets the streak once a process serves long enough", given: [[300, 5], [300, 5], [300, 600], [300, 5], [300, 5]], want: [0, 100, 0, 0, 100] },
    { name: "restarts a slow starter at once once it has served minUptimeMs", given: [[2_000, 600], [2_000, 600], [2_000, 300], [2_000, 300]], want: [0, 0, 0, 100] },
    { name: "keeps restartBackoff's meaning: initialMs and maxMs", given: Array.from({ length: 6 }, (): Life => [50, undefined]), options: { initialMs: 50, maxMs: 300 }, want: [0, 50, 100, 200, 300, 300] },
    { name: "counts a death as early while the uptime is below minUptimeMs", given: [[10, 60_000], [10, 60_000]], options: { minUptimeMs: 120_000 }, want: [0, 100] },
    { name: "never backs off with minUptimeMs 0 and an instant start", given: [[0, 0], [0, 0]], options: { minUptimeMs: 0 }, want: [0, 0] },
  ])("$name", ({ given, options, want }) => {
    expect(delays(given, options)).toEqual(want);
  });

  it("reports the uptime, the start time and the streak with each decision", () => {
    const policy = new RestartPolicy();
    policy.starting(0);
    expect(policy.exited(40)).toEqual({ delayMs: 0, earlyDeaths: 1, uptimeMs: undefined, startMs: undefined });
    policy.starting(40);
    policy.ready(100);
    expect(policy.exited(110)).toEqual({ delayMs: 100, earlyDeaths: 2, uptimeMs: 10, startMs: 60 });
    policy.starting(200);
    policy.ready(500);
    expect(policy.exited(3_500)).toEqual({ delayMs: 0, earlyDeaths: 0, uptimeMs: 3_000, startMs: 300 });
  });

  it.each([
    { given: { maxMs: -1 }, want: "restartBackoff.maxMs: expected a number of milliseconds ≥ 0, got -1. Leave it out for the default (1000)." },
    { given: { initialMs: Number.NaN }, want: "restartBackoff.initialMs: expected a number of milliseconds ≥ 0, got NaN. Leave it out for the default (100)." },
    { given: { minUptimeMs: "5" as unknown as number }, want: "restartBackoff.minUptimeMs: expected a number of milliseconds ≥ 0, got \"5\". Leave it out for the default (500)." },
  ])("refuses $given with ERR_BAD_OPTIONS", ({ given, want }) => {
    expect(() => new RestartPolicy(given, "restartBackoff")).toThrow(expect.objectContaining({ code: "ERR_BAD_OPTIONS", message: want }));
  });
});
