// The Cloudflare side of moving data: what the generated entry module uses to accept an export
// (`sourdough-cloudflare import` replays one object per request). `withDataImport` adds one method to
// a Durable Object class that writes an exported object into an empty object's storage;
// `handleDataImport` is the guarded route that calls it by name. No Node import.
import {
  type ExportedObject,
  type ImportResult,
  IMPORT_METHOD,
  IMPORT_PATH,
  IMPORT_SECRET_VAR,
} from "./export-format.ts";
import { decodePortable } from "./portable-value.ts";

// The part of workerd's storage API the import uses.
interface SqlCursor extends Iterable<Record<string, unknown>> {
  toArray(): Array<Record<string, unknown>>;
}
interface ImportStorage {
  kv: { put(key: string, value: unknown): void; list(): Iterable<[string, unknown]> };
  sql: { exec(query: string, ...bindings: unknown[]): SqlCursor };
  transactionSync<T>(fn: () => T): T;
  setAlarm(time: number): Promise<void> | void;
}
interface ImportNamespace {
  idFromName(name: string): unknown;
  get(id: unknown): Record<string, unknown>;
}

// TypeScript requires `any[]` in a mixin's constructor type (TS2545); nothing else here is `any`.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyClass = abstract new (...args: any[]) => object;

/** Returns a subclass of `Class`, of the same name, with the import method (used by the generated entry). */
export function withDataImport<C extends AnyClass>(Class: C, namespace: string): C {
  abstract class WithImport extends Class {
    async [IMPORT_METHOD](object: ExportedObject): Promise<ImportResult> {
      const storage = (this as unknown as { ctx: { storage: ImportStorage } }).ctx.storage;
      return importObject(storage, namespace, object);
    }
  }
  Object.defineProperty(WithImport, "name", { value: Class.name });
  return WithImport;
}

const INTERNAL = /^(_cf_|sqlite_)/;

async function importObject(storage: ImportStorage, namespace: string, object: ExportedObject): Promise<ImportResult> {
  const where = `${namespace} "${object.name}"`;
  // A constructor may create its tables (CREATE TABLE IF NOT EXISTS): tables that exist and are
  // empty are kept and filled; any row or KV entry means the object is in use, and it is refused.
  const schema = storage.sql.exec("SELECT type, name FROM sqlite_master").toArray();
  const present = new Set(schema.map((r) => String(r.name)));
  const tables = schema.filter((r) => r.type === "table" && !INTERNAL.test(String(r.name))).map((r) => String(r.name));
  const filled = tables.filter((name) => storage.sql.exec(`SELECT 1 FROM "${name.replaceAll('"', '""')}" LIMIT 1`).toArray().length > 0);
  const hasKv = !storage.kv.list()[Symbol.iterator]().next().done;
  if (filled.length > 0 || hasKv) {
    const what = [...(hasKv ? ["KV entries"] : []), ...filled.map((t) => `rows in ${t}`)].join(", ");
    throw new Error(`${where}: the object already holds data (${what}). Import into objects that are still empty: import once, before the app writes`);
  }
  let rows = 0;
  storage.transactionSync(() => {
    storage.sql.exec("PRAGMA defer_foreign_keys = ON");
    const order = ["table", "index", "view", "trigger"] as const;
    const create = (types: readonly string[]) => {
      for (const entry of object.schema) if (types.includes(entry.type) && !present.has(entry.name)) storage.sql.exec(entry.sql);
    };
    create(order.slice(0, 1));
    for (const table of object.tables) {
      const quoted = `"${table.name.replaceAll('"', '""')}"`;
      const columns = table.columns.map((c) => `"${c.replaceAll('"', '""')}"`).join(", ");
      for (const [r, row] of table.rows.entries()) {
        const cells = row.map((cell, c) => decodePortable(cell, `${where}, table ${table.name}, row ${r}, column ${table.columns[c]}`));
        // workerd binds no bigint: an integer beyond 2^53 travels as its decimal text, cast back.
        const slots = cells.map((cell) => (typeof cell === "bigint" ? "CAST(? AS INTEGER)" : "?")).join(", ");
        storage.sql.exec(`INSERT INTO ${quoted} (${columns}) VALUES (${slots})`, ...cells.map((cell) => (typeof cell === "bigint" ? cell.toString() : cell)));
        rows++;
      }
    }
    create(order.slice(1)); // indexes, views and triggers after the rows: triggers must not fire on them
    for (const [key, value] of object.kv) storage.kv.put(key, decodePortable(value, `${where}, kv key ${JSON.stringify(key)}`));
  });
  if (object.alarm !== null) await storage.setAlarm(object.alarm);
  return { namespace, name: object.name ?? "", kv: object.kv.length, tables: object.tables.length, rows, alarm: object.alarm };
}

/**
 * Answers `POST /__sourdough/import` (body `{ namespace, object }`) when the `SOURDOUGH_IMPORT_SECRET`
 * secret is set and the request carries it as a bearer token; returns undefined for other paths.
 * `bindings` maps each binding to its class (the generated entry passes them).
 */
export async function handleDataImport(request: Request, env: Record<string, unknown>, bindings: Record<string, string>): Promise<Response | undefined> {
  if (new URL(request.url).pathname !== IMPORT_PATH) return undefined;
  const secret = env[IMPORT_SECRET_VAR];
  if (typeof secret !== "string" || secret === "") {
    return new Response(`${IMPORT_PATH}: data import is disabled. Set the ${IMPORT_SECRET_VAR} secret (wrangler secret put ${IMPORT_SECRET_VAR}) to enable it, and delete it after the import.\n`, { status: 404 });
  }
  if (request.headers.get("authorization") !== `Bearer ${secret}`) {
    return new Response(`${IMPORT_PATH}: wrong or missing bearer token. Pass --secret with the value of ${IMPORT_SECRET_VAR}.\n`, { status: 401 });
  }
  if (request.method !== "POST") return new Response(`${IMPORT_PATH}: use POST.\n`, { status: 405 });
  let body: { namespace?: unknown; object?: Partial<ExportedObject> };
  try {
    body = (await request.json()) as typeof body;
  } catch (error) {
    return new Response(`${IMPORT_PATH}: the body is not JSON (${String(error)}). Send what sourdough-cloudflare import sends.\n`, { status: 400 });
  }
  const binding = Object.keys(bindings).find((b) => bindings[b] === body.namespace);
  if (binding === undefined) {
    return new Response(`${IMPORT_PATH}: no binding of this worker is bound to class ${JSON.stringify(body.namespace)} (classes: ${Object.values(bindings).join(", ")}). Import the export of a class this app has.\n`, { status: 400 });
  }
  const object = body.object;
  if (typeof object?.name !== "string") {
    return new Response(`${IMPORT_PATH}: the object has no name; on Cloudflare objects are found by name, so it cannot be imported.\n`, { status: 400 });
  }
  const ns = env[binding] as ImportNamespace;
  // Called as a method of the stub: a stub answers any property (even `call`) with an RPC method.
  const stub = ns.get(ns.idFromName(object.name)) as unknown as Record<typeof IMPORT_METHOD, (object: unknown) => Promise<ImportResult>>;
  try {
    return Response.json(await stub[IMPORT_METHOD](object));
  } catch (error) {
    return new Response(`${IMPORT_PATH}: ${error instanceof Error ? error.message : String(error)}\n`, { status: 409 });
  }
}
