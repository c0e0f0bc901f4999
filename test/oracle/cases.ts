// Every oracle case, as data: a name, the Cloudflare doc section it checks (paths under
// developers.cloudflare.com/durable-objects/), and the ops run on one fresh object. Where sourdough
// is known to differ from workerd, known.ts says at which ops and why (DIFFERENCES.md has the detail).
import type { Op } from "./ops.ts";
import { ALARM_CASES } from "./cases/alarms.ts";
import { API_CASES } from "./cases/api.ts";
import { ASYNC_KV_CASES } from "./cases/async-kv.ts";
import { CONCURRENCY_CASES } from "./cases/concurrency.ts";
import { SQL_CASES } from "./cases/sql.ts";
import { SYNC_KV_CASES } from "./cases/sync-kv.ts";
import { TRANSACTION_CASES } from "./cases/transactions.ts";
import { VALUE_CASES } from "./cases/values.ts";
import { KNOWN_DIFFERENCES } from "./known.ts";

export interface KnownDifference {
  /** The DIFFERENCES.md entries that explain it, e.g. "D4 list(start, startAfter)". */
  why: string;
  /** The top-level ops whose results differ, or "run" when sourdough's run() call itself fails. */
  ops: number[] | "run";
}

export interface OracleCase {
  name: string;
  /** The section of Cloudflare's docs the case checks, e.g. "api/sqlite-storage-api#exec". */
  doc: string;
  ops: Op[];
  /** Run on a class without an alarm() handler. */
  object?: "noAlarmHandler";
  /** Set from known.ts: the test then expects exactly these differences. */
  known?: KnownDifference;
}

const ALL: OracleCase[] = [
  ...SYNC_KV_CASES,
  ...ASYNC_KV_CASES,
  ...VALUE_CASES,
  ...TRANSACTION_CASES,
  ...SQL_CASES,
  ...ALARM_CASES,
  ...API_CASES,
  ...CONCURRENCY_CASES,
];

export const CASES: readonly OracleCase[] = ALL.map((c) => {
  const known = KNOWN_DIFFERENCES[c.name];
  return known === undefined ? c : { ...c, known };
});
