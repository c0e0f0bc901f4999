// Every example has a test that runs it.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

describe("examples/counter (npm run example)", () => {
  it("runs, prints what it did, and exits cleanly", async () => {
    const root = new URL("../../", import.meta.url);
    const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", "examples/counter/main.ts"], { cwd: root, timeout: 60_000 });
    expect(stdout).toContain("with 2 hosts");
    expect(stdout).toContain("Counter calls travel as: generated");
    expect(stdout).toContain('POST /increment?name=room-1&by=5 -> 200 {"name":"room-1","value":5}');
    expect(stdout).toContain('POST /increment?name=room-1&by=2 -> 200 {"name":"room-1","value":7}');
    expect(stdout).toContain("direct stub: room-2.increment(10) -> 11");
    expect(stdout).toContain("closed: hosts stopped, sockets removed");
  });
});
