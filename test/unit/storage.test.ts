// Cloudflare's SQLite-backed Durable Object storage API, rule by rule, on one ObjectStorage over a
// real SQLite file. Test names cite the section of developers.cloudflare.com/durable-objects/api/
// storage-api (and sql-storage) they check.
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ObjectStorage } from "../../runtime/storage/object-storage.ts";
import { splitSql } from "../../runtime/storage/split-sql.ts";

let dir: string;
let storage: ObjectStorage;
const open = () => new ObjectStorage({ file: path.join(dir, "o.sqlite"), onDirty: () => {} });
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "sourdough-storage-"));
  storage = open();
});
afterEach(() => {
  storage.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("storage-api: synchronous KV (ctx.storage.kv)", () => {
  it("get returns undefined for a missing key; put/get round-trips structured-clone values", () => {
    expect(storage.kv.get("missing")).toBeUndefined();
    const value = { d: new Date(3), m: new Map([[1, new Set([2])]]), b: 10n ** 30n, u: undefined, n: null, bytes: new Uint8Array([7]) };
    storage.kv.put("v", value);
    expect(storage.kv.get("v")).toEqual(value);
    storage.kv.put("null", null);
    expect(storage.kv.get("null")).toBeNull();
  });

  it("delete returns whether the key existed", () => {
    storage.kv.put("k", 1);
    expect(storage.kv.delete("k")).toBe(true);
    expect(storage.kv.delete("k")).toBe(false);
  });

  const keys = ["a", "aa", "ab", "b", "B", "ä", "\u{1F600}", "z", "%", "_x"];
  const list = (options: Parameters<ObjectStorage["kv"]["list"]>[0]) => [...storage.kv.list(options)].map(([k]) => k);
  it("list orders keys by UTF-8 byte order, not locale", () => {
    for (const k of keys) storage.kv.put(k, k);
    expect(list({})).toEqual(["%", "B", "_x", "a", "aa", "ab", "b", "z", "ä", "\u{1F600}"]);
  });

  it.each([
    { given: { start: "aa" }, want: ["aa", "ab", "b", "z", "ä", "\u{1F600}"] },
    { given: { startAfter: "aa" }, want: ["ab", "b", "z", "ä", "\u{1F600}"] },
    { given: { end: "b" }, want: ["%", "B", "_x", "a", "aa", "ab"] },
    { given: { start: "a", end: "b" }, want: ["a", "aa", "ab"] },
    { given: { prefix: "a" }, want: ["a", "aa", "ab"] },
    { given: { prefix: "_" }, want: ["_x"] },
    { given: { prefix: "%" }, want: ["%"] },
    { given: { prefix: "A" }, want: [] },
    { given: { limit: 2 }, want: ["%", "B"] },
    { given: { reverse: true, limit: 2 }, want: ["\u{1F600}", "ä"] },
    { given: { start: "a", end: "b", reverse: true }, want: ["ab", "aa", "a"] },
    { given: { prefix: "a", reverse: true, limit: 2 }, want: ["ab", "aa"] },
  ])("list($given): start/end bound the range, prefix is literal, reverse only flips order", ({ given, want }) => {
    for (const k of keys) storage.kv.put(k, k);
    expect(list(given)).toEqual(want);
  });
});

describe("storage-api: asynchronous KV", () => {
  it("get(keys) returns a Map of the keys that exist, sorted by byte order", async () => {
    await storage.put({ b: 2, a: 1, "\u00e9": 3 });
    const got = await storage.get(["\u00e9", "missing", "b", "a"]);
    expect([...got]).toEqual([["a", 1], ["b", 2], ["\u00e9", 3]]);
  });

  it("delete(keys) returns the number deleted; deleteAll removes everything", async () => {
    await storage.put({ a: 1, b: 2 });
    expect(await storage.delete(["a", "b", "c"])).toBe(2);
    await storage.put("c", 3);
    storage.sql.exec("CREATE TABLE t (x)");
    await storage.deleteAll();
    expect([...(await storage.list())]).toEqual([]);
    expect(storage.sql.exec("SELECT name FROM sqlite_master WHERE name = 't'").toArray()).toEqual([]);
  });

  it("refuses more than 128 keys per call", async () => {
    const many = Array.from({ length: 129 }, (_, i) => `k${i}`);
    await expect(storage.get(many)).rejects.toThrow(/129 keys given; at most 128 per call/);
    await expect(storage.delete(many)).rejects.toThrow(/at most 128/);
    await expect(storage.put(Object.fromEntries(many.map((k) => [k, 1])))).rejects.toThrow(/at most 128/);
  });

  it("converts non-string keys with String(), as workerd does", () => {
    storage.kv.put(1 as unknown as string, "one");
    expect(storage.kv.get("1")).toBe("one");
  });

  it("refuses put(key, undefined) in the async API with a TypeError (workerd)", async () => {
    await expect(storage.put("k", undefined)).rejects.toThrow(TypeError);
    storage.kv.put("k", undefined); // the synchronous API stores it
    expect([...storage.kv.list()]).toEqual([["k", undefined]]);
  });

  it.each([
    { given: { start: "a", startAfter: "a" }, want: /both start and startAfter/ },
    { given: { limit: 0 }, want: /limit must be positive/ },
    { given: { limit: -1 }, want: /limit must be positive/ },
  ])("list($given) throws a TypeError (storage-api#list)", ({ given, want }) => {
    expect(() => [...storage.kv.list(given)]).toThrow(want);
    expect(() => [...storage.kv.list(given)]).toThrow(TypeError);
  });

  it("keeps what structured clone keeps: lone surrogates, -0, holes, typed-array views", () => {
    const view = new Uint8Array(new ArrayBuffer(8), 2, 2);
    storage.kv.put("v", { s: "a\uD800b", z: -0, holes: [, "x"], view });
    const back = storage.kv.get<{ s: string; z: number; holes: unknown[]; view: Uint8Array }>("v")!;
    expect(back.s).toBe("a\uD800b");
    expect(Object.is(back.z, -0)).toBe(true);
    expect(0 in back.holes).toBe(false);
    expect([back.view.byteOffset, back.view.buffer.byteLength]).toEqual([2, 8]);
  });

  it("refuses values that cannot be cloned with a DataCloneError", () => {
    expect(() => storage.kv.put("f", { f: () => 1 })).toThrow(expect.objectContaining({ name: "DataCloneError" }));
  });
});

describe("storage-api: transactions", () => {
  it("transactionSync commits the callback's writes and returns its result", () => {
    expect(storage.transactionSync(() => (storage.kv.put("a", 1), 42))).toBe(42);
    expect(storage.kv.get("a")).toBe(1);
  });

  it("transactionSync rolls back when the callback throws, and rethrows", () => {
    storage.kv.put("kept", 1);
    expect(() =>
      storage.transactionSync(() => {
        storage.kv.put("gone", 2);
        storage.sql.exec("CREATE TABLE t (x)");
        throw new Error("abort");
      }),
    ).toThrow("abort");
    expect(storage.kv.get("gone")).toBeUndefined();
    expect(storage.kv.get("kept")).toBe(1);
    expect(storage.sql.exec("SELECT count(*) AS n FROM sqlite_master WHERE name = 't'").one()).toEqual({ n: 0 });
  });

  it("transaction rolls back on throw and on txn.rollback(), and nests", async () => {
    await expect(storage.transaction(async (txn) => (await txn.put("x", 1), Promise.reject(new Error("no"))))).rejects.toThrow("no");
    expect(await storage.get("x")).toBeUndefined();
    await storage.transaction(async (txn) => {
      await txn.put("y", 1);
      txn.rollback();
    });
    expect(await storage.get("y")).toBeUndefined();
    await storage.transaction(async (txn) => {
      await txn.put("outer", 1);
      await storage.transaction(async (inner) => (await inner.put("inner", 1), inner.rollback()));
    });
    expect(await storage.get("outer")).toBe(1);
    expect(await storage.get("inner")).toBeUndefined();
  });

  it("writes survive close and reopen once committed", () => {
    storage.kv.put("durable", "yes");
    storage.commit();
    storage.close();
    storage = open();
    expect(storage.kv.get("durable")).toBe("yes");
  });
});

describe("sql-storage: exec and cursors", () => {
  it("returns a cursor: iterable, toArray, one, raw, columnNames, rowsWritten", () => {
    const sql = storage.sql;
    sql.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, data BLOB)");
    expect(sql.exec("INSERT INTO t (name, data) VALUES (?, ?), (?, ?)", "a", new Uint8Array([1]).buffer, "b", null).rowsWritten).toBe(2);
    const cursor = sql.exec("SELECT id, name FROM t ORDER BY id");
    expect(cursor.columnNames).toEqual(["id", "name"]);
    expect(cursor.next()).toEqual({ done: false, value: { id: 1, name: "a" } });
    expect([...cursor]).toEqual([{ id: 2, name: "b" }]);
    expect(cursor.rowsRead).toBe(2);
    expect([...sql.exec("SELECT id, name FROM t ORDER BY id").raw()]).toEqual([[1, "a"], [2, "b"]]);
    expect(sql.exec("SELECT name FROM t WHERE id = ?", 2).one()).toEqual({ name: "b" });
    expect(() => sql.exec("SELECT name FROM t").one()).toThrow(/Expected exactly one result from SQL query, but got multiple results/);
    expect(() => sql.exec("SELECT name FROM t WHERE 0").one()).toThrow(/but got no results/);
    expect(sql.exec("SELECT id FROM t ORDER BY id").raw().toArray()).toEqual([[1], [2]]);
    expect(sql.exec("INSERT INTO t (name) VALUES ('c'), ('d') RETURNING id").rowsWritten).toBe(2);
    expect(sql.exec("SELECT data FROM t WHERE id = 1").one().data).toBeInstanceOf(ArrayBuffer);
  });

  it("runs several statements and returns the last one's rows; only the last may take bindings", () => {
    const cursor = storage.sql.exec("CREATE TABLE m (v); INSERT INTO m VALUES (1); INSERT INTO m VALUES (2); SELECT v FROM m WHERE v > ?", 1);
    expect(cursor.toArray()).toEqual([{ v: 2 }]);
    expect(() => storage.sql.exec("INSERT INTO m VALUES (?); SELECT 1", 3)).toThrow(/only the last statement can have parameters/);
    const trigger = storage.sql.exec(
      "CREATE TABLE log (v); CREATE TRIGGER tr AFTER INSERT ON m BEGIN INSERT INTO log VALUES (new.v); SELECT CASE WHEN 1 THEN 1 END; END; INSERT INTO m VALUES (';'); SELECT v FROM log",
    );
    expect(trigger.toArray()).toEqual([{ v: ";" }]);
  });

  it("carries SQLite's error message", () => {
    expect(() => storage.sql.exec("SELEC 1")).toThrow(/near "SELEC": syntax error/);
    expect(() => storage.sql.exec("SELECT * FROM nowhere")).toThrow(/no such table: nowhere/);
  });

  it.each(["BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT x", "  begin transaction", "/* c */ BEGIN", "-- c\nROLLBACK"])(
    "refuses %s, which would break the implicit transaction",
    (statement) => {
      expect(() => storage.sql.exec(statement)).toThrow(/To execute a transaction, use ctx.storage.transaction\(\)/);
    },
  );

  it.each(["ATTACH 'x.db' AS x", "PRAGMA journal_mode = DELETE", "PRAGMA synchronous = OFF", "PRAGMA user_version", "CREATE TEMP TABLE t (x)", "VACUUM"])(
    "refuses %s as workerd's authorizer does",
    (statement) => {
      expect(() => storage.sql.exec(statement)).toThrow(/not authorized: SQLITE_AUTH/);
    },
  );

  it("binds numbered and named parameters positionally, and values as workerd converts them", () => {
    expect(storage.sql.exec("SELECT ?1 AS a, ?1 AS b, :x AS c, @y AS d", 7, 8, 9).one()).toEqual({ a: 7, b: 7, c: 8, d: 9 });
    expect(storage.sql.exec("SELECT ? AS t, ? AS n", true, undefined).one()).toEqual({ t: "true", n: null });
    expect(() => storage.sql.exec("SELECT ?", 1n)).toThrow(TypeError);
  });

  it("hides the KV table from SQL, but not the text _cf_ elsewhere", () => {
    storage.kv.put("secret", 1);
    expect(() => storage.sql.exec("SELECT * FROM _cf_KV")).toThrow(/access to _cf_kv is prohibited: SQLITE_AUTH/);
    expect(() => storage.sql.exec('DELETE FROM "_cf_KV"')).toThrow(/prohibited/);
    expect(storage.sql.exec("SELECT '_cf_KV' AS name, 1 AS _cf_col").one()).toEqual({ name: "_cf_KV", _cf_col: 1 });
  });

  it("creates its internal tables on first use, so a fresh object's schema is empty", () => {
    expect(storage.kv.get("nothing")).toBeUndefined();
    expect(storage.sql.exec("SELECT name FROM sqlite_master").toArray()).toEqual([]);
  });

  it("reports databaseSize in bytes", () => {
    expect(storage.sql.databaseSize).toBeGreaterThan(0);
  });
});

describe("splitSql", () => {
  it.each([
    { given: "SELECT 1", want: ["SELECT 1"] },
    { given: "SELECT 1; SELECT 2;", want: ["SELECT 1", "SELECT 2"] },
    { given: "SELECT ';' ; SELECT \"a;b\"", want: ["SELECT ';'", 'SELECT "a;b"'] },
    { given: "SELECT 1 -- ; no\n; SELECT /* ; */ 2", want: ["SELECT 1 -- ; no", "SELECT /* ; */ 2"] },
    { given: "  ;  ; ", want: [] },
    { given: "CREATE TRIGGER t AFTER INSERT ON x BEGIN SELECT 1; SELECT 2; END; SELECT 3", want: ["CREATE TRIGGER t AFTER INSERT ON x BEGIN SELECT 1; SELECT 2; END", "SELECT 3"] },
  ])("splits $given", ({ given, want }) => {
    expect(splitSql(given).map((s) => s.text)).toEqual(want);
  });

  it("finds parameters outside quotes and comments", () => {
    expect(splitSql("SELECT ?, '?', ?2 -- ?\n; SELECT :x").map((s) => s.parameters.map((p) => p.key))).toEqual([[undefined, 2], [":x"]]);
  });
});
