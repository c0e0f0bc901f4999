// Known differences between sourdough and workerd, by case name: which top-level ops differ and the
// DIFFERENCES.md entry that explains why. The oracle expects exactly these: fix one in the runtime
// and its entry here must go (the test fails until it does); a new difference fails the test too.
import type { KnownDifference } from "./cases.ts";

/** One line per DIFFERENCES.md entry. */
export const D = {
  sqlLimits: "D3 SQLite limits that need sqlite3_limit (blob made in SQL, 101 columns, long LIKE pattern): workerd enforces them, sourdough does not",
  keysPerCall: "D6 129 keys in one call: workerd accepts, sourdough refuses (docs: up to 128)",
  asyncTransactionSync: "D9 transactionSync(async fn): workerd runs it, sourdough refuses (docs: must be synchronous)",
  counters: "D13 rowsRead/rowsWritten: workerd reports SQLite's own counts",
  notImplemented: "D24 not in sourdough: PITR bookmark methods, ctx.abort()",
} as const;

export const KNOWN_DIFFERENCES: Record<string, KnownDifference> = {
  // Asynchronous KV
  "get of 129 keys (docs: up to 128 per call)": { why: D.keysPerCall, ops: [0] },
  "put of 129 entries (docs: up to 128 per call)": { why: D.keysPerCall, ops: [0, 1] },
  "delete of 129 keys (docs: up to 128 per call)": { why: D.keysPerCall, ops: [1, 2] },
  // Transactions
  "transactionSync with an async callback (docs: must be synchronous)": { why: D.asyncTransactionSync, ops: [0, 1] },
  // SQL: cursor
  "cursor: rowsRead counts rows scanned, not rows returned": { why: D.counters, ops: [1, 2] },
  "cursor: rowsWritten counts index updates": { why: D.counters, ops: [2, 3, 4] },
  "cursor: INSERT ... RETURNING": { why: D.counters, ops: [1] },
  // SQL: exec and bindings
  "exec: several statements report rowsWritten": { why: D.counters, ops: [0] },
  "SQL: a 3 MB blob": { why: D.sqlLimits, ops: [0, 1] },
  "SQL limit: 101 columns in a table": { why: D.sqlLimits, ops: [0] },
  "SQL limit: a LIKE pattern over 50 bytes": { why: D.sqlLimits, ops: [0] },
  // API surface
  "api: PITR bookmark methods": { why: D.notImplemented, ops: [0] },
  "api: ctx members used with storage": { why: D.notImplemented, ops: [0] },
  // Concurrency
};
