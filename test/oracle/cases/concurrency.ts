// Many events at once on one object (a `concurrent` op: 20 calls made together): read-modify-write
// through each storage API, transactions among events, awaits that hold the input gate (storage) and
// awaits that open it (timers), blockConcurrencyWhile, and the get/put options about concurrency.
import type { OracleCase } from "../cases.ts";
import type { CounterApi, Op } from "../ops.ts";
import { DOC } from "./docs.ts";

const EVENTS = 20;
const counters: Op = { op: "sql", query: "CREATE TABLE counters (k TEXT PRIMARY KEY, v INTEGER)" };
const load = (via: CounterApi, key = "n"): Op => ({ op: "load", key, via });
const store = (via: CounterApi, key = "n"): Op => ({ op: "store", key, via });
const bump = (via: CounterApi): Op[] => [load(via), store(via)];
const final: Op[] = [{ op: "get", key: "n" }, { op: "kv.list" }];
const finalSql: Op = { op: "sql", query: "SELECT k, v FROM counters" };

/** EVENTS calls, the same op list in each except where `special` says otherwise (by call index). */
function calls(each: Op[], special: Record<number, Op[]> = {}): Op[][] {
  return Array.from({ length: EVENTS }, (_, i) => special[i] ?? each);
}

export const CONCURRENCY_CASES: OracleCase[] = [
  // Read-modify-write: no update is lost while each event awaits only storage.
  {
    name: "concurrent events: get then put of a counter loses no update",
    doc: DOC.inputGate,
    ops: [{ op: "concurrent", calls: [bump("async")], repeat: EVENTS }, ...final],
  },
  {
    name: "concurrent events: kv.get then kv.put of a counter, microtask turns between them",
    doc: DOC.syncKv,
    ops: [{ op: "concurrent", calls: [bump("kv")], repeat: EVENTS }, ...final],
  },
  {
    name: "concurrent events: SQL read then SQL write of a counter, an awaited get between",
    doc: DOC.inputGate,
    ops: [counters, { op: "concurrent", calls: [[load("sql"), { op: "get", key: "other" }, store("sql")]], repeat: EVENTS }, finalSql],
  },
  {
    name: "concurrent events: sql.exec, awaited get, kv.put",
    doc: DOC.inputGate,
    ops: [
      { op: "sql", query: "CREATE TABLE log (x)" },
      { op: "concurrent", calls: [[{ op: "sql", query: "INSERT INTO log VALUES (1)", read: "none" }, load("async"), store("kv")]], repeat: EVENTS },
      ...final,
      { op: "sql", query: "SELECT count(*) AS n FROM log" },
    ],
  },
  {
    name: "concurrent events: a chain of awaited storage ops keeps other events out",
    doc: DOC.inputGate,
    ops: [
      {
        op: "concurrent",
        calls: [[load("async"), { op: "get", key: "other" }, { op: "list", options: { prefix: "zz" } }, { op: "put", key: "tmp", value: 1 }, { op: "get", key: ["tmp", "n"] }, { op: "delete", key: "tmp" }, store("async")]],
        repeat: EVENTS,
      },
      ...final,
    ],
  },
  // Timers are not storage: other events run meanwhile, so here updates are lost in workerd too.
  {
    name: "concurrent events: a timer between get and put lets the others in (every event reads 0)",
    doc: DOC.inputGate,
    ops: [{ op: "concurrent", calls: [[load("async"), { op: "sleep", ms: 100 }, store("async")]], repeat: EVENTS }, ...final],
  },
  {
    name: "concurrent events: another event runs while one awaits a timer",
    doc: DOC.inputGate,
    ops: [
      { op: "concurrent", calls: [[{ op: "sleep", ms: 100 }, { op: "put", key: "a", value: "late" }], [{ op: "get", key: "a" }], [{ op: "kv.get", key: "a" }]] },
      { op: "get", key: "a" },
    ],
  },
  // Transactions among events.
  {
    name: "concurrent events: transaction(get, put) in each",
    doc: DOC.transaction,
    ops: [{ op: "concurrent", calls: [[{ op: "transaction", ops: bump("async") }]], repeat: EVENTS }, ...final],
  },
  {
    name: "concurrent events: transactions where one throws and one calls rollback() undo only their own writes",
    doc: DOC.transaction,
    ops: [
      {
        op: "concurrent",
        calls: calls([{ op: "transaction", ops: bump("async") }], {
          3: [{ op: "transaction", ops: [...bump("async"), { op: "throw", message: "boom" }] }],
          7: [{ op: "transaction", ops: [...bump("async"), { op: "rollback" }] }],
        }),
      },
      ...final,
    ],
  },
  {
    name: "concurrent events: a transaction closure that awaits a timer holds the other events",
    doc: DOC.transaction,
    ops: [{ op: "concurrent", calls: [[{ op: "transaction", ops: [load("async"), { op: "sleep", ms: 5 }, store("async")] }]], repeat: EVENTS }, ...final],
  },
  {
    name: "concurrent events: events that arrive during a transaction's timer see its committed writes",
    doc: DOC.transaction,
    ops: [
      {
        op: "concurrent",
        calls: [
          [{ op: "transaction", ops: [{ op: "put", key: "a", value: 1 }, { op: "sleep", ms: 50 }, { op: "put", key: "a", value: 2 }] }],
          [{ op: "get", key: "a" }],
          [{ op: "kv.get", key: "a" }],
          [{ op: "list" }],
        ],
      },
      { op: "get", key: "a" },
    ],
  },
  {
    name: "concurrent events: a transaction closure that throws after a timer rolls back before the others run",
    doc: DOC.transaction,
    ops: [
      {
        op: "concurrent",
        calls: [[{ op: "transaction", ops: [{ op: "put", key: "a", value: 1 }, { op: "sleep", ms: 50 }, { op: "throw", message: "late" }] }], [{ op: "get", key: "a" }], [{ op: "kv.get", key: "a" }]],
      },
      { op: "get", key: "a" },
    ],
  },
  {
    name: "concurrent events: nested transactions in each",
    doc: DOC.transaction,
    ops: [
      {
        op: "concurrent",
        calls: [[{ op: "transaction", ops: [...bump("async"), { op: "transaction", ops: [load("async", "m"), { op: "sleep", ms: 2 }, store("async", "m")] }] }]],
        repeat: 10,
      },
      { op: "get", key: ["n", "m"] },
    ],
  },
  {
    name: "concurrent events: transactionSync in each, one throws",
    doc: DOC.transactionSync,
    ops: [
      {
        op: "concurrent",
        calls: calls([{ op: "transactionSync", ops: bump("kv") }], { 3: [{ op: "transactionSync", ops: [...bump("kv"), { op: "throw", message: "boom" }] }] }),
      },
      ...final,
    ],
  },
  {
    name: "concurrent events: transactionSync mixed with async transactions and plain bumps",
    doc: DOC.transactionSync,
    ops: [
      {
        op: "concurrent",
        calls: [[{ op: "transactionSync", ops: bump("kv") }], [{ op: "transaction", ops: bump("async") }], bump("async"), bump("kv")],
        repeat: 5,
      },
      ...final,
    ],
  },
  // Two transactions started by one event.
  {
    name: "one event starts two transactions at once: they run one after the other",
    doc: DOC.transaction,
    ops: [
      {
        op: "all",
        ops: [
          { op: "transaction", ops: [load("async"), { op: "sleep", ms: 10 }, store("async"), { op: "put", key: "a", value: true }] },
          { op: "transaction", ops: [load("async"), store("async"), { op: "put", key: "b", value: true }] },
        ],
      },
      { op: "list" },
    ],
  },
  {
    name: "one event starts two transactions at once and the second throws: only its writes roll back",
    doc: DOC.transaction,
    ops: [
      {
        op: "all",
        ops: [
          { op: "transaction", ops: [load("async"), { op: "sleep", ms: 10 }, store("async"), { op: "put", key: "a", value: true }] },
          { op: "transaction", ops: [load("async"), store("async"), { op: "put", key: "b", value: true }, { op: "throw", message: "boom" }] },
        ],
      },
      { op: "list" },
    ],
  },
  // blockConcurrencyWhile.
  {
    name: "concurrent events: blockConcurrencyWhile holds the others across a timer",
    doc: DOC.blockConcurrencyWhile,
    ops: [
      {
        op: "concurrent",
        calls: [
          [{ op: "blockConcurrencyWhile", ops: [{ op: "put", key: "a", value: 1 }, { op: "sleep", ms: 50 }, { op: "put", key: "a", value: 2 }] }],
          [{ op: "get", key: "a" }],
          [{ op: "kv.get", key: "a" }],
        ],
      },
    ],
  },
  // Options.
  {
    name: "concurrent events: get with allowConcurrency: true loses no update (no observable effect)",
    doc: DOC.inputGate,
    ops: [{ op: "concurrent", calls: [[{ op: "load", key: "n", via: "async", options: { allowConcurrency: true } }, store("async")]], repeat: EVENTS }, ...final],
  },
  {
    name: "concurrent events: put with allowUnconfirmed and noCache loses no update",
    doc: DOC.putOptions,
    ops: [
      {
        op: "concurrent",
        calls: [
          [load("async"), { op: "store", key: "n", via: "async", options: { allowUnconfirmed: true } }],
          [load("async"), { op: "store", key: "n", via: "async", options: { noCache: true } }],
          [load("async"), { op: "store", key: "n", via: "async", options: { allowUnconfirmed: true, noCache: true } }],
        ],
        repeat: 7,
      },
      ...final,
    ],
  },
  {
    name: "options: allowConcurrency, allowUnconfirmed, noCache accept any value",
    doc: DOC.inputGate,
    ops: [
      { op: "put", key: "a", value: 1, options: { allowUnconfirmed: "yes" } },
      { op: "put", key: "b", value: 2, options: { noCache: 1, allowConcurrency: null } },
      { op: "putEntries", entries: { c: 3 }, options: { allowUnconfirmed: 0 } },
      { op: "get", key: "a", options: { allowConcurrency: "yes" } },
      { op: "get", key: ["a", "b"], options: { noCache: "yes" } },
      { op: "list", options: { allowConcurrency: 1 } },
      { op: "delete", key: "a", options: { allowUnconfirmed: "yes", bogus: 1 } },
      { op: "delete", key: ["b"], options: { noCache: 2 } },
      { op: "getAlarm", options: { allowConcurrency: "yes" } },
      { op: "deleteAlarm", options: { allowUnconfirmed: "yes" } },
      { op: "deleteAll", options: { allowUnconfirmed: "yes" } },
      { op: "list" },
    ],
  },
  {
    name: "options: null is accepted, a string or number is a TypeError",
    doc: DOC.inputGate,
    ops: [
      { op: "put", key: "a", value: 1, options: null },
      { op: "get", key: "a", options: null },
      { op: "list", options: null },
      { op: "get", key: "a", options: "string" },
      { op: "get", key: ["a"], options: 5 },
      { op: "list", options: "string" },
      { op: "put", key: "a", value: 2, options: "string" },
      { op: "putEntries", entries: { a: 3 }, options: 5 },
      { op: "delete", key: "a", options: "string" },
      { op: "getAlarm", options: 5 },
      { op: "setAlarm", time: 4102444800000, options: "string" },
      { op: "deleteAlarm", options: 5 },
      { op: "deleteAll", options: "string" },
      { op: "list" },
    ],
  },
];
