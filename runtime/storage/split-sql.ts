// Splits a string of SQL into statements at top-level semicolons, honouring quotes, comments and the
// BEGIN…END bodies of CREATE TRIGGER, and counts each statement's `?` placeholders so that bindings
// can be handed out in order. A lexer, not a parser: SQLite still judges each statement.

export interface SqlStatementText {
  text: string;
  /** Number of anonymous `?` / `?NNN` placeholders, in order of appearance. */
  placeholders: number;
}

export function splitSql(sql: string): SqlStatementText[] {
  const out: SqlStatementText[] = [];
  let start = 0;
  let placeholders = 0;
  let blockDepth = 0; // BEGIN/CASE … END nesting inside a trigger body
  let words: string[] = []; // first words of the statement, to recognise CREATE TRIGGER
  let i = 0;
  const push = (end: number) => {
    const text = sql.slice(start, end).trim();
    if (text !== "" && !/^(?:--[^\n]*\n?|\/\*[\s\S]*?\*\/|\s)*$/.test(text)) out.push({ text, placeholders });
    start = end + 1;
    placeholders = 0;
    blockDepth = 0;
    words = [];
  };
  while (i < sql.length) {
    const c = sql[i]!;
    if (c === "'" || c === '"' || c === "`") {
      i = skipQuoted(sql, i, c);
    } else if (c === "[") {
      const close = sql.indexOf("]", i + 1);
      i = close < 0 ? sql.length : close + 1;
    } else if (c === "-" && sql[i + 1] === "-") {
      const nl = sql.indexOf("\n", i);
      i = nl < 0 ? sql.length : nl + 1;
    } else if (c === "/" && sql[i + 1] === "*") {
      const close = sql.indexOf("*/", i + 2);
      i = close < 0 ? sql.length : close + 2;
    } else if (c === "?") {
      placeholders++;
      i++;
      while (i < sql.length && /[0-9]/.test(sql[i]!)) i++;
    } else if (c === ";" && blockDepth === 0) {
      push(i);
      i++;
    } else if (/[A-Za-z_]/.test(c)) {
      let j = i + 1;
      while (j < sql.length && /[A-Za-z0-9_$]/.test(sql[j]!)) j++;
      const word = sql.slice(i, j).toUpperCase();
      if (words.length < 4) words.push(word);
      const inTrigger = words[0] === "CREATE" && (words[1] === "TRIGGER" || words[2] === "TRIGGER");
      if (inTrigger && (word === "BEGIN" || (word === "CASE" && blockDepth > 0))) blockDepth++;
      else if (inTrigger && word === "END" && blockDepth > 0) blockDepth--;
      i = j;
    } else {
      i++;
    }
  }
  push(sql.length);
  return out;
}

function skipQuoted(sql: string, at: number, quote: string): number {
  let i = at + 1;
  while (i < sql.length) {
    if (sql[i] === quote) {
      if (sql[i + 1] === quote) i += 2; // doubled quote escapes itself
      else return i + 1;
    } else {
      i++;
    }
  }
  return sql.length;
}
