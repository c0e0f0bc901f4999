// transactionSync(fn) and transaction(async txn => ...): commit, rollback on throw, txn.rollback(),
// nesting, and which writes (KV, SQL, alarm) a rollback undoes.
import type { OracleCase } from "../cases.ts";
import type { Op } from "../ops.ts";
import { DOC } from "./docs.ts";

const FUTURE = Date.UTC(2099, 0, 1);
const table: Op = { op: "sql", query: "CREATE TABLE t (x)" };
const afterwards: Op[] = [{ op: "kv.list" }, { op: "sql", query: "SELECT x FROM t ORDER BY x" }];

export const TRANSACTION_CASES: OracleCase[] = [
  {
    name: "transactionSync commits KV and SQL writes and returns the callback's result",
    doc: DOC.transactionSync,
    ops: [
      table,
      { op: "transactionSync", ops: [{ op: "kv.put", key: "a", value: 1 }, { op: "sql", query: "INSERT INTO t VALUES (1)" }, { op: "kv.get", key: "a" }], returns: { done: true } },
      ...afterwards,
    ],
  },
  {
    name: "transactionSync rolls back KV and SQL writes when the callback throws, and rethrows",
    doc: DOC.transactionSync,
    ops: [
      table,
      { op: "kv.put", key: "kept", value: 1 },
      {
        op: "transactionSync",
        ops: [{ op: "kv.put", key: "gone", value: 2 }, { op: "kv.delete", key: "kept" }, { op: "sql", query: "INSERT INTO t VALUES (2)" }, { op: "throw", message: "abort" }],
        messageIncludes: "abort",
      },
      ...afterwards,
    ],
  },
  {
    name: "transactionSync rolls back a table created in it",
    doc: DOC.transactionSync,
    ops: [
      { op: "transactionSync", ops: [{ op: "sql", query: "CREATE TABLE made (x)" }, { op: "throw", message: "abort" }] },
      { op: "sql", query: "SELECT count(*) AS n FROM sqlite_master WHERE name = 'made'" },
    ],
  },
  {
    name: "transactionSync nests: an inner rollback keeps the outer writes",
    doc: DOC.transactionSync,
    ops: [
      {
        op: "transactionSync",
        ops: [
          { op: "kv.put", key: "outer", value: 1 },
          { op: "transactionSync", ops: [{ op: "kv.put", key: "inner", value: 2 }, { op: "throw", message: "inner abort" }] },
          { op: "kv.put", key: "after", value: 3 },
        ],
        returns: "outer done",
      },
      { op: "kv.list" },
    ],
  },
  {
    name: "transactionSync: an async put inside is pending and joins the transaction",
    doc: DOC.transactionSync,
    ops: [{ op: "transactionSync", ops: [{ op: "put", key: "p", value: 1 }, { op: "kv.get", key: "p" }, { op: "throw", message: "abort" }] }, { op: "kv.list" }],
  },
  {
    name: "transactionSync with an async callback (docs: must be synchronous)",
    doc: DOC.transactionSync,
    ops: [{ op: "transactionSync", asyncCallback: true, ops: [{ op: "kv.put", key: "a", value: 1 }], returns: 1 }, { op: "kv.list" }],
  },
  {
    name: "transactionSync rolls back setAlarm",
    doc: DOC.transactionSync,
    ops: [{ op: "transactionSync", ops: [{ op: "setAlarm", time: FUTURE }, { op: "throw", message: "abort" }] }, { op: "getAlarm" }],
  },
  {
    name: "transaction commits txn writes and resolves with the closure's result",
    doc: DOC.transaction,
    ops: [
      { op: "transaction", ops: [{ op: "put", key: "a", value: 1 }, { op: "get", key: "a" }, { op: "list" }, { op: "delete", key: "a" }, { op: "put", key: "b", value: 2 }], returns: 7 },
      { op: "list" },
    ],
  },
  {
    name: "transaction rolls back when the closure throws, and rejects with its error",
    doc: DOC.transaction,
    ops: [{ op: "put", key: "kept", value: 1 }, { op: "transaction", ops: [{ op: "put", key: "gone", value: 1 }, { op: "delete", key: "kept" }, { op: "throw", message: "no" }], messageIncludes: "no" }, { op: "list" }],
  },
  {
    name: "transaction: txn.rollback() discards the writes and the closure's result still resolves",
    doc: DOC.transaction,
    ops: [{ op: "transaction", ops: [{ op: "put", key: "y", value: 1 }, { op: "rollback" }], returns: "result" }, { op: "list" }],
  },
  {
    name: "transaction: operations on txn after rollback() fail",
    doc: DOC.transaction,
    ops: [{ op: "transaction", ops: [{ op: "rollback" }, { op: "put", key: "late", value: 1 }, { op: "get", key: "late" }] }, { op: "list" }],
  },
  {
    name: "transaction: ctx.storage.kv and sql writes inside the closure are part of it (SQLite backend)",
    doc: DOC.transaction,
    ops: [
      table,
      { op: "transaction", ops: [{ op: "kv.put", key: "direct", value: 1 }, { op: "sql", query: "INSERT INTO t VALUES (5)" }, { op: "throw", message: "abort" }] },
      ...afterwards,
    ],
  },
  {
    name: "transaction nests: an inner rollback() keeps the outer writes",
    doc: DOC.transaction,
    ops: [
      {
        op: "transaction",
        ops: [{ op: "put", key: "outer", value: 1 }, { op: "transaction", ops: [{ op: "put", key: "inner", value: 1 }, { op: "rollback" }] }, { op: "put", key: "after", value: 1 }],
      },
      { op: "list" },
    ],
  },
  {
    name: "transaction nests: an inner closure that throws rolls back only its writes",
    doc: DOC.transaction,
    ops: [
      {
        op: "transaction",
        ops: [{ op: "put", key: "outer", value: 1 }, { op: "transaction", ops: [{ op: "put", key: "inner", value: 1 }, { op: "throw", message: "inner" }] }, { op: "put", key: "after", value: 1 }],
      },
      { op: "list" },
    ],
  },
  {
    name: "transaction nests: an outer closure that throws rolls back a finished inner one",
    doc: DOC.transaction,
    ops: [
      { op: "transaction", ops: [{ op: "put", key: "outer", value: 1 }, { op: "transaction", ops: [{ op: "put", key: "inner", value: 1 }] }, { op: "throw", message: "outer" }] },
      { op: "list" },
    ],
  },
  {
    name: "transaction nests: transactionSync inside an async transaction closure",
    doc: DOC.transaction,
    ops: [
      { op: "transaction", ops: [{ op: "put", key: "outer", value: 1 }, { op: "transactionSync", ops: [{ op: "kv.put", key: "inner", value: 1 }], returns: "sync" }] },
      { op: "list" },
    ],
  },
  {
    name: "transaction: txn.deleteAll()",
    doc: DOC.transaction,
    ops: [{ op: "put", key: "a", value: 1 }, { op: "transaction", ops: [{ op: "deleteAll" }] }, { op: "list" }],
  },
  {
    name: "transaction: txn alarm methods, rolled back with the transaction",
    doc: DOC.transaction,
    ops: [
      { op: "transaction", ops: [{ op: "setAlarm", time: FUTURE }, { op: "getAlarm" }, { op: "rollback" }] },
      { op: "getAlarm" },
      { op: "transaction", ops: [{ op: "setAlarm", time: FUTURE }] },
      { op: "getAlarm" },
    ],
  },
  {
    name: "transaction: the txn object's methods",
    doc: DOC.transaction,
    ops: [
      {
        op: "transaction",
        ops: [{ op: "typeof", target: "txn", names: ["get", "put", "delete", "list", "rollback", "deleteAll", "getAlarm", "setAlarm", "deleteAlarm", "sync", "transaction", "kv", "sql"] }],
      },
    ],
  },
];
