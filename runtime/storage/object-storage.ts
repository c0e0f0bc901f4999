// One object's storage (Cloudflare's DurableObjectStorage, SQLite-backed): a lazily opened
// better-sqlite3 database with exclusive locking and WAL; synchronous KV on `kv`, promise KV and
// alarms on the object itself, and `sql`. Writes open an implicit transaction that the isolate
// commits before it releases any reply of this object (the output gate) and at the end of each turn.
// Edge cases follow workerd, checked by test/oracle.
import Database from "better-sqlite3";
import { ErrorCode, SourdoughError, describeValue } from "../errors.ts";
import { openFailure, preparePrivateFile, recordName } from "./private-file.ts";
import { SqlStorage, storageError } from "./sql-cursor.ts";
import { deserializeValue, serializeValue } from "./value-codec.ts";

export interface StorageLocation {
  /** Database file, or ":memory:" for a non-durable in-memory database. */
  file: string;
  /** Called when this storage opens an implicit transaction, so the owner can commit it later. */
  onDirty(storage: ObjectStorage): void;
  /** Called when the object's alarm is set (time in ms since the epoch) or deleted (null). */
  onAlarmChange?(time: number | null): void;
  /**
   * The name the object was addressed by (`idFromName` / `getByName`), recorded beside its database
   * as `<id>.name` when the database is opened, so a data export can address it by name
   * (`sourdough-cloudflare export`); ids alone cannot be turned back into names.
   */
  name?: string | undefined;
  /** False when the object's class has no alarm() handler: setAlarm() is then refused. */
  hasAlarmHandler?: boolean;
  /**
   * Called when the last open transaction() ends: while one is open the object's input gate is
   * held (`holdsInputGate`), so the owner delivers the events it kept waiting.
   */
  onGateReleased?(): void;
}

/** Options of the async get/list calls (Cloudflare's). */
export interface GetOptions {
  /** Cloudflare: let other events in while this read is in progress. See `docs/compatibility.md`. */
  allowConcurrency?: boolean;
  noCache?: boolean;
}

/** Options of the async put/delete calls (Cloudflare's). */
export interface PutOptions {
  /** Cloudflare: let outgoing messages leave before this write is confirmed. See `docs/compatibility.md`. */
  allowUnconfirmed?: boolean;
  allowConcurrency?: boolean;
  noCache?: boolean;
}

export interface ListOptions extends GetOptions {
  start?: string;
  startAfter?: string;
  end?: string;
  prefix?: string;
  reverse?: boolean;
  limit?: number;
}

const MAX_KEYS = 128;
const KV_TABLE = "_cf_KV";
const ALARM_TABLE = "_cf_METADATA"; // workerd keeps the alarm in a table of this name too

/** Synchronous key-value API (Cloudflare's `ctx.storage.kv`). */
export interface SyncKvStorage {
  get<T = unknown>(key: string): T | undefined;
  put<T>(key: string, value: T): void;
  delete(key: string): boolean;
  list<T = unknown>(options?: ListOptions): Iterable<[string, T]>;
}

/** What `transaction()` hands its closure: the KV and alarm API plus `rollback()`. */
export interface StorageTransaction extends Pick<ObjectStorage, "get" | "put" | "delete" | "list" | "getAlarm" | "setAlarm" | "deleteAlarm"> {
  /** Rolls the transaction back when the closure returns; later calls on `txn` throw. */
  rollback(): void;
  deleteAll(): never;
}

export class ObjectStorage {
  readonly sql: SqlStorage;
  readonly kv: SyncKvStorage;
  readonly #location: StorageLocation;
  #db: Database.Database | undefined;
  #kvStatements: ReturnType<typeof prepareKv> | undefined;
  readonly #listStatements = new Map<string, Database.Statement>();
  #alarmTable = false;
  #closed = false;
  #inTransaction = false;
  // Open transaction()/transactionSync() savepoints, innermost last. SQLite savepoints are a stack,
  // so a transaction() that finishes while one started after it is still open waits for it.
  readonly #savepoints: Savepoint[] = [];
  #savepointSeq = 0;
  #asyncTransactions = 0; // transaction() calls not yet settled: they hold the object's input gate
  readonly #topLevel: TransactionQueue = { busy: false, waiting: [] };
  #runningAlarm: number | undefined; // the alarm whose handler is running, hidden from getAlarm()
  /** Bytes of KV keys and values put so far (for the storage bytes metric; SQL writes are not counted). */
  bytesWritten = 0;

  constructor(location: StorageLocation) {
    this.#location = location;
    this.sql = new SqlStorage({ db: () => this.#open(), beginWrite: () => this.#beginWrite() });
    this.kv = {
      get: <T>(key: string) => this.#get(key) as T | undefined,
      put: (key, value) => this.#put(key, value),
      delete: (key) => this.#delete(key),
      list: (options) => this.#list(options ?? {}),
    };
  }

  // ---- async API (resolves at once: storage is local and synchronous underneath) ----

  get<T = unknown>(key: string, options?: GetOptions): Promise<T | undefined>;
  get<T = unknown>(keys: string[], options?: GetOptions): Promise<Map<string, T>>;
  async get(keyOrKeys: string | string[], options?: GetOptions): Promise<unknown> {
    checkOptions(options, "get", 2, "GetOptions");
    if (!Array.isArray(keyOrKeys)) return this.#get(keyOrKeys);
    checkKeyCount(keyOrKeys, "get");
    const out = new Map<string, unknown>();
    for (const key of keyOrKeys.map(String).sort(compareUtf8)) {
      const value = this.#get(key);
      if (value !== undefined) out.set(key, value);
    }
    return out;
  }

  put<T>(key: string, value: T, options?: PutOptions): Promise<void>;
  put<T>(entries: Record<string, T>, options?: PutOptions): Promise<void>;
  async put(keyOrEntries: string | Record<string, unknown>, value?: unknown, options?: PutOptions): Promise<void> {
    if (keyOrEntries === null || typeof keyOrEntries !== "object") {
      checkOptions(options, "put", 3, "PutOptions");
      if (value === undefined) throw storageError("put() called with undefined value. Store null, or delete the key.", TypeError);
      return this.#put(keyOrEntries, value);
    }
    checkOptions(value, "put", 2, "PutOptions");
    const entries = Object.entries(keyOrEntries);
    checkKeyCount(entries, "put");
    for (const [k, v] of entries) this.#put(k, v);
  }

  delete(key: string, options?: PutOptions): Promise<boolean>;
  delete(keys: string[], options?: PutOptions): Promise<number>;
  delete(keyOrKeys: string | string[], options?: PutOptions): Promise<boolean | number> {
    checkOptions(options, "delete", 2, "PutOptions"); // thrown, not rejected, as workerd does
    return this.#deleteAsync(keyOrKeys);
  }

  async #deleteAsync(keyOrKeys: string | string[]): Promise<boolean | number> {
    if (!Array.isArray(keyOrKeys)) return this.#delete(keyOrKeys);
    checkKeyCount(keyOrKeys, "delete");
    let n = 0;
    for (const key of keyOrKeys) if (this.#delete(key)) n++;
    return n;
  }

  async list<T = unknown>(options?: ListOptions | null): Promise<Map<string, T>> {
    checkOptions(options, "list", 1, "ListOptions");
    return new Map(this.#list<T>(options ?? {}));
  }

  /**
   * Deletes everything this object stored: all keys, the alarm and, as Cloudflare does for
   * SQLite-backed objects, every table, index, view and trigger made through `sql`.
   */
  async deleteAll(options?: PutOptions): Promise<void> {
    checkOptions(options, "deleteAll", 1, "PutOptions");
    this.#beginWrite();
    const db = this.#open();
    const objects = db
      .prepare("SELECT type, name FROM sqlite_master WHERE type IN ('table', 'view', 'trigger') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'")
      .all() as Array<{ type: string; name: string }>;
    for (const { type, name } of objects) {
      db.prepare(`DROP ${type.toUpperCase()} IF EXISTS "${name.replaceAll('"', '""')}"`).run();
    }
    this.#kvStatements = undefined; // the KV table is created again on next use
    this.#listStatements.clear();
    this.#alarmTable = false;
    this.#location.onAlarmChange?.(null); // as Cloudflare since compatibility date 2026-02-24
  }

  /** Commits are implicit; sync() resolves once this object's pending writes are committed. */
  async sync(): Promise<void> {
    this.commit();
  }

  // ---- transactions ----

  /**
   * Runs `fn` in a transaction nested in the current one: if it throws, its writes are rolled back
   * and the error rethrown; otherwise they join the implicit transaction. Returns fn's result.
   */
  transactionSync<T>(fn: () => T): T {
    const savepoint = this.#enter();
    let ok = false;
    try {
      const result = fn();
      if (isThenable(result)) throw storageError("transactionSync: the callback returned a Promise. It must complete synchronously; use transaction(async txn => ...) for async work.");
      ok = true;
      return result;
    } finally {
      this.#leave(savepoint, ok);
    }
  }

  /**
   * Runs `closure` in a transaction: it commits when the closure resolves, and is rolled back when it
   * throws or calls `txn.rollback()`; after rollback() every call on `txn` throws. As on workerd
   * (which runs the closure under blockConcurrencyWhile): the closure starts in a later microtask; no
   * other event is delivered to the object until it finishes; a transaction() called while another
   * is open waits for it, unless it is called from inside that one's closure, where it nests.
   */
  async transaction<T>(closure: (txn: StorageTransaction) => Promise<T>): Promise<T> {
    // Which level this call queues at: inside the innermost running closure, or at the top.
    const queue = this.#savepoints.at(-1)?.nested ?? this.#topLevel;
    this.#asyncTransactions++;
    try {
      if (queue.busy) await new Promise<void>((start) => queue.waiting.push(start));
      else {
        queue.busy = true;
        await undefined; // a second call made in this same stretch of code queues behind this one
      }
      return await this.#runTransaction(closure);
    } finally {
      const next = queue.waiting.shift();
      if (next !== undefined) next();
      else queue.busy = false;
      if (--this.#asyncTransactions === 0) this.#location.onGateReleased?.();
    }
  }

  async #runTransaction<T>(closure: (txn: StorageTransaction) => Promise<T>): Promise<T> {
    const savepoint = this.#enter();
    let rolledBack = false;
    // txn's methods are async: after rollback() they reject, as workerd's do.
    const live = <A extends unknown[], R>(name: string, fn: (...args: A) => Promise<R>) => (...args: A): Promise<R> =>
      rolledBack ? Promise.reject(storageError(`Cannot ${name}() on rolled back transaction`)) : fn(...args);
    const txn: StorageTransaction = {
      get: live("get", this.get.bind(this)) as ObjectStorage["get"],
      put: live("put", this.put.bind(this)) as ObjectStorage["put"],
      delete: live("delete", this.delete.bind(this)) as ObjectStorage["delete"],
      list: live("list", this.list.bind(this)) as ObjectStorage["list"],
      getAlarm: live("getAlarm", this.getAlarm.bind(this)),
      setAlarm: live("setAlarm", this.setAlarm.bind(this)),
      deleteAlarm: live("deleteAlarm", this.deleteAlarm.bind(this)),
      deleteAll: () => {
        throw storageError("Cannot call deleteAll() within a transaction.");
      },
      rollback: () => {
        rolledBack = true;
      },
    };
    let ok = false;
    try {
      const result = await closure(txn);
      ok = !rolledBack;
      return result;
    } finally {
      await this.#leaveInOrder(savepoint, ok);
    }
  }

  /** True while a transaction() closure runs: the owner delivers no other event to the object. */
  get holdsInputGate(): boolean {
    return this.#asyncTransactions > 0;
  }

  #enter(): Savepoint {
    this.#beginWrite();
    const savepoint: Savepoint = { name: `sd_txn_${++this.#savepointSeq}`, finish: undefined, nested: { busy: false, waiting: [] } };
    this.#open().exec(`SAVEPOINT ${savepoint.name}`);
    this.#savepoints.push(savepoint);
    return savepoint;
  }

  // A closure may finish while a transaction it started (and did not await) is still open: its
  // savepoint cannot be released or rolled back under the inner one, so it waits for that one.
  #leaveInOrder(savepoint: Savepoint, commit: boolean): Promise<void> | void {
    if (this.#savepoints.at(-1) === savepoint || this.#closed) return this.#leave(savepoint, commit);
    return new Promise<void>((resolve) => (savepoint.finish = () => (this.#leave(savepoint, commit), resolve())));
  }

  #leave(savepoint: Savepoint, commit: boolean): void {
    if (this.#closed) return; // the object was reset or shut down while the transaction ran
    const index = this.#savepoints.lastIndexOf(savepoint);
    if (index !== this.#savepoints.length - 1) throw new Error(`internal: savepoint ${savepoint.name} left out of order`);
    const db = this.#open();
    if (!commit) {
      db.exec(`ROLLBACK TO ${savepoint.name}`);
      this.#kvStatements = undefined; // a rolled-back CREATE of an internal table must be redone
      this.#listStatements.clear();
      this.#alarmTable = false;
    }
    db.exec(`RELEASE ${savepoint.name}`);
    this.#savepoints.pop();
    const outer = this.#savepoints.at(-1);
    if (outer?.finish !== undefined) {
      const finish = outer.finish;
      outer.finish = undefined;
      finish();
    }
    if (this.#savepoints.length === 0) this.#location.onDirty(this); // an end-of-turn commit may have been skipped
  }

  // ---- alarms (api/alarms): one per object, stored in the object's own database ----

  /** The scheduled alarm time in ms since the epoch, or null. Null inside the alarm's own handler. */
  async getAlarm(options?: GetOptions): Promise<number | null> {
    checkOptions(options, "getAlarm", 1, "GetAlarmOptions");
    const time = this.storedAlarm();
    return time === this.#runningAlarm ? null : time;
  }

  /** Schedules `alarm()` at `time` (ms since the epoch or a Date), replacing any earlier alarm. */
  async setAlarm(time: number | Date, options?: PutOptions): Promise<void> {
    checkOptions(options, "setAlarm", 2, "SetAlarmOptions");
    const ms = time instanceof Date ? time.getTime() : time;
    if (typeof ms !== "number" || !Number.isFinite(ms)) {
      throw storageError(`setAlarm: expected a time in milliseconds since the epoch or a Date, got ${describeValue(time)}.`, TypeError);
    }
    if (ms <= 0) throw storageError("setAlarm() cannot be called with an alarm time <= 0. Pass Date.now() + delay.", TypeError);
    if (this.#location.hasAlarmHandler === false) {
      throw storageError("Your Durable Object class must have an alarm() handler in order to call setAlarm(). Add an alarm() method.", TypeError);
    }
    this.#ensureAlarmTable().prepare(`INSERT OR REPLACE INTO ${ALARM_TABLE} (id, time) VALUES (0, ?)`).run(Math.trunc(ms));
    this.#location.onAlarmChange?.(Math.trunc(ms));
  }

  async deleteAlarm(options?: PutOptions): Promise<void> {
    checkOptions(options, "deleteAlarm", 1, "SetAlarmOptions");
    if (this.storedAlarm() === null) return;
    this.#ensureAlarmTable().prepare(`DELETE FROM ${ALARM_TABLE}`).run();
    this.#location.onAlarmChange?.(null);
  }

  /** @internal the alarm row as stored, even while its handler runs. */
  storedAlarm(): number | null {
    if (!this.#hasAlarmTable()) return null;
    const row = this.#open().prepare(`SELECT time FROM ${ALARM_TABLE} WHERE id = 0`).get() as { time: number } | undefined;
    return row?.time ?? null;
  }

  /** @internal marks the alarm at `time` as running (getAlarm hides it) or finished (undefined). */
  markAlarmRunning(time: number | undefined): void {
    this.#runningAlarm = time;
  }

  /** @internal after a successful handler: removes the alarm unless the handler set a new one. */
  completeAlarm(time: number): void {
    this.#runningAlarm = undefined;
    if (this.storedAlarm() !== time) return;
    this.#ensureAlarmTable().prepare(`DELETE FROM ${ALARM_TABLE} WHERE time = ?`).run(time);
  }

  #hasAlarmTable(): boolean {
    this.#alarmTable ||= this.#open().prepare("SELECT 1 FROM sqlite_master WHERE name = ?").get(ALARM_TABLE) !== undefined;
    return this.#alarmTable;
  }

  // Internal tables appear on first use, as workerd's do, so a fresh object's schema is empty.
  #ensureAlarmTable(): Database.Database {
    this.#beginWrite();
    const db = this.#open();
    if (!this.#hasAlarmTable()) {
      db.exec(`CREATE TABLE IF NOT EXISTS ${ALARM_TABLE} (id INTEGER PRIMARY KEY CHECK (id = 0), time INTEGER NOT NULL)`);
      this.#alarmTable = true;
    }
    return db;
  }

  // ---- owner-facing ----

  /** Commits the implicit transaction, if one is open. Called by the isolate's output gate. */
  commit(): void {
    if (!this.#inTransaction || this.#savepoints.length > 0) return; // an explicit transaction is still open
    const db = this.#db!;
    try {
      db.exec("COMMIT");
    } finally {
      // A failed COMMIT (e.g. a deferred foreign key) may leave the transaction open: the owner
      // resets the object, and close({ rollback: true }) discards it.
      this.#inTransaction = db.inTransaction;
    }
  }

  /** Commits (or, with `rollback`, discards) pending writes and closes the database. */
  close(options: { rollback?: boolean } = {}): void {
    this.#closed = true;
    if (this.#db === undefined) return;
    try {
      if ((options.rollback === true || this.#savepoints.length > 0) && this.#inTransaction) {
        this.#inTransaction = false;
        if (this.#db.inTransaction) this.#db.exec("ROLLBACK");
      } else {
        this.commit();
      }
    } finally {
      this.#savepoints.length = 0;
      this.#db.close();
      this.#db = undefined;
      this.#kvStatements = undefined;
      this.#listStatements.clear();
    }
  }

  /** True when writes wait for commit() (the implicit transaction is open). */
  get hasUncommittedWrites(): boolean {
    return this.#inTransaction;
  }

  /** True while a transaction()/transactionSync() callback is running. */
  get inExplicitTransaction(): boolean {
    return this.#savepoints.length > 0;
  }

  // ---- internals ----

  #open(): Database.Database {
    if (this.#db !== undefined) return this.#db;
    if (this.#closed) {
      throw new SourdoughError(ErrorCode.STORAGE, "storage: this object was reset or shut down and its storage is closed. Call the object again through a stub.");
    }
    const file = this.#location.file;
    let db: Database.Database;
    try {
      if (file !== ":memory:") preparePrivateFile(file);
      db = new Database(file, { timeout: 2000 });
      if (file !== ":memory:" && this.#location.name !== undefined) recordName(file, this.#location.name);
    } catch (error) {
      throw openFailure(file, error);
    }
    try {
      // Small pages and a short WAL: each commit appends one page per changed page, and with
      // thousands of objects per isolate 4 KiB pages and the default 1000-page WAL add up to GBs
      // (measured: 1 KiB pages + 256-page checkpoints wrote 1.5x faster and kept WALs ≤ 256 KiB).
      // page_size only takes effect on a new database, before it switches to WAL.
      db.pragma("page_size = 1024");
      db.pragma("locking_mode = EXCLUSIVE");
      // Switching a new, empty database to WAL fsyncs; nothing of the user's is in it yet, so skip
      // that sync (measured: creation ~40% faster). From here on, commits use NORMAL.
      db.pragma("synchronous = OFF");
      db.pragma("journal_mode = WAL");
      db.pragma("synchronous = NORMAL"); // WAL: committed data survives a process crash (kill -9)
      db.pragma("wal_autocheckpoint = 256");
      db.pragma("journal_size_limit = 393216");
      db.exec("BEGIN EXCLUSIVE; COMMIT"); // take the exclusive lock now: one owner per file
    } catch (error) {
      db.close();
      throw openFailure(file, error);
    }
    this.#db = db;
    return db;
  }

  // The KV table's statements; the table is created by the first write (reads of a fresh object
  // find nothing without creating it), so a fresh object's schema is empty, as on workerd.
  #kv(create: true): ReturnType<typeof prepareKv>;
  #kv(create: false): ReturnType<typeof prepareKv> | undefined;
  #kv(create: boolean): ReturnType<typeof prepareKv> | undefined {
    if (this.#kvStatements !== undefined) return this.#kvStatements;
    const db = this.#open();
    if (db.prepare("SELECT 1 FROM sqlite_master WHERE name = ?").get(KV_TABLE) === undefined) {
      if (!create) return undefined;
      this.#beginWrite();
      db.exec(`CREATE TABLE IF NOT EXISTS ${KV_TABLE} (key TEXT PRIMARY KEY, value BLOB) WITHOUT ROWID`);
    }
    this.#kvStatements = prepareKv(db);
    return this.#kvStatements;
  }

  // list() has a handful of shapes (which bounds, order, limit): prepare each once.
  #listStatement(sql: string): Database.Statement {
    let stmt = this.#listStatements.get(sql);
    if (stmt === undefined) {
      stmt = this.#open().prepare(sql);
      this.#listStatements.set(sql, stmt);
    }
    return stmt;
  }

  #beginWrite(): void {
    if (this.#inTransaction) return;
    this.#open().exec("BEGIN");
    this.#inTransaction = true;
    this.#location.onDirty(this);
  }

  #get(key: unknown): unknown {
    const row = this.#kv(false)?.get.get(String(key)) as { value: Buffer } | undefined;
    return row === undefined ? undefined : deserializeValue(row.value);
  }

  #put(key: unknown, value: unknown): void {
    const k = String(key); // as workerd: keys are converted with String()
    const bytes = serializeValue(value, () => `storage.put(${describeValue(k)})`);
    const kv = this.#kv(true);
    this.#beginWrite();
    kv.put.run(k, bytes);
    this.bytesWritten += k.length + bytes.length;
  }

  #delete(key: unknown): boolean {
    const kv = this.#kv(false);
    if (kv === undefined) return false;
    this.#beginWrite();
    return kv.delete.run(String(key)).changes > 0;
  }

  *#list<T>(options: ListOptions): IterableIterator<[string, T]> {
    if (options.start !== undefined && options.startAfter !== undefined) {
      throw storageError("list() cannot be called with both start and startAfter values.", TypeError);
    }
    if (options.limit !== undefined && !(options.limit > 0)) throw storageError("List limit must be positive.", TypeError);
    const where: string[] = [];
    const args: unknown[] = [];
    if (options.start !== undefined) (where.push("key >= ?"), args.push(options.start));
    if (options.startAfter !== undefined) (where.push("key > ?"), args.push(options.startAfter));
    if (options.end !== undefined) (where.push("key < ?"), args.push(options.end));
    if (options.prefix !== undefined && options.prefix !== "") {
      where.push("key >= ?");
      args.push(options.prefix);
      const upper = prefixUpperBound(options.prefix);
      if (upper !== undefined) (where.push("key < ?"), args.push(upper));
    }
    let limit = "";
    if (options.limit !== undefined) {
      limit = " LIMIT ?";
      args.push(Math.floor(options.limit) || 1);
    }
    const order = options.reverse === true ? "DESC" : "ASC";
    if (this.#kv(false) === undefined) return;
    const sql = `SELECT key, value FROM ${KV_TABLE}${where.length ? ` WHERE ${where.join(" AND ")}` : ""} ORDER BY key ${order}${limit}`;
    const rows = this.#listStatement(sql).all(...args) as Array<{ key: string; value: Buffer }>;
    for (const row of rows) yield [row.key, deserializeValue(row.value) as T];
  }
}

interface Savepoint {
  readonly name: string;
  /** Set when the transaction finished while an inner one was open: runs once that one is left. */
  finish: (() => void) | undefined;
  /** transaction() calls made inside this one's closure: one runs at a time, the others wait. */
  readonly nested: TransactionQueue;
}

interface TransactionQueue {
  busy: boolean;
  waiting: Array<() => void>;
}

// Cloudflare's option bags: workerd checks that the argument is an object (or null/undefined) and
// reads the members it knows without checking their types.
function checkOptions(options: unknown, op: string, position: number, type: string): void {
  if (options === undefined || options === null || typeof options === "object") return;
  throw storageError(`storage.${op}: parameter ${position} is not of type '${type}' (got ${describeValue(options)}). Pass an options object, e.g. { allowConcurrency: true }, or nothing.`, TypeError);
}

function prepareKv(db: Database.Database) {
  return {
    get: db.prepare(`SELECT value FROM ${KV_TABLE} WHERE key = ?`),
    put: db.prepare(`INSERT OR REPLACE INTO ${KV_TABLE} (key, value) VALUES (?, ?)`),
    delete: db.prepare(`DELETE FROM ${KV_TABLE} WHERE key = ?`),
  };
}

// Cloudflare documents at most 128 keys per call; workerd accepts more (see docs/compatibility.md).
function checkKeyCount(keys: unknown[], op: string): void {
  if (keys.length > MAX_KEYS) {
    throw storageError(`storage.${op}: ${keys.length} keys given; at most ${MAX_KEYS} per call (Cloudflare's documented limit). Split the call.`, RangeError);
  }
}

// Strings compare by UTF-8 bytes in SQLite (BINARY collation); code point order is the same order.
function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

// The smallest string greater than every string that starts with `prefix`, in code point order.
function prefixUpperBound(prefix: string): string | undefined {
  const points = [...prefix].map((c) => c.codePointAt(0)!);
  while (points.length > 0) {
    const last = points.pop()!;
    let next = last + 1;
    if (next === 0xd800) next = 0xe000; // skip the surrogate range
    if (next <= 0x10ffff) return String.fromCodePoint(...points, next);
  }
  return undefined;
}

function isThenable(value: unknown): boolean {
  return value !== null && typeof value === "object" && typeof (value as { then?: unknown }).then === "function";
}
