// `npm run bench -- --quick` runs every benchmark to the end and writes well-formed results. Checks
// shape, never speed: figures are reported by the benchmark, not asserted by tests.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

const root = new URL("../../", import.meta.url);
const results = (file: string) => new URL(`bench/results/${file}`, root);
const json = (file: string) => JSON.parse(readFileSync(results(file), "utf8")) as Record<string, unknown>;

describe("npm run bench -- --quick", () => {
  it("runs every benchmark and writes JSON and Markdown results", () => {
    const run = spawnSync("npm", ["run", "bench", "--", "--quick"], { cwd: root, encoding: "utf8", timeout: 14 * 60_000 });
    expect(run.status, run.stderr.slice(-3000)).toBe(0);

    const rpc = json("latest.json");
    expect(rpc).toMatchObject({ quick: true, failed: null, leftoverHostPids: [] });
    expect(typeof (rpc["machine"] as { node?: unknown } | undefined)?.node).toBe("string");
    expect(readFileSync(results("latest.md"), "utf8")).toMatch(/\| RPC sequential `increment\(\)`.*\| [\d.,]+ µs \|/);

    const codecs = json("codecs-latest.json") as { results: Record<string, Record<string, number[]>> };
    for (const perCodec of Object.values(codecs.results)) for (const runs of Object.values(perCodec)) expect(runs.every((x) => x > 0)).toBe(true);
    const storage = json("storage-latest.json") as { rpc: number[]; loop: number[] };
    expect(storage.rpc.length).toBeGreaterThan(0);
    expect(storage.loop.every((x) => x > 0)).toBe(true);
    const scale = json("scale-latest.json") as { objects: number; objectsPerSecond: number };
    expect(scale.objectsPerSecond).toBeGreaterThan(0);
    const codegen = json("codegen-latest.json") as { results: Array<{ gen: number[]; tsc: number[] }> };
    expect(codegen.results).toHaveLength(2);
    const chaos = json("chaos-latest.json") as { runs: Array<{ lost: unknown[]; slots: Array<{ serving: number }> }> };
    expect(chaos.runs).toHaveLength(2);
    for (const run of chaos.runs) {
      expect(run.lost).toEqual([]);
      expect(run.slots.every((s) => s.serving >= 0 && s.serving <= 1)).toBe(true);
    }
    const fetchBodies = json("fetch-latest.json") as { quick: boolean; sides: { B: Record<string, number[]> } };
    expect(fetchBodies.quick).toBe(true);
    expect(Object.keys(fetchBodies.sides.B)).toHaveLength(8);
    expect(Object.values(fetchBodies.sides.B).every((runs) => runs.length > 0 && runs.every((x) => x > 0))).toBe(true);
    const pipelining = json("pipelining-latest.json") as { quick: boolean; medians: Record<string, number> };
    expect(pipelining.quick).toBe(true);
    expect(Object.values(pipelining.medians)).toHaveLength(3);
    expect(Object.values(pipelining.medians).every((x) => x > 0)).toBe(true);
    type PerSide = Record<string, number[]>;
    const containment = json("containment-latest.json") as {
      quick: boolean;
      overhead: { throughput: PerSide; p50: PerSide; p99: PerSide; perEventNs: number[] };
      events: Array<{ code: string; toRejectionMs: number; toNeighbourMs: number }>;
    };
    expect(containment.quick).toBe(true);
    const { throughput, p50, p99, perEventNs } = containment.overhead;
    for (const runs of [throughput, p50, p99].flatMap((perSide) => Object.values(perSide))) expect(runs.every((x) => x > 0)).toBe(true);
    expect(perEventNs.every((x) => x > 0)).toBe(true);
    expect(containment.events.length).toBeGreaterThan(0);
    for (const event of containment.events) {
      expect(event.code).toBe("ERR_CPU_LIMIT");
      expect(Number.isFinite(event.toRejectionMs) && Number.isFinite(event.toNeighbourMs)).toBe(true);
    }
    const metrics = json("metrics-latest.json") as { quick: boolean; one: Record<string, number[]>; many: Record<string, number[]>; p50: Record<string, number[]>; scrapeMs: number[] };
    expect(metrics.quick).toBe(true);
    for (const runs of [metrics.one, metrics.many, metrics.p50].flatMap((perSide) => Object.values(perSide))) expect(runs.length > 0 && runs.every((x) => x > 0)).toBe(true);
    expect(metrics.scrapeMs.every((x) => x > 0)).toBe(true);
    type Traffic = { delivered: number; seconds: number; p50Ms: number; p99Ms: number; closed: number };
    const websocket = json("websocket-latest.json") as {
      quick: boolean;
      failed: string | null;
      runs: Record<"sourdough" | "workerd", { fanout: Traffic[]; plain: Traffic[]; rooms: Traffic[]; idle: Array<{ sockets: number; bytesPerSocket: number; ponged: number; closedByServer: number }> }>;
    };
    expect(websocket).toMatchObject({ quick: true, failed: null });
    for (const engine of ["sourdough", "workerd"] as const) {
      const { fanout, plain, rooms, idle } = websocket.runs[engine];
      for (const runs of [fanout, plain, rooms, idle]) expect(runs.length, `${engine}: rounds of every scenario`).toBeGreaterThan(0);
      for (const r of [...fanout, ...plain, ...rooms]) {
        expect(r.delivered / r.seconds).toBeGreaterThan(0);
        expect(r.p99Ms).toBeGreaterThanOrEqual(r.p50Ms);
        expect(r.closed, `${engine}: sockets closed by the server mid-run`).toBe(0);
      }
      for (const r of idle) expect([r.ponged, r.closedByServer]).toEqual([r.sockets, 0]);
    }
    for (const md of ["fetch-latest.md", "metrics-latest.md", "websocket-latest.md", "codecs-latest.md", "storage-latest.md", "scale-latest.md", "codegen-latest.md", "chaos-latest.md", "containment-latest.md"]) {
      expect(readFileSync(results(md), "utf8")).toMatch(/^\|.*\|$/m);
    }
  });
});
