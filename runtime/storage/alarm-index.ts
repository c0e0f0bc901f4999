// Where alarms are found without waking their objects: one small SQLite database per storageDir
// (shared by every isolate, WAL, normal locking) listing (namespace, id) → scheduled time. Each
// object's own database stays the authority; this index only says whom to wake and when.
import path from "node:path";
import Database from "better-sqlite3";
import { preparePrivateFile } from "./private-file.ts";

export interface AlarmEntry {
  namespace: string;
  objectId: string;
  name: string | undefined;
  time: number;
  retryCount: number;
}

export interface AlarmIndex {
  set(entry: AlarmEntry): void;
  delete(namespace: string, objectId: string): void;
  all(): AlarmEntry[];
  close(): void;
}

/** The index for a storage directory, or an in-memory one when there is none. */
export function openAlarmIndex(storageDir: string | undefined): AlarmIndex {
  return storageDir === undefined ? memoryIndex() : sqliteIndex(path.join(storageDir, "_alarms.sqlite"));
}

function sqliteIndex(file: string): AlarmIndex {
  preparePrivateFile(file);
  const db = new Database(file, { timeout: 10_000 });
  // Every isolate of every host opens this file at start, at the same moment. Switching to WAL needs
  // the file to itself and answers SQLITE_BUSY at once (no busy handler), so retry it briefly.
  whileBusy(() => db.pragma("journal_mode = WAL"));
  db.pragma("synchronous = NORMAL");
  whileBusy(() => db.exec("CREATE TABLE IF NOT EXISTS alarms (namespace TEXT, object_id TEXT, name TEXT, time INTEGER, retry_count INTEGER, PRIMARY KEY (namespace, object_id)) WITHOUT ROWID"));
  const upsert = db.prepare("INSERT OR REPLACE INTO alarms VALUES (?, ?, ?, ?, ?)");
  const remove = db.prepare("DELETE FROM alarms WHERE namespace = ? AND object_id = ?");
  const select = db.prepare("SELECT namespace, object_id AS objectId, name, time, retry_count AS retryCount FROM alarms");
  return {
    set: (e) => void upsert.run(e.namespace, e.objectId, e.name ?? null, e.time, e.retryCount),
    delete: (namespace, objectId) => void remove.run(namespace, objectId),
    all: () => (select.all() as Array<AlarmEntry & { name: string | null }>).map((e) => ({ ...e, name: e.name ?? undefined })),
    close: () => db.close(),
  };
}

const pause = new Int32Array(new SharedArrayBuffer(4));

/** Runs `fn`, retrying for up to `timeoutMs` while SQLite says the database is busy or locked. */
export function whileBusy<T>(fn: () => T, timeoutMs = 10_000): T {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return fn();
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if ((code !== "SQLITE_BUSY" && code !== "SQLITE_LOCKED") || Date.now() > deadline) throw error;
      Atomics.wait(pause, 0, 0, 5 + Math.random() * 20); // a synchronous sleep: this runs at start-up only
    }
  }
}

function memoryIndex(): AlarmIndex {
  const entries = new Map<string, AlarmEntry>();
  return {
    set: (e) => void entries.set(`${e.namespace}:${e.objectId}`, { ...e }),
    delete: (namespace, objectId) => void entries.delete(`${namespace}:${objectId}`),
    all: () => [...entries.values()].map((e) => ({ ...e })),
    close: () => entries.clear(),
  };
}
