// The intermediate form of `sourdough-cloudflare build`: what the scan found (plain data), and the
// problems it reports tsc-style. emit-*.ts turn an AppModel into the wrangler project's files.
import path from "node:path";

export interface AppModel {
  /** The file that calls serve() (absolute). */
  entry: string;
  /** The worker: its module (absolute) and export name. */
  worker: { module: string; exportName: string };
  /** One per durableObjects entry, in source order. */
  bindings: Array<{ binding: string; className: string; module: string }>;
  /** serve()'s env: plain values, which become wrangler vars. */
  vars: Record<string, unknown>;
  /** e.g. nodejs_compat when the worker or a class imports node: modules. */
  compatibilityFlags: string[];
}

/**
 * CF40xx errors (nothing is written), CF41xx notes (an option dropped: it means nothing on
 * Cloudflare), CF42xx warnings (a sourdough feature Cloudflare lacks is used).
 */
export interface Problem {
  severity: "error" | "warning" | "note";
  code: string;
  file: string;
  line: number;
  column: number;
  message: string;
}

export function formatProblem(p: Problem, cwd: string): string {
  const file = path.relative(cwd, p.file).split(path.sep).join("/") || p.file;
  return `${file}:${p.line}:${p.column} - ${p.severity} ${p.code}: ${p.message}.`;
}
