// The API surface: which members ctx, ctx.storage, kv, sql and cursors have (typeof each name).
import type { OracleCase } from "../cases.ts";
import { DOC } from "./docs.ts";

export const API_CASES: OracleCase[] = [
  {
    name: "api: ctx.storage members",
    doc: DOC.syncKv,
    ops: [
      {
        op: "typeof",
        target: "storage",
        names: ["get", "put", "delete", "list", "deleteAll", "transaction", "transactionSync", "sync", "getAlarm", "setAlarm", "deleteAlarm", "kv", "sql"],
      },
    ],
  },
  { name: "api: PITR bookmark methods", doc: DOC.pitr, ops: [{ op: "typeof", target: "storage", names: ["getCurrentBookmark", "getBookmarkForTime", "onNextSessionRestoreBookmark"] }] },
  { name: "api: ctx.storage.kv members", doc: DOC.syncKv, ops: [{ op: "typeof", target: "kv", names: ["get", "put", "delete", "list"] }] },
  { name: "api: ctx.storage.sql members", doc: DOC.exec, ops: [{ op: "typeof", target: "sql", names: ["exec", "databaseSize"] }] },
  {
    name: "api: cursor members",
    doc: DOC.cursor,
    ops: [{ op: "typeof", target: "cursor", names: ["next", "toArray", "one", "raw", "columnNames", "rowsRead", "rowsWritten", "[Symbol.iterator]"] }],
  },
  { name: "api: raw() iterator members", doc: DOC.cursor, ops: [{ op: "typeof", target: "rawIterator", names: ["next", "toArray", "[Symbol.iterator]"] }] },
  { name: "api: ctx members used with storage", doc: DOC.state, ops: [{ op: "typeof", target: "ctx", names: ["id", "storage", "blockConcurrencyWhile", "waitUntil", "abort"] }] },
];
