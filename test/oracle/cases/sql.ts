// ctx.storage.sql: exec() and its cursor, bindings in and values out, several statements in one
// exec, SQLite's errors, statements the runtime refuses, the hidden KV table, and databaseSize.
import type { OracleCase } from "../cases.ts";
import { tag, type Json, type Op, type SqlRead } from "../ops.ts";
import { DOC } from "./docs.ts";

type SqlOp = Extract<Op, { op: "sql" }>;
const sql = (query: string, bindings: Json[] = [], read?: SqlRead, messageIncludes?: string): SqlOp => ({
  op: "sql",
  query,
  bindings,
  ...(read === undefined ? {} : { read }),
  ...(messageIncludes === undefined ? {} : { messageIncludes }),
});
// The same, also reporting the cursor's rowsRead and rowsWritten after it was read.
const counted = (query: string, bindings: Json[] = [], read?: SqlRead): SqlOp => ({ ...sql(query, bindings, read), counters: true });
const fiveRows: Op = sql("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, n INTEGER); INSERT INTO t (name, n) VALUES ('a', 1), ('b', 2), ('c', 3), ('d', 4), ('e', 5)");

// Statements a Durable Object may not run through exec(), or may: the oracle records which.
const CONTROL_STATEMENTS = [
  "BEGIN",
  "BEGIN TRANSACTION",
  "begin immediate",
  "/* comment */ BEGIN",
  "-- comment\nBEGIN",
  "COMMIT",
  "END",
  "ROLLBACK",
  "SAVEPOINT sp",
  "RELEASE sp",
  "ATTACH DATABASE ':memory:' AS other",
  "DETACH other",
  "VACUUM",
  "ANALYZE",
  "REINDEX",
  "CREATE TEMP TABLE tmp (x)",
];
const PRAGMAS = [
  "PRAGMA journal_mode",
  "PRAGMA journal_mode = DELETE",
  "PRAGMA synchronous",
  "PRAGMA synchronous = OFF",
  "PRAGMA locking_mode = NORMAL",
  "PRAGMA foreign_keys",
  "PRAGMA foreign_keys = ON",
  "PRAGMA defer_foreign_keys = ON",
  "PRAGMA table_info(t)",
  "PRAGMA table_list",
  "PRAGMA index_list(t)",
  "PRAGMA user_version",
  "PRAGMA user_version = 3",
  "PRAGMA integrity_check",
  "PRAGMA quick_check",
  "PRAGMA page_size",
  "PRAGMA page_count",
  "PRAGMA optimize",
  "PRAGMA case_sensitive_like = ON",
  "PRAGMA writable_schema = ON",
  "PRAGMA query_only = ON",
  "PRAGMA wal_checkpoint",
];

const BINDINGS: Array<{ name: string; value: Json }> = [
  { name: "integer", value: 5 },
  { name: "float", value: 1.5 },
  { name: "2^53", value: 2 ** 53 },
  { name: "string", value: "s" },
  { name: "null", value: null },
  { name: "true", value: true },
  { name: "bigint", value: tag.bigint("7") },
  { name: "undefined", value: tag.undefined },
  { name: "ArrayBuffer", value: tag.arrayBuffer([1, 2]) },
  { name: "Uint8Array", value: tag.view("Uint8Array", [1, 2]) },
  { name: "Date", value: tag.date(0) },
  { name: "object", value: tag.object({ a: 1 }) },
  { name: "NaN", value: tag.number("NaN") },
];

export const SQL_CASES: OracleCase[] = [
  {
    name: "exec: insert with bindings, select with toArray, columnNames, rowsRead, rowsWritten",
    doc: DOC.cursor,
    ops: [
      sql("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, data BLOB)", [], "none"),
      counted("INSERT INTO t (name, data) VALUES (?, ?), (?, ?)", ["a", tag.arrayBuffer([1]), "b", null]),
      counted("SELECT id, name, data FROM t ORDER BY id"),
    ],
  },
  { name: "cursor: one() with exactly one row", doc: DOC.cursor, ops: [fiveRows, sql("SELECT name FROM t WHERE id = ?", [2], "one")] },
  { name: "cursor: one() with no row throws", doc: DOC.cursor, ops: [fiveRows, sql("SELECT name FROM t WHERE id = 99", [], "one")] },
  { name: "cursor: one() with two rows throws", doc: DOC.cursor, ops: [fiveRows, sql("SELECT name FROM t WHERE id <= 2", [], "one")] },
  { name: "cursor: raw() yields arrays of column values", doc: DOC.cursor, ops: [fiveRows, sql("SELECT id, name FROM t WHERE id <= 2 ORDER BY id", [], "raw")] },
  { name: "cursor: raw().toArray()", doc: DOC.cursor, ops: [fiveRows, sql("SELECT id, name FROM t WHERE id <= 2 ORDER BY id", [], "rawToArray")] },
  { name: "cursor: for...of iteration", doc: DOC.cursor, ops: [fiveRows, sql("SELECT id FROM t ORDER BY id DESC", [], "iterate")] },
  { name: "cursor: next() until done", doc: DOC.cursor, ops: [fiveRows, sql("SELECT id FROM t WHERE id <= 2 ORDER BY id", [], "next")] },
  { name: "cursor: rowsRead counts rows scanned, not rows returned", doc: DOC.cursor, ops: [fiveRows, counted("SELECT name FROM t WHERE n = 4"), counted("SELECT count(*) AS c FROM t")] },
  { name: "cursor: rowsRead of a primary-key lookup", doc: DOC.cursor, ops: [fiveRows, counted("SELECT name FROM t WHERE id = 3")] },
  {
    name: "cursor: rowsWritten counts index updates",
    doc: DOC.cursor,
    ops: [fiveRows, sql("CREATE INDEX t_n ON t (n)"), counted("UPDATE t SET n = n + 10 WHERE id <= 2"), counted("DELETE FROM t WHERE id = 5"), counted("INSERT INTO t (name, n) VALUES ('f', 6)")],
  },
  { name: "cursor: INSERT ... RETURNING", doc: DOC.cursor, ops: [fiveRows, counted("INSERT INTO t (name, n) VALUES ('x', 10), ('y', 11) RETURNING id, name")] },
  {
    name: "cursor: a write runs even if its cursor is never read",
    doc: DOC.cursor,
    ops: [fiveRows, sql("INSERT INTO t (name, n) VALUES ('z', 9)", [], "none"), sql("UPDATE t SET n = 0 WHERE id = 1", [], "none"), sql("SELECT n FROM t WHERE name = 'z' OR id = 1 ORDER BY id")],
  },
  { name: "cursor: columnNames of an empty result", doc: DOC.cursor, ops: [fiveRows, sql("SELECT id AS first, name AS second FROM t WHERE 0", [], "none")] },
  { name: "cursor: columnNames of a write", doc: DOC.cursor, ops: [fiveRows, sql("UPDATE t SET n = 1", [], "none")] },
  { name: "cursor: duplicate column names", doc: DOC.cursor, ops: [sql("SELECT 1 AS a, 2 AS a"), sql("SELECT 1 AS a, 2 AS a", [], "raw")] },
  { name: "cursor: expression column names", doc: DOC.cursor, ops: [sql("SELECT 1 + 1, ?, 'x' || 'y'", [3])] },
  {
    name: "exec: several statements return the last statement's rows",
    doc: DOC.exec,
    ops: [sql("CREATE TABLE m (v); INSERT INTO m VALUES (1); INSERT INTO m VALUES (2); SELECT v FROM m ORDER BY v"), sql("SELECT 1 AS one; SELECT 2 AS two")],
  },
  { name: "exec: several statements report rowsWritten", doc: DOC.exec, ops: [counted("CREATE TABLE m (v); INSERT INTO m VALUES (1), (2); UPDATE m SET v = v + 1", [], "none")] },
  { name: "exec: with several statements, bindings go to the last one (as documented)", doc: DOC.exec, ops: [sql("CREATE TABLE m (v); INSERT INTO m VALUES (1), (2); SELECT v FROM m WHERE v > ?", [1])] },
  {
    name: "exec: placeholders in earlier statements",
    doc: DOC.exec,
    ops: [sql("CREATE TABLE m (v); INSERT INTO m VALUES (?); INSERT INTO m VALUES (?); SELECT v FROM m WHERE v > ?", [1, 2, 1]), sql("SELECT v FROM m ORDER BY v")],
  },
  { name: "exec: a trailing semicolon", doc: DOC.exec, ops: [sql("SELECT 1 AS x;"), sql("SELECT 2 AS x;  ")] },
  {
    name: "exec: a failing later statement keeps the earlier statements' effects",
    doc: DOC.exec,
    ops: [sql("CREATE TABLE m (v)"), sql("INSERT INTO m VALUES (1); INSERT INTO nowhere VALUES (2); INSERT INTO m VALUES (3)", [], undefined, "no such table: nowhere"), sql("SELECT v FROM m")],
  },
  { name: "exec: an empty query", doc: DOC.exec, ops: [sql("")] },
  { name: "exec: a query of only whitespace and a comment", doc: DOC.exec, ops: [sql("  -- nothing\n")] },
  { name: "exec: a trigger body with semicolons", doc: DOC.exec, ops: [sql("CREATE TABLE m (v); CREATE TABLE log (v); CREATE TRIGGER tr AFTER INSERT ON m BEGIN INSERT INTO log VALUES (new.v); END; INSERT INTO m VALUES (';'); SELECT v FROM log")] },
  { name: "SQL error: syntax error carries SQLite's message", doc: DOC.exec, ops: [sql("SELEC 1", [], undefined, 'near "SELEC": syntax error')] },
  { name: "SQL error: no such table", doc: DOC.exec, ops: [sql("SELECT * FROM nowhere", [], undefined, "no such table: nowhere")] },
  { name: "SQL error: no such column", doc: DOC.exec, ops: [fiveRows, sql("SELECT nope FROM t", [], undefined, "no such column: nope")] },
  { name: "SQL error: UNIQUE constraint", doc: DOC.exec, ops: [fiveRows, sql("INSERT INTO t (id, name) VALUES (1, 'dup')", [], undefined, "UNIQUE constraint failed: t.id")] },
  { name: "SQL error: NOT NULL constraint", doc: DOC.exec, ops: [sql("CREATE TABLE nn (x NOT NULL)"), sql("INSERT INTO nn VALUES (NULL)", [], undefined, "NOT NULL constraint failed: nn.x")] },
  { name: "SQL error: too many bindings", doc: DOC.exec, ops: [sql("SELECT ? AS a", [1, 2])] },
  { name: "SQL error: too few bindings", doc: DOC.exec, ops: [sql("SELECT ? AS a, ? AS b", [1])] },
  { name: "SQL: numbered and named parameters", doc: DOC.exec, ops: [sql("SELECT ?1 AS a, ?1 AS b", [7]), sql("SELECT :x AS a", [7]), sql("SELECT $x AS a", [7]), sql("SELECT @x AS a", [7])] },
  ...BINDINGS.map(({ name, value }): OracleCase => ({
    name: `SQL binding: ${name}`,
    doc: DOC.exec,
    ops: [sql("SELECT typeof(?) AS type, ? AS value", [value, value])],
  })),
  {
    name: "SQL values out: integers beyond 2^53, reals, blobs, NULL, text",
    doc: DOC.cursor,
    ops: [sql("SELECT 9007199254740993 AS big, 1.0 AS real, 1e308 * 10 AS inf, x'00ff' AS blob, NULL AS nul, 'text' AS t, -0.0 AS negzero")],
  },
  { name: "SQL: a 3 MB blob", doc: DOC.limits, ops: [sql("CREATE TABLE b (x); INSERT INTO b VALUES (zeroblob(3000000))"), sql("SELECT length(x) AS n FROM b")] },
  { name: "SQL limit: 100 bound parameters", doc: DOC.limits, ops: [sql(`SELECT ${Array.from({ length: 100 }, () => "?").join(", ")}`, Array.from({ length: 100 }, (_, i) => i), "raw")] },
  { name: "SQL limit: 101 bound parameters", doc: DOC.limits, ops: [sql(`SELECT ${Array.from({ length: 101 }, () => "?").join(", ")}`, Array.from({ length: 101 }, (_, i) => i), "raw")] },
  { name: "SQL limit: 101 columns in a table", doc: DOC.limits, ops: [sql(`CREATE TABLE wide (${Array.from({ length: 101 }, (_, i) => `c${i}`).join(", ")})`)] },
  { name: "SQL limit: a statement over 100 KB", doc: DOC.limits, ops: [sql(`SELECT '${"x".repeat(100_001)}' AS long`, [], "none")] },
  { name: "SQL limit: a LIKE pattern over 50 bytes", doc: DOC.limits, ops: [sql(`SELECT 'a' LIKE '${"%".repeat(51)}' AS m`)] },
  { name: "SQL: JSON functions", doc: DOC.exec, ops: [sql(`SELECT json_extract('{"a":[1,2]}', '$.a[1]') AS v, json_array(1, 'x') AS arr`)] },
  { name: "SQL: FTS5 virtual table", doc: DOC.exec, ops: [sql("CREATE VIRTUAL TABLE docs USING fts5(body); INSERT INTO docs VALUES ('hello world'); SELECT body FROM docs WHERE docs MATCH 'hello'")] },
  { name: "SQL: a foreign key violation", doc: DOC.exec, ops: [sql("CREATE TABLE p (id INTEGER PRIMARY KEY); CREATE TABLE c (pid REFERENCES p(id))"), sql("INSERT INTO c VALUES (1)")] },
  ...CONTROL_STATEMENTS.map((statement): OracleCase => ({
    name: `refused or allowed: ${statement.replaceAll("\n", "\\n")}`,
    doc: DOC.exec,
    ops: [sql("CREATE TABLE t (x)"), sql(statement), sql("SELECT 1 AS still_works")],
  })),
  ...PRAGMAS.map((statement): OracleCase => ({
    name: `refused or allowed: ${statement}`,
    doc: DOC.exec,
    ops: [sql("CREATE TABLE t (x)"), sql(statement)],
  })),
  {
    name: "refused or allowed: a comment before BEGIN, as an object's first statement",
    doc: DOC.exec,
    ops: [sql("/* comment */ BEGIN"), { op: "kv.put", key: "a", value: 1 }, sql("CREATE TABLE t (x)"), { op: "kv.list" }],
  },
  {
    name: "refused or allowed: a comment before COMMIT, after a write",
    doc: DOC.exec,
    ops: [{ op: "kv.put", key: "a", value: 1 }, sql("/* comment */ COMMIT"), { op: "kv.put", key: "b", value: 2 }, { op: "kv.list" }],
  },
  {
    name: "refused or allowed: a comment before ROLLBACK, after a write",
    doc: DOC.exec,
    ops: [{ op: "kv.put", key: "a", value: 1 }, sql("-- comment\nROLLBACK"), { op: "kv.put", key: "b", value: 2 }, { op: "kv.list" }],
  },
  { name: "sqlite_master of a fresh object", doc: DOC.exec, ops: [sql("SELECT type, name FROM sqlite_master")] },
  {
    name: "sqlite_master lists the user's tables",
    doc: DOC.exec,
    ops: [{ op: "kv.put", key: "k", value: 1 }, sql("CREATE TABLE mine (x)"), sql("SELECT type, name FROM sqlite_master WHERE name NOT LIKE '\\_cf\\_%' ESCAPE '\\' ORDER BY name")],
  },
  { name: "hidden KV table: SELECT from _cf_KV is refused", doc: DOC.exec, ops: [{ op: "kv.put", key: "secret", value: 1 }, sql("SELECT * FROM _cf_KV")] },
  { name: "hidden KV table: DELETE from \"_cf_KV\" is refused", doc: DOC.exec, ops: [{ op: "kv.put", key: "secret", value: 1 }, sql('DELETE FROM "_cf_KV"'), { op: "kv.get", key: "secret" }] },
  { name: "hidden KV table: CREATE TABLE _cf_mine is refused", doc: DOC.exec, ops: [sql("CREATE TABLE _cf_mine (x)")] },
  { name: "hidden KV table: _cf_ in a string literal or column alias is not a table", doc: DOC.exec, ops: [sql("SELECT '_cf_KV' AS name"), sql("SELECT 1 AS _cf_col")] },
  {
    name: "hidden KV table: what sqlite_master shows",
    doc: DOC.exec,
    ops: [{ op: "kv.put", key: "k", value: 1 }, { op: "setAlarm", time: Date.UTC(2099, 0, 1) }, sql("CREATE TABLE mine (x)"), sql("SELECT type, name FROM sqlite_master ORDER BY name")],
  },
  { name: "databaseSize is a positive number", doc: DOC.databaseSize, ops: [{ op: "databaseSize" }, fiveRows, { op: "databaseSize" }] },
];
