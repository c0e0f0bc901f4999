// `ctx.storage.sql`: Cloudflare's SqlStorage over better-sqlite3. Statements run synchronously; writes
// join the object's implicit transaction (committed before the reply). Statements that would break
// that transaction or reach the hidden tables are refused.
import type Database from "better-sqlite3";
import { ErrorCode, SourdoughError } from "../errors.ts";
import { splitSql } from "./split-sql.ts";

export type SqlStorageValue = ArrayBuffer | string | number | null;
type Row = Record<string, SqlStorageValue>;

// Cloudflare refuses transaction control and attach in exec(); durability pragmas would undo our gates.
const REFUSED_STATEMENT = /^\s*(BEGIN|COMMIT|END|ROLLBACK|SAVEPOINT|RELEASE|ATTACH|DETACH|VACUUM)\b/i;
const REFUSED_PRAGMA = /^\s*PRAGMA\s+(?:\w+\.)?(journal_mode|synchronous|locking_mode|wal_autocheckpoint|query_only|writable_schema)\b/i;
export const HIDDEN_TABLE_PREFIX = "_cf_";
const HIDDEN = /\b_cf_/i;

export interface SqlHost {
  db(): Database.Database;
  /** Opens the implicit transaction if none is open. */
  beginWrite(): void;
}

export class SqlStorage {
  readonly #host: SqlHost;
  readonly #statements = new Map<string, Database.Statement>();

  constructor(host: SqlHost) {
    this.#host = host;
  }

  /**
   * Runs `query` with `?` bindings and returns a cursor over the rows of its last statement. A query
   * may hold several statements separated by semicolons; they run in order, and bindings are handed
   * to them in order of their placeholders. Writes join the object's implicit transaction.
   */
  exec<T extends Row = Row>(query: string, ...bindings: unknown[]): SqlStorageCursor<T> {
    const args = bindings.map(toSqlite);
    const single = this.#statements.get(query);
    if (single !== undefined) return this.#run<T>(single, args, query);
    const parts = splitSql(query);
    if (parts.length === 0) throw new SourdoughError(ErrorCode.STORAGE, "sql.exec: the query has no statement. Pass SQL such as \"SELECT 1\".");
    if (parts.length === 1) return this.#run<T>(this.#prepare(parts[0]!.text, query), args, query);
    let used = 0;
    let written = 0;
    let cursor: SqlStorageCursor<T> | undefined;
    parts.forEach((part, i) => {
      const last = i === parts.length - 1;
      const mine = last ? args.slice(used) : args.slice(used, used + part.placeholders);
      used += part.placeholders;
      // Later statements may depend on earlier ones (CREATE then INSERT): prepare each just in time.
      cursor = this.#run<T>(this.#prepare(part.text, undefined), mine, part.text);
      written += cursor.rowsWritten;
    });
    return cursor!.withRowsWritten(written);
  }

  #run<T extends Row>(stmt: Database.Statement, args: unknown[], query: string): SqlStorageCursor<T> {
    if (!stmt.readonly) this.#host.beginWrite();
    try {
      if (stmt.reader) {
        const columns = stmt.columns().map((c) => c.name);
        const rows = stmt.raw(true).all(...args) as unknown[][];
        stmt.raw(false);
        return new SqlStorageCursor<T>(columns, rows.map((r) => r.map(fromSqlite)), 0);
      }
      const info = stmt.run(...args);
      return new SqlStorageCursor<T>([], [], info.changes);
    } catch (error) {
      throw sqlError(query, error);
    }
  }

  /** Size of the database file in bytes. */
  get databaseSize(): number {
    const db = this.#host.db();
    const pages = db.pragma("page_count", { simple: true }) as number;
    const size = db.pragma("page_size", { simple: true }) as number;
    return pages * size;
  }

  // Prepares one statement; `cacheAs` is the caller's query string when it holds only this statement.
  #prepare(query: string, cacheAs: string | undefined): Database.Statement {
    if (REFUSED_STATEMENT.test(query) || REFUSED_PRAGMA.test(query)) {
      throw new SourdoughError(
        ErrorCode.STORAGE,
        `sql.exec: ${JSON.stringify(query.trim().slice(0, 60))} is not allowed. Each call already runs in an implicit transaction; use ctx.storage.transactionSync() for explicit ones.`,
      );
    }
    if (HIDDEN.test(query)) {
      throw new SourdoughError(ErrorCode.STORAGE, `sql.exec: tables named ${HIDDEN_TABLE_PREFIX}* are reserved for the runtime (SQLITE_AUTH). Rename your table.`);
    }
    let stmt: Database.Statement;
    try {
      stmt = this.#host.db().prepare(query);
    } catch (error) {
      throw sqlError(query, error);
    }
    if (cacheAs !== undefined) {
      if (this.#statements.size > 500) this.#statements.clear();
      this.#statements.set(cacheAs, stmt);
    }
    return stmt;
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

function toSqlite(value: unknown): unknown {
  if (value instanceof ArrayBuffer) return Buffer.from(value);
  if (typeof value === "boolean") return value ? 1 : 0;
  return value;
}

function fromSqlite(value: unknown): SqlStorageValue {
  if (value instanceof Uint8Array) return value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength) as ArrayBuffer;
  if (typeof value === "bigint") return Number(value);
  return value as SqlStorageValue;
}

/** The result of sql.exec: iterable once, like Cloudflare's SqlStorageCursor. */
export class SqlStorageCursor<T extends Row = Row> implements IterableIterator<T> {
  readonly columnNames: string[];
  readonly rowsWritten: number;
  readonly #rows: SqlStorageValue[][];
  #next = 0;

  constructor(columnNames: string[], rows: SqlStorageValue[][], rowsWritten: number) {
    this.columnNames = columnNames;
    this.#rows = rows;
    this.rowsWritten = rowsWritten;
  }

  /** Rows this cursor has handed out so far. */
  get rowsRead(): number {
    return this.#next;
  }

  /** @internal the total for a multi-statement exec. */
  withRowsWritten(total: number): SqlStorageCursor<T> {
    return new SqlStorageCursor<T>(this.columnNames, this.#rows, total);
  }

  next(): IteratorResult<T> {
    const row = this.#rows[this.#next];
    if (row === undefined) return { done: true, value: undefined };
    this.#next++;
    return { done: false, value: this.#object(row) };
  }

  [Symbol.iterator](): IterableIterator<T> {
    return this;
  }

  toArray(): T[] {
    return [...this];
  }

  /** The only row; throws unless the query returned exactly one. */
  one(): T {
    const remaining = this.#rows.length - this.#next;
    if (remaining !== 1) {
      throw new SourdoughError(ErrorCode.STORAGE, `sql cursor one(): expected exactly one row, got ${remaining}. Use toArray() for any number of rows.`);
    }
    return this.next().value as T;
  }

  /** Iterates rows as arrays of column values. */
  *raw(): IterableIterator<SqlStorageValue[]> {
    while (this.#next < this.#rows.length) yield this.#rows[this.#next++]!;
  }

  #object(row: SqlStorageValue[]): T {
    const out: Row = {};
    for (let i = 0; i < this.columnNames.length; i++) out[this.columnNames[i]!] = row[i] ?? null;
    return out as T;
  }
}
