// Cases with many events at once on one object: a case's top-level `concurrent` op splits it into
// segments, run in order on the same object: a run(ops) call for the ops around it, and for the op
// itself every call at once (Promise.all). Both runners execute the same segments; here they are
// planned, and the calls' results folded into one result: the multiset of what each call returned.
import { canonical } from "./compare.ts";
import { parseResults, type ErrorInfo, type Json, type Op, type OpResult } from "./ops.ts";

export type Segment = { kind: "serial"; ops: Op[] } | { kind: "concurrent"; calls: Op[][] };

/** Splits a case's ops at its `concurrent` ops (empty serial segments are left out). */
export function planSegments(ops: readonly Op[]): Segment[] {
  const segments: Segment[] = [];
  let serial: Op[] = [];
  for (const op of ops) {
    if (op.op !== "concurrent") {
      serial.push(op);
      continue;
    }
    if (serial.length > 0) segments.push({ kind: "serial", ops: serial });
    serial = [];
    const calls: Op[][] = [];
    for (let i = 0; i < (op.repeat ?? 1); i++) calls.push(...op.calls);
    segments.push({ kind: "concurrent", calls });
  }
  if (serial.length > 0) segments.push({ kind: "serial", ops: serial });
  return segments;
}

/** What a runner's call of run(ops) gave: its results, or the error the call itself failed with. */
export type CallOutcome = OpResult[] | { callFailed: ErrorInfo };

/**
 * One result per top-level op: a serial segment's results as they are; for a `concurrent` op, `ok` is
 * the calls' results as a multiset: `[{ times, results }]`, results without error messages (they
 * differ by design), sorted, so that the order in which events ran does not count.
 */
export function assembleResults(segments: readonly Segment[], outcomes: readonly unknown[], where: string): OpResult[] {
  if (outcomes.length !== segments.length) throw new Error(`${where}: expected ${segments.length} segment results, got ${outcomes.length}.`);
  return segments.flatMap((segment, i): OpResult[] => {
    const outcome = outcomes[i];
    if (segment.kind === "serial") return parseResults(outcome, `${where} segment ${i}`);
    if (!Array.isArray(outcome) || outcome.length !== segment.calls.length) throw new Error(`${where} segment ${i}: expected ${segment.calls.length} call results.`);
    return [{ ok: multiset(outcome.map((call, c) => callSummary(call, `${where} segment ${i} call ${c}`))) }];
  });
}

function callSummary(outcome: unknown, where: string): Json {
  const failed = (outcome as { callFailed?: ErrorInfo } | null)?.callFailed;
  if (failed !== undefined) return { callFailed: failed.name };
  return parseResults(outcome, where).map(summary);
}

function summary(result: OpResult): Json {
  const out: { [key: string]: Json } = {};
  if ("ok" in result && result.ok !== undefined) out.ok = result.ok;
  if (result.error !== undefined) out.error = result.error.name;
  if (result.promise === true) out.promise = true;
  if (result.pending === true) out.pending = true;
  if (result.inner !== undefined) out.inner = result.inner.map(summary);
  return out;
}

function multiset(items: Json[]): Json {
  const counts = new Map<string, { times: number; results: Json }>();
  for (const item of items) {
    const key = canonical(item);
    const entry = counts.get(key);
    if (entry === undefined) counts.set(key, { times: 1, results: item });
    else entry.times++;
  }
  return [...counts.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
}
