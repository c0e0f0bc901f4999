// Storage files: private modes and open failures that say what happened.
import { chmodSync, mkdtempSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openFailure, preparePrivateFile } from "../../runtime/storage/private-file.ts";

const root = mkdtempSync(path.join(os.tmpdir(), "sourdough-test-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("preparePrivateFile", () => {
  // Under the umask of the test run (test/integration/storage-dir.test.ts sets 022 for real hosts).
  it("makes missing directories 0700 and the file 0600, and tightens an existing file", () => {
    const file = path.join(root, "a", "b", "x.sqlite");
    preparePrivateFile(file);
    expect(statSync(path.join(root, "a")).mode & 0o777).toBe(0o700);
    expect(statSync(path.join(root, "a", "b")).mode & 0o777).toBe(0o700);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    chmodSync(file, 0o644);
    preparePrivateFile(file);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });
});

describe("openFailure", () => {
  const file = "/data/Counter/abc.sqlite";
  it.each([
    { given: Object.assign(new Error("EMFILE: too many open files"), { code: "EMFILE" }), want: "too many open files. Raise the fd limit (ulimit -n), or lower idleEvictionMs" },
    { given: Object.assign(new Error("database is locked"), { code: "SQLITE_BUSY" }), want: "Another process holds this object's database: run one coordinator per storageDir" },
    { given: Object.assign(new Error("EACCES: permission denied"), { code: "EACCES" }), want: "Check that this user may read and write /data/Counter" },
  ])("says what happened: $want", ({ given, want }) => {
    const error = openFailure(file, given);
    expect(error).toMatchObject({ code: "ERR_STORAGE" });
    expect(error.message).toContain(`storage: cannot open ${file}:`);
    expect(error.message).toContain(want);
  });
});
