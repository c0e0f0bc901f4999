// Regenerates test/fixtures/capnp-compiled/: the compiled schema nodes (`capnp compile -o-` output)
// of every schema the tests load, so that a machine without the capnp tool runs the byte-identity
// tests from them. Needs capnp. Runs the suites that load schemas with recording on, after clearing
// the directory, so entries no test loads any more are dropped.
//
//   node --import tsx test/support/capnp-compiled.ts
import { spawnSync } from "node:child_process";
import { readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { COMPILED_DIR, capnpAvailable } from "./capnp-oracle.ts";

/** The suites whose schemas are committed (the others load schemas only where the tool is present). */
export const RECORDED_SUITES = [
  "test/codegen/schema.test.ts",
  "test/codegen/codecs.test.ts",
  "test/codegen/codec-safety.test.ts",
  "test/wire/capnp-conformance.test.ts",
  "test/integration/wire-capture.test.ts",
];

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (!capnpAvailable()) {
    process.stderr.write("capnp-compiled: the capnp tool is not installed (apt-get install capnproto); nothing was changed.\n");
    process.exit(2);
  }
  const repo = fileURLToPath(new URL("../..", import.meta.url));
  rmSync(COMPILED_DIR, { recursive: true, force: true });
  const run = spawnSync(join(repo, "node_modules/.bin/vitest"), ["run", ...RECORDED_SUITES], { cwd: repo, stdio: "inherit", env: { ...process.env, SOURDOUGH_CAPNP_RECORD: "1" } });
  const files = readdirSync(COMPILED_DIR);
  process.stderr.write(`capnp-compiled: ${files.length} compiled schemas in ${COMPILED_DIR}\n`);
  process.exit(run.status ?? 1);
}
