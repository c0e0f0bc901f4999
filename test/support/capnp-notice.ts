// A vitest reporter: on a machine without the `capnp` tool, one line saying how many tests were
// skipped for it and how to enable them. The suites that run the tool put CAPNP_MARK in their name
// (describe.skipIf(!capnpAvailable())(`... ${CAPNP_MARK}`)); the byte-identity tests run anyway, from
// the compiled schema nodes committed in test/fixtures/capnp-compiled/ (see capnp-oracle.ts).
import type { Reporter, TestModule } from "vitest/node";
import { capnpAvailable } from "./capnp-oracle.ts";

export const CAPNP_MARK = "(needs the capnp tool)";

/** The notice line for `skipped` tests; exported for its test. */
export function capnpNotice(skipped: number): string {
  return `capnp is not installed: ${skipped} test${skipped === 1 ? "" : "s"} skipped that run it; run \`apt-get install capnproto\` (or your system's capnproto package) to enable them.`;
}

export default class CapnpNotice implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    if (capnpAvailable()) return;
    let skipped = 0;
    for (const m of modules) for (const t of m.children.allTests("skipped")) if (t.fullName.includes(CAPNP_MARK)) skipped++;
    if (skipped > 0) process.stdout.write(`\n${capnpNotice(skipped)}\n`);
  }
}
