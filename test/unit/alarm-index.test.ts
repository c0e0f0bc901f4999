// The shared alarm index is opened by every isolate at once; a start-up must not fail because
// another process holds the file for a moment (seen in CI: "database is locked" on the WAL switch).
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { openAlarmIndex } from "../../runtime/storage/alarm-index.ts";

describe("alarm index", () => {
  it("opens while another process holds the file locked, once the lock is released", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "sourdough-alarm-index-"));
    const holder = spawn(
      process.execPath,
      [
        "-e",
        `const D = require("better-sqlite3"); const db = new D(${JSON.stringify(path.join(dir, "_alarms.sqlite"))});
         db.exec("BEGIN EXCLUSIVE"); db.exec("CREATE TABLE held (x)"); process.stdout.write("locked\\n");
         setTimeout(() => { db.exec("COMMIT"); db.close(); }, 400);`,
      ],
      { cwd: new URL("../../", import.meta.url), stdio: ["ignore", "pipe", "inherit"] },
    );
    try {
      await new Promise<void>((resolve) => holder.stdout!.once("data", () => resolve()));
      const index = openAlarmIndex(dir);
      index.set({ namespace: "C", objectId: "a".repeat(64), name: undefined, time: 5, retryCount: 0 });
      expect(index.all()).toEqual([{ namespace: "C", objectId: "a".repeat(64), name: undefined, time: 5, retryCount: 0 }]);
      index.close();
    } finally {
      holder.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
