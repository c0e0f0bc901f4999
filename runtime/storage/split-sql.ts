// Splits a string of SQL into statements at top-level semicolons, honouring quotes, comments and the
// BEGIN…END bodies of CREATE TRIGGER, and records per statement what the storage API must judge before
// SQLite runs it: the leading keywords (after comments), the identifiers it names, and its parameters.
// A lexer, not a parser: SQLite still judges each statement.

export interface SqlParameter {
  /** Offset of the token within the statement text, and its length. */
  at: number;
  length: number;
  /** `?` → undefined; `?7` → 7; `:x`/`@x`/`$x` → "x" with its sigil. */
  key: number | string | undefined;
}

export interface SqlStatementText {
  text: string;
  /** Up to four leading keywords, upper-cased, comments skipped. */
  keywords: string[];
  /** Every identifier, lower-cased: bare words and "quoted", `quoted` or [bracketed] names. */
  identifiers: Set<string>;
  parameters: SqlParameter[];
}

export function splitSql(sql: string): SqlStatementText[] {
  const out: SqlStatementText[] = [];
  let start = 0;
  let current = fresh();
  let blockDepth = 0; // BEGIN/CASE … END nesting inside a trigger body
  const push = (end: number) => {
    const raw = sql.slice(start, end);
    const lead = raw.length - raw.trimStart().length;
    const text = raw.trim();
    if (current.keywords.length > 0) {
      for (const p of current.parameters) p.at -= start + lead;
      out.push({ ...current, text });
    }
    start = end + 1;
    current = fresh();
    blockDepth = 0;
  };
  let i = 0;
  while (i < sql.length) {
    const c = sql[i]!;
    if (c === "'") {
      i = skipQuoted(sql, i, c);
    } else if (c === '"' || c === "`" || c === "[") {
      const end = c === "[" ? closeBracket(sql, i) : skipQuoted(sql, i, c);
      current.identifiers.add(unquote(sql.slice(i, end)).toLowerCase());
      i = end;
    } else if (c === "-" && sql[i + 1] === "-") {
      const nl = sql.indexOf("\n", i);
      i = nl < 0 ? sql.length : nl + 1;
    } else if (c === "/" && sql[i + 1] === "*") {
      const close = sql.indexOf("*/", i + 2);
      i = close < 0 ? sql.length : close + 2;
    } else if (c === "?" || ((c === ":" || c === "@" || c === "$") && /[A-Za-z_]/.test(sql[i + 1] ?? ""))) {
      let j = i + 1;
      while (j < sql.length && /[A-Za-z0-9_$]/.test(sql[j]!)) j++;
      const body = sql.slice(i + 1, j);
      const key = c === "?" ? (body === "" ? undefined : Number(body)) : `${c}${body}`;
      current.parameters.push({ at: i, length: j - i, key });
      i = j;
    } else if (c === ";" && blockDepth === 0) {
      push(i);
      i++;
    } else if (/[A-Za-z_]/.test(c)) {
      let j = i + 1;
      while (j < sql.length && /[A-Za-z0-9_$]/.test(sql[j]!)) j++;
      const word = sql.slice(i, j);
      const upper = word.toUpperCase();
      current.identifiers.add(word.toLowerCase());
      if (current.keywords.length < 4) current.keywords.push(upper);
      const k = current.keywords;
      const inTrigger = k[0] === "CREATE" && (k[1] === "TRIGGER" || k[2] === "TRIGGER");
      if (inTrigger && (upper === "BEGIN" || (upper === "CASE" && blockDepth > 0))) blockDepth++;
      else if (inTrigger && upper === "END" && blockDepth > 0) blockDepth--;
      i = j;
    } else {
      if (current.keywords.length === 0 && !/\s/.test(c)) current.keywords.push(c);
      i++;
    }
  }
  push(sql.length);
  return out;
}

/**
 * Rewrites numbered and named parameters (`?7`, `:x`, `@x`, `$x`) as plain `?`, and maps positional
 * bindings onto them as SQLite numbers parameters: `?N` is binding N; a name takes the next number
 * on first use and keeps it; a plain `?` takes the next number.
 */
export function positionalize(statement: SqlStatementText, bindings: unknown[]): { text: string; bindings: unknown[] } {
  const named = new Map<string, number>();
  let largest = 0;
  const order: number[] = [];
  for (const p of statement.parameters) {
    let index: number;
    if (typeof p.key === "number") index = p.key;
    else if (typeof p.key === "string") index = named.get(p.key) ?? largest + 1;
    else index = largest + 1;
    if (typeof p.key === "string") named.set(p.key, index);
    largest = Math.max(largest, index);
    order.push(index);
  }
  let text = "";
  let from = 0;
  for (const p of statement.parameters) {
    text += `${statement.text.slice(from, p.at)}?`;
    from = p.at + p.length;
  }
  text += statement.text.slice(from);
  return { text, bindings: order.map((index) => bindings[index - 1]) };
}

function fresh(): Omit<SqlStatementText, "text"> {
  return { keywords: [], identifiers: new Set(), parameters: [] };
}

function skipQuoted(sql: string, at: number, quote: string): number {
  let i = at + 1;
  while (i < sql.length) {
    if (sql[i] === quote) {
      if (sql[i + 1] === quote) i += 2; // a doubled quote escapes itself
      else return i + 1;
    } else {
      i++;
    }
  }
  return sql.length;
}

function closeBracket(sql: string, at: number): number {
  const close = sql.indexOf("]", at + 1);
  return close < 0 ? sql.length : close + 1;
}

function unquote(token: string): string {
  const q = token[0]!;
  const inner = token.slice(1, -1);
  return q === "[" ? inner : inner.replaceAll(q + q, q);
}
