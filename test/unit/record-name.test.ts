// The name an object was addressed by, recorded beside its database for exports (private-file.ts).
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ObjectStorage } from "../../runtime/storage/object-storage.ts";
import { recordName } from "../../runtime/storage/private-file.ts";

const root = mkdtempSync(path.join(os.tmpdir(), "sourdough-test-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("recordName", () => {
  // With umask 022 in real hosts: test/integration/storage-dir.test.ts checks every file is 0600.
  it("writes the name once, 0600, and keeps the first", () => {
    const db = path.join(root, "a.sqlite");
    recordName(db, "room ☕/../x");
    recordName(db, "other");
    expect(readFileSync(path.join(root, "a.name"), "utf8")).toBe("room ☕/../x");
    expect(statSync(path.join(root, "a.name")).mode & 0o777).toBe(0o600);
  });

  it("is written when a named object's database opens, not for a nameless one", () => {
    const open = (file: string, name: string | undefined) => {
      const storage = new ObjectStorage({ file, name, onDirty: () => {} });
      storage.kv.get("k");
      storage.close();
    };
    open(path.join(root, "Ns", "named.sqlite"), "alice");
    open(path.join(root, "Ns", "nameless.sqlite"), undefined);
    expect(readFileSync(path.join(root, "Ns", "named.name"), "utf8")).toBe("alice");
    expect(() => statSync(path.join(root, "Ns", "nameless.name"))).toThrow(/ENOENT/);
  });
});
