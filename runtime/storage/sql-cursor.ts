// `ctx.storage.sql`: Cloudflare's SqlStorage over better-sqlite3. Statements run synchronously; writes
// join the object's implicit transaction (committed before the reply). What workerd refuses is
// refused here too, with workerd's error class: transaction statements, ATTACH and friends, PRAGMAs
// outside an allow-list, TEMP objects, and the runtime's own tables (test/oracle checks this).
import type Database from "better-sqlite3";
import { ErrorCode } from "../errors.ts";
import { positionalize, splitSql, type SqlStatementText } from "./split-sql.ts";

export type SqlStorageValue = ArrayBuffer | string | number | null;
type Row = Record<string, SqlStorageValue>;

/** Tables the runtime keeps in every object's database; user SQL cannot name them. */
export const INTERNAL_TABLES = new Set(["_cf_kv", "_cf_metadata"]);

// Cloudflare's limits for SQLite-backed objects (durable-objects/platform/limits).
const MAX_STATEMENT_BYTES = 100_000;
const MAX_PARAMETERS = 100;
/** Largest string or BLOB (workerd accepts 2,097,200 characters and refuses 2,200,000). */
export const MAX_VALUE_BYTES = 2_100_000;

const TRANSACTION_KEYWORDS = new Set(["BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE"]);
const UNAUTHORIZED_KEYWORDS = new Set(["ATTACH", "DETACH"]);
// PRAGMAs workerd allows; everything else is refused, as its authorizer does.
const ALLOWED_PRAGMAS = new Set([
  "foreign_keys", "defer_foreign_keys", "table_info", "table_xinfo", "table_list", "index_list", "index_info", "index_xinfo",
  "foreign_key_list", "foreign_key_check", "quick_check", "optimize", "case_sensitive_like", "recursive_triggers", "legacy_alter_table", "reverse_unordered_selects",
]);

export interface SqlHost {
  db(): Database.Database;
  /** Opens the implicit transaction if none is open. */
  beginWrite(): void;
}

/** An error of the class workerd throws (Error or TypeError), with sourdough's `code`. */
export function storageError(message: string, Class: ErrorConstructor | TypeErrorConstructor = Error): Error {
  return Object.assign(new Class(message), { code: ErrorCode.STORAGE });
}

export class SqlStorage {
  readonly #host: SqlHost;
  readonly #statements = new Map<string, { stmt: Database.Statement; lexed: SqlStatementText }>();
  #totalChanges: Database.Statement | undefined;

  constructor(host: SqlHost) {
    this.#host = host;
  }

  /**
   * Runs `query` and returns a cursor over the rows of its last statement. A query may hold several
   * statements separated by semicolons; they run in order, and only the last may take bindings.
   * Writes join the object's implicit transaction.
   */
  exec<T extends Row = Row>(query: string, ...bindings: unknown[]): SqlStorageCursor<T> {
    const args = bindings.map(toSqlite);
    const cached = this.#statements.get(query);
    if (cached !== undefined) return this.#run<T>(cached.stmt, cached.lexed, args, query);
    if (Buffer.byteLength(query) > MAX_STATEMENT_BYTES) throw storageError(`statement too long: SQLITE_TOOBIG. Statements are limited to ${MAX_STATEMENT_BYTES} bytes; pass large values as bindings.`);
    const parts = splitSql(query);
    if (parts.length === 0) throw storageError("SQL code did not contain a statement. Pass SQL such as \"SELECT 1\".");
    let cursor: SqlStorageCursor<T> | undefined;
    parts.forEach((part, i) => {
      const last = i === parts.length - 1;
      if (!last && part.parameters.length > 0) {
        throw storageError("When executing multiple SQL statements in a single call, only the last statement can have parameters. Split the call.");
      }
      const prepared = this.#prepare(part, last && parts.length === 1 ? query : undefined);
      cursor = this.#run<T>(prepared.stmt, prepared.lexed, last ? args : [], part.text);
    });
    return cursor!;
  }

  /** Size of the database file in bytes. */
  get databaseSize(): number {
    const db = this.#host.db();
    const pages = db.pragma("page_count", { simple: true }) as number;
    const size = db.pragma("page_size", { simple: true }) as number;
    return pages * size;
  }

  #run<T extends Row>(stmt: Database.Statement, lexed: SqlStatementText, args: unknown[], query: string): SqlStorageCursor<T> {
    if (args.length > MAX_PARAMETERS) throw storageError(`too many SQL variables: ${args.length} bindings; at most ${MAX_PARAMETERS}.`);
    const bound = lexed.parameters.some((p) => p.key !== undefined) ? positionalize(lexed, args).bindings : args;
    const writes = !stmt.readonly;
    if (writes) this.#host.beginWrite();
    try {
      const before = writes ? this.#changes() : 0;
      if (stmt.reader) {
        const columns = stmt.columns().map((c) => c.name);
        const rows = stmt.raw(true).all(...bound) as unknown[][];
        stmt.raw(false);
        return new SqlStorageCursor<T>(columns, rows.map((r) => r.map(fromSqlite)), writes ? this.#changes() - before : 0);
      }
      stmt.run(...bound);
      return new SqlStorageCursor<T>([], [], writes ? this.#changes() - before : 0);
    } catch (error) {
      throw sqlError(query, error);
    }
  }

  // Rows changed, including by triggers and RETURNING statements (which `run().changes` misses).
  #changes(): number {
    this.#totalChanges ??= this.#host.db().prepare("SELECT total_changes()").pluck();
    return this.#totalChanges.get() as number;
  }

  // Prepares one statement; `cacheAs` is the caller's query string when it holds only this statement.
  #prepare(lexed: SqlStatementText, cacheAs: string | undefined): { stmt: Database.Statement; lexed: SqlStatementText } {
    refuse(lexed);
    const text = lexed.parameters.some((p) => p.key !== undefined) ? positionalize(lexed, []).text : lexed.text;
    let stmt: Database.Statement;
    try {
      stmt = this.#host.db().prepare(text);
    } catch (error) {
      throw sqlError(lexed.text, error);
    }
    const prepared = { stmt, lexed };
    if (cacheAs !== undefined) {
      if (this.#statements.size > 500) this.#statements.clear();
      this.#statements.set(cacheAs, prepared);
    }
    return prepared;
  }
}

function refuse(lexed: SqlStatementText): void {
  const [first, second, third] = lexed.keywords;
  if (first !== undefined && TRANSACTION_KEYWORDS.has(first)) {
    throw storageError(`To execute a transaction, use ctx.storage.transaction() or ctx.storage.transactionSync() instead of ${first} in SQL: they roll back on exceptions and work with the implicit per-call transaction.`);
  }
  const temp = first === "CREATE" && (second === "TEMP" || second === "TEMPORARY");
  const pragma = first === "PRAGMA" && !ALLOWED_PRAGMAS.has((second ?? "").toLowerCase() === "main" ? (third ?? "").toLowerCase() : (second ?? "").toLowerCase());
  if ((first !== undefined && UNAUTHORIZED_KEYWORDS.has(first)) || temp || pragma || first === "VACUUM") {
    throw storageError(`not authorized: SQLITE_AUTH. ${first}${second ? ` ${second}` : ""} is not available to Durable Objects (as on Cloudflare).`);
  }
  for (const name of lexed.identifiers) {
    if (first === "CREATE" && name.startsWith("_cf_")) throw storageError(`not authorized: SQLITE_AUTH. Names starting with _cf_ are reserved for the runtime; rename ${name}.`);
    if (INTERNAL_TABLES.has(name)) throw storageError(`access to ${name} is prohibited: SQLITE_AUTH. Tables named _cf_* are reserved for the runtime; use ctx.storage.kv for key-value data.`);
  }
}

function sqlError(query: string, error: unknown): Error {
  if (error instanceof Error) {
    const wrapped = new Error(`${error.message}: SQL ${JSON.stringify(query.trim().slice(0, 80))}`, { cause: error });
    const code = (error as { code?: unknown }).code;
    if (typeof code === "string") Object.assign(wrapped, { code });
    return wrapped;
  }
  return new Error(String(error));
}

// Bindings as workerd converts them: numbers, strings, null and bytes as they are; undefined and NaN
// become NULL; booleans, Dates and objects their String(); bigints are refused.
function toSqlite(value: unknown): unknown {
  if (value === undefined || (typeof value === "number" && Number.isNaN(value))) return null;
  if (value === null || typeof value === "number") return value;
  if (typeof value === "string") {
    if (value.length > MAX_VALUE_BYTES) throw storageError("string or blob too big: SQLITE_TOOBIG. Values are limited to 2 MB.");
    return value;
  }
  if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) {
    const bytes = value instanceof ArrayBuffer ? Buffer.from(value) : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    if (bytes.length > MAX_VALUE_BYTES) throw storageError("string or blob too big: SQLITE_TOOBIG. Values are limited to 2 MB.");
    return bytes;
  }
  if (typeof value === "bigint") throw storageError("Cannot convert a BigInt value to a number. Bind Number(value), or a string.", TypeError);
  return String(value);
}

function fromSqlite(value: unknown): SqlStorageValue {
  if (value instanceof Uint8Array) return value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength) as ArrayBuffer;
  if (typeof value === "bigint") return Number(value);
  return value as SqlStorageValue;
}

/** An iterator that also has `toArray()`, as Cloudflare's cursor and `raw()` return. */
export interface SqlIterator<R> extends IterableIterator<R> {
  toArray(): R[];
}

/** The result of sql.exec: iterable once, like Cloudflare's SqlStorageCursor. */
export class SqlStorageCursor<T extends Row = Row> implements SqlIterator<T> {
  readonly columnNames: string[];
  /** Rows changed by the statement (including by triggers). */
  readonly rowsWritten: number;
  readonly #rows: SqlStorageValue[][];
  #next = 0;

  constructor(columnNames: string[], rows: SqlStorageValue[][], rowsWritten: number) {
    this.columnNames = columnNames;
    this.#rows = rows;
    this.rowsWritten = rowsWritten;
  }

  /** Rows this cursor has handed out so far (not SQLite's scan count: see docs/compatibility.md). */
  get rowsRead(): number {
    return this.#next;
  }

  next(): IteratorResult<T> {
    const row = this.#rows[this.#next];
    if (row === undefined) return { done: true, value: undefined };
    this.#next++;
    return { done: false, value: this.#object(row) };
  }

  [Symbol.iterator](): SqlIterator<T> {
    return this;
  }

  toArray(): T[] {
    return [...this];
  }

  /** The only row; throws unless the query returned exactly one. */
  one(): T {
    const remaining = this.#rows.length - this.#next;
    if (remaining !== 1) {
      throw storageError(`Expected exactly one result from SQL query, but got ${remaining === 0 ? "no results" : "multiple results"}. Use toArray() for any number of rows.`);
    }
    return this.next().value as T;
  }

  /** Iterates rows as arrays of column values. */
  raw(): SqlIterator<SqlStorageValue[]> {
    const next = (): IteratorResult<SqlStorageValue[]> => {
      const row = this.#rows[this.#next];
      if (row === undefined) return { done: true, value: undefined };
      this.#next++;
      return { done: false, value: row };
    };
    const iterator: SqlIterator<SqlStorageValue[]> = {
      next,
      [Symbol.iterator]: () => iterator,
      toArray: () => [...iterator],
    };
    return iterator;
  }

  #object(row: SqlStorageValue[]): T {
    const out: Row = {};
    for (let i = 0; i < this.columnNames.length; i++) out[this.columnNames[i]!] = row[i] ?? null;
    return out as T;
  }
}
