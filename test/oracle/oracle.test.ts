// The storage oracle: every case of cases.ts runs on a fresh object in workerd (Cloudflare's runtime,
// through miniflare) and in sourdough (in-process and in a host process), and their results are
// compared op by op. A case must match, or differ at exactly the ops known.ts lists for it (each
// explained in DIFFERENCES.md): a new difference fails, and so does a known one that was fixed.
// Run: npm install --prefix test/oracle && npx vitest run --config test/oracle/vitest.config.ts
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CASES, type OracleCase } from "./cases.ts";
import { compareResults, differingOps, formatDifferences } from "./compare.ts";
import { KNOWN_DIFFERENCES } from "./known.ts";
import type { OpResult } from "./ops.ts";
import type { OracleRunner } from "./runner.ts";
import { startSourdough } from "./sourdough-runner.ts";
import { loadMiniflare, startWorkerd } from "./workerd-runner.ts";

const miniflare = await loadMiniflare();

describe("oracle cases", () => {
  it("have unique names and cite a doc section", () => {
    expect(new Set(CASES.map((c) => c.name)).size).toBe(CASES.length);
    for (const c of CASES) expect(c.doc, c.name).toMatch(/^(api|platform)\//);
  });

  it("list known differences only for cases that exist", () => {
    const names = new Set(CASES.map((c) => c.name));
    expect(Object.keys(KNOWN_DIFFERENCES).filter((name) => !names.has(name))).toEqual([]);
  });
});

if (miniflare === undefined) {
  console.warn("oracle: skipped: run npm install --prefix test/oracle (miniflare and workerd are not installed)");
  describe("oracle: workerd vs sourdough", () => {
    it.skip("skipped: run npm install --prefix test/oracle", () => {});
  });
} else {
  let workerd: OracleRunner;
  // Each case runs once in workerd; both sourdough modes compare against that run.
  const workerdResults = new Map<string, Promise<OpResult[]>>();
  const fromWorkerd = (c: OracleCase): Promise<OpResult[]> => {
    let results = workerdResults.get(c.name);
    if (results === undefined) workerdResults.set(c.name, (results = workerd.run(c)));
    return results;
  };
  beforeAll(async () => {
    workerd = await startWorkerd(miniflare);
  });
  afterAll(async () => {
    await workerd?.close();
  });

  describe.each([{ hostCount: 0 as const }, { hostCount: 1 as const }])("oracle: workerd vs sourdough (hostCount $hostCount)", ({ hostCount }) => {
    let sourdough: OracleRunner;
    beforeAll(async () => {
      sourdough = await startSourdough({ hostCount });
    });
    afterAll(async () => {
      await sourdough?.close();
    });

    for (const c of CASES) {
      const title = `${c.name} [${c.doc}]${c.known === undefined ? "" : ` (known: ${c.known.why})`}`;
      it(title, async () => {
        const w = await fromWorkerd(c);
        let found: number[] | "run";
        let report: string;
        try {
          const differences = compareResults(c.ops, w, await sourdough.run(c));
          found = differingOps(differences);
          report = formatDifferences(differences);
        } catch (error) {
          found = "run";
          report = String(error);
        }
        expect(found, `ops that differ from workerd (known.ts expects ${JSON.stringify(c.known?.ops ?? [])}):\n${report}`).toEqual(c.known?.ops ?? []);
      });
    }
  });
}
