// Problems sourdough-gen reports, tsc-style: `src/counter.ts:12:3 - error SD1001: <where>: <what>. <fix>.`
// Every stage collects them; generate.ts returns them all at once and the CLI prints them.
import { relative, sep } from "node:path";

/** Diagnostic codes, listed once. */
export const DiagnosticCode = {
  /** A parameter or result type cannot cross RPC (function, symbol, Promise, class instance with methods, ...). */
  UNSUPPORTED_TYPE: "SD1001",
  /** A method has overload signatures: one Params struct cannot describe them. */
  OVERLOADED_METHOD: "SD1002",
  /** A method has a rest parameter. */
  REST_PARAMETER: "SD1003",
  /** Two exported Durable Object classes share a name (the class name is the namespace). */
  DUPLICATE_CLASS: "SD1004",
  /** A method id would not fit the UInt16 `methodId` of the envelope. */
  TOO_MANY_METHODS: "SD1005",
  /** A method's name is reserved or answered by the stub itself, so no stub can call it (see method-names.ts). */
  RESERVED_NAME: "SD1006",
  /** A `fetch` method that cannot take a Request and return a Response: it is the HTTP handler, never an RPC method. */
  FETCH_NOT_HANDLER: "SD1007",
  /** (warning) A method takes or returns a function, RpcTarget or ReadableStream: it has no codec and travels as msgpack. */
  BY_REFERENCE: "SD1008",
  /** A change against the previous sourdough.ir.json breaks callers built from it. */
  BREAKING_CHANGE: "SD2001",
  /** The previous sourdough.ir.json cannot be read. */
  BAD_PREVIOUS_IR: "SD2002",
  /** The project or its configuration cannot be loaded. */
  CONFIG: "SD3001",
} as const;
export type DiagnosticCode = (typeof DiagnosticCode)[keyof typeof DiagnosticCode];

/** A place in a source file; line and column are 1-based. */
export interface SourceLocation {
  file: string;
  line: number;
  column: number;
}

export interface Diagnostic extends SourceLocation {
  code: DiagnosticCode;
  message: string;
}

/** Thrown by generate() when there are errors; `diagnostics` holds every one of them. */
export class GenerateError extends Error {
  readonly diagnostics: readonly Diagnostic[];
  constructor(diagnostics: readonly Diagnostic[], cwd: string) {
    super(diagnostics.map((d) => formatDiagnostic(d, cwd)).join("\n"));
    this.name = "GenerateError";
    this.diagnostics = diagnostics;
  }
}

/** `path:line:col - error CODE: message` (or `- warning`), the path relative to `cwd` with forward slashes. */
export function formatDiagnostic(d: Diagnostic, cwd: string, severity: "error" | "warning" = "error"): string {
  const path = relative(cwd, d.file).split(sep).join("/") || d.file;
  return `${path}:${d.line}:${d.column} - ${severity} ${d.code}: ${d.message}`;
}

/** Orders diagnostics by file, line and column, for stable output. */
export function sortDiagnostics(list: readonly Diagnostic[]): Diagnostic[] {
  return [...list].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line || a.column - b.column || (a.message < b.message ? -1 : 1)));
}
