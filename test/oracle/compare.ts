// Compares one case's results from workerd and sourdough, op by op (and into transaction callbacks):
// same value (tagged JSON, object key order ignored), or both throwing with the same error name.
// Messages differ by design (sourdough's say how to fix) and are compared only where an op asks.
import type { Json, Op, OpResult } from "./ops.ts";

export interface Difference {
  /** Index of the top-level op that differs (the transaction, for a difference inside one). */
  op: number;
  /** Which op, e.g. "#3 kv.list" or "#2 transaction > #1 put". */
  at: string;
  what: string;
  workerd: string;
  sourdough: string;
}

export function compareResults(ops: readonly Op[], workerd: readonly OpResult[], sourdough: readonly OpResult[]): Difference[] {
  return compareLevel(ops, workerd, sourdough, undefined, "");
}

/** The sorted indices of the top-level ops that differ. */
export function differingOps(differences: readonly Difference[]): number[] {
  return [...new Set(differences.map((d) => d.op))].sort((a, b) => a - b);
}

function compareLevel(ops: readonly Op[], workerd: readonly OpResult[], sourdough: readonly OpResult[], top: number | undefined, prefix: string): Difference[] {
  const out: Difference[] = [];
  const count = Math.max(workerd.length, sourdough.length);
  for (let i = 0; i < count; i++) {
    const op = ops[i];
    const at = `${prefix}#${i} ${op?.op ?? "(run)"}`;
    const index = top ?? i;
    const w = workerd[i];
    const s = sourdough[i];
    if (w === undefined || s === undefined) {
      out.push({ op: index, at, what: "one side has no result here", workerd: render(w), sourdough: render(s) });
      continue;
    }
    out.push(...compareOne(op, w, s, index, at));
    if (w.inner !== undefined || s.inner !== undefined) {
      const innerOps = op !== undefined && "ops" in op ? op.ops : [];
      out.push(...compareLevel(innerOps, w.inner ?? [], s.inner ?? [], index, `${at} > `));
    }
  }
  return out;
}

function compareOne(op: Op | undefined, w: OpResult, s: OpResult, index: number, at: string): Difference[] {
  const diff = (what: string): Difference[] => [{ op: index, at, what, workerd: render(w), sourdough: render(s) }];
  if (Boolean(w.promise) !== Boolean(s.promise)) return diff("one returns a Promise, the other a value");
  if (Boolean(w.pending) !== Boolean(s.pending)) return diff("one returned a pending Promise, the other did not");
  if (w.error !== undefined || s.error !== undefined) {
    if (w.error === undefined || s.error === undefined) return diff(w.error === undefined ? "only sourdough throws" : "only workerd throws");
    if (w.error.name !== s.error.name) return diff("different error name");
    const wanted = op?.messageIncludes;
    if (wanted !== undefined && !(w.error.message.includes(wanted) && s.error.message.includes(wanted))) {
      return diff(`message does not contain ${JSON.stringify(wanted)} on both sides`);
    }
    return [];
  }
  if (w.pending === true) return [];
  return canonical(w.ok) === canonical(s.ok) ? [] : diff("different value");
}

/** JSON with object keys sorted, so that key order does not count. */
export function canonical(value: Json | undefined): string {
  if (value === undefined) return "(none)";
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

export function render(result: OpResult | undefined, max = 400): string {
  if (result === undefined) return "(no result)";
  const text = result.error !== undefined
    ? `throws ${result.error.name}${result.error.ctor === undefined ? "" : ` (${result.error.ctor})`}: ${result.error.message}`
    : result.pending === true
      ? "pending Promise"
      : `${result.promise === true ? "resolves " : ""}${canonical(result.ok)}`;
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

export function formatDifferences(differences: readonly Difference[]): string {
  return differences.map((d) => `${d.at}: ${d.what}\n  workerd:   ${d.workerd}\n  sourdough: ${d.sourdough}`).join("\n");
}
