// Asynchronous KV on ctx.storage: get/put/delete of one key or many, the 128-key limit, deleteAll,
// sync(), and write coalescing (a put that is not awaited is visible at once).
import type { OracleCase } from "../cases.ts";
import type { Json } from "../ops.ts";
import { DOC } from "./docs.ts";

const keys = (n: number, prefix = "k"): string[] => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(3, "0")}`);
const entries = (n: number): { [key: string]: Json } => Object.fromEntries(keys(n).map((k, i) => [k, i]));

export const ASYNC_KV_CASES: OracleCase[] = [
  {
    name: "get of a missing key resolves undefined; put, get, delete",
    doc: DOC.asyncGet,
    ops: [
      { op: "get", key: "missing" },
      { op: "put", key: "k", value: "v" },
      { op: "get", key: "k" },
      { op: "delete", key: "k" },
      { op: "delete", key: "k" },
      { op: "get", key: "k" },
    ],
  },
  {
    name: "get(keys) returns a Map sorted by UTF-8 bytes, omitting missing keys",
    doc: DOC.asyncGet,
    ops: [
      { op: "putEntries", entries: { b: 2, a: 1, "\u00e9": 3, "\u{1F600}": 4, "\uFF21": 5, B: 6 } },
      { op: "get", key: ["\u{1F600}", "\uFF21", "\u00e9", "missing", "b", "a", "B"] },
    ],
  },
  { name: "get(keys) with a key given twice", doc: DOC.asyncGet, ops: [{ op: "put", key: "a", value: 1 }, { op: "get", key: ["a", "a"] }] },
  { name: "get([]) is an empty Map", doc: DOC.asyncGet, ops: [{ op: "get", key: [] }] },
  {
    name: "put(entries) stores every entry",
    doc: DOC.asyncPut,
    ops: [{ op: "putEntries", entries: { x: 1, y: { nested: [true] }, z: null } }, { op: "list" }],
  },
  { name: "put(entries) with no entries", doc: DOC.asyncPut, ops: [{ op: "putEntries", entries: {} }, { op: "list" }] },
  {
    name: "delete(keys) counts the keys that existed (missing and repeated keys)",
    doc: DOC.asyncDelete,
    ops: [{ op: "putEntries", entries: { a: 1, b: 2, c: 3 } }, { op: "delete", key: ["a", "b", "missing", "a"] }, { op: "list" }, { op: "delete", key: [] }],
  },
  {
    name: "128 keys per call are allowed for get, put(entries) and delete",
    doc: DOC.asyncGet,
    ops: [
      { op: "putEntries", entries: entries(128) },
      { op: "get", key: keys(128).slice(0, 3) },
      { op: "get", key: keys(128) },
      { op: "delete", key: keys(128) },
      { op: "list", options: { limit: 1 } },
    ],
  },
  { name: "get of 129 keys (docs: up to 128 per call)", doc: DOC.asyncGet, ops: [{ op: "get", key: keys(129) }] },
  { name: "put of 129 entries (docs: up to 128 per call)", doc: DOC.asyncPut, ops: [{ op: "putEntries", entries: entries(129) }, { op: "list", options: { limit: 2 } }] },
  {
    name: "delete of 129 keys (docs: up to 128 per call)",
    doc: DOC.asyncDelete,
    ops: [{ op: "put", key: "k000", value: 0 }, { op: "delete", key: keys(129) }, { op: "get", key: "k000" }],
  },
  {
    name: "list has no 128-key limit",
    doc: DOC.asyncList,
    ops: [
      { op: "putEntries", entries: entries(100) },
      { op: "putEntries", entries: Object.fromEntries(keys(100, "m").map((k) => [k, 0])) },
      { op: "sql", query: "SELECT 1 AS ok" },
      { op: "list", options: { limit: 3, reverse: true } },
      { op: "kv.list", options: { start: "k098", limit: 4 } },
    ],
  },
  {
    name: "deleteAll removes every key and every SQL table, index, view and trigger",
    doc: DOC.deleteAll,
    ops: [
      { op: "putEntries", entries: { a: 1, b: 2 } },
      { op: "sql", query: "CREATE TABLE t (x); CREATE INDEX t_x ON t (x); CREATE VIEW v AS SELECT x FROM t; CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; END; INSERT INTO t VALUES (1)" },
      { op: "deleteAll" },
      { op: "list" },
      { op: "sql", query: "SELECT type, name FROM sqlite_master WHERE name NOT LIKE '\\_cf\\_%' ESCAPE '\\' ORDER BY name" },
      { op: "sql", query: "SELECT * FROM t", messageIncludes: "no such table: t" },
    ],
  },
  {
    name: "storage works after deleteAll",
    doc: DOC.deleteAll,
    ops: [
      { op: "put", key: "a", value: 1 },
      { op: "deleteAll" },
      { op: "put", key: "b", value: 2 },
      { op: "kv.put", key: "c", value: 3 },
      { op: "sql", query: "CREATE TABLE t (x); INSERT INTO t VALUES (42); SELECT x FROM t" },
      { op: "list" },
    ],
  },
  { name: "sync() resolves", doc: DOC.sync, ops: [{ op: "put", key: "a", value: 1 }, { op: "sync" }, { op: "sync" }] },
  {
    name: "a put that is not awaited is visible to the next read at once",
    doc: DOC.coalescing,
    ops: [
      { op: "put", key: "a", value: 1, noAwait: true },
      { op: "kv.get", key: "a" },
      { op: "delete", key: "a", noAwait: true },
      { op: "kv.get", key: "a" },
      { op: "put", key: "b", value: 2, noAwait: true },
      { op: "sql", query: "SELECT 1 AS x" },
      { op: "get", key: "b" },
    ],
  },
  {
    name: "sync and async KV see each other's writes",
    doc: DOC.syncKv,
    ops: [
      { op: "kv.put", key: "s", value: "sync" },
      { op: "put", key: "a", value: "async" },
      { op: "get", key: ["s", "a"] },
      { op: "kv.get", key: "a" },
      { op: "kv.list" },
    ],
  },
];
