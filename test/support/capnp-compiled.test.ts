// Without the capnp tool: the byte-identity tests run from committed compiled schema nodes, and the
// tests that run the tool are skipped with one line saying how many and how to enable them.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { compiledNodesPath } from "./capnp-oracle.ts";
import { capnpNotice } from "./capnp-notice.ts";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const FIXTURES = join(REPO, "test/codegen/fixtures");

describe("committed compiled schema nodes", () => {
  it("cover schema/rpc.capnp and every golden fixture's schema as it is now", () => {
    const schemas = [join(REPO, "schema/rpc.capnp"), ...readdirSync(FIXTURES).map((c) => join(FIXTURES, c, "expected/schema.capnp")).filter((f) => existsSync(f))];
    expect(schemas.length).toBeGreaterThan(5);
    const missing = schemas.filter((f) => !existsSync(compiledNodesPath(f)));
    expect(missing, "stale: run `node --import tsx test/support/capnp-compiled.ts` (needs capnp) and commit test/fixtures/capnp-compiled/").toEqual([]);
  });

  it("let the byte-identity tests run without the tool, and the rest say, in one line, what was skipped and how to enable it", () => {
    const run = spawnSync(join(REPO, "node_modules/.bin/vitest"), ["run", "--project", "unit", "test/wire/capnp-conformance.test.ts", "test/support/capnp-oracle.test.ts"], {
      cwd: REPO,
      encoding: "utf8",
      env: { ...process.env, SOURDOUGH_NO_CAPNP: "1", SOURDOUGH_CAPNP_RECORD: "0", NO_COLOR: "1", FORCE_COLOR: "0" },
      timeout: 120_000,
    });
    expect(run.status, run.stdout + run.stderr).toBe(0);
    const notices = run.stdout.split("\n").filter((l) => l.startsWith("capnp is not installed"));
    expect(notices).toHaveLength(1);
    const skipped = Number(/Tests\s+\d+ passed \| (\d+) skipped/.exec(run.stdout)?.[1]);
    expect(skipped).toBeGreaterThan(0);
    expect(notices[0]).toBe(capnpNotice(skipped));
    expect(notices[0]).toContain("apt-get install capnproto");
    // The capnp-ts conformance cases ran (from the committed nodes of schema/rpc.capnp).
    expect(Number(/Tests\s+(\d+) passed/.exec(run.stdout)?.[1])).toBeGreaterThan(5);
  }, 150_000);
});
