// `sourdough-cloudflare export`: reads every object of one namespace from a storageDir (the app must
// be stopped: a running host holds each database exclusively) into the portable export file. Names
// come from the `<id>.name` files storage records; objects without one are exported and reported.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import v8 from "node:v8";
import Database from "better-sqlite3";
import { EXPORT_FORMAT, EXPORT_VERSION, type ExportFile, type ExportedObject, type ExportedSchemaEntry, type ExportedTable } from "../../runtime/workerd/export-format.ts";
import { encodePortable } from "../../runtime/workerd/portable-value.ts";

const ID_FILE = /^([0-9a-f]{64})\.sqlite$/;
const NAMESPACE = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const INTERNAL = /^(_cf_|sqlite_)/;

export interface ExportSummary {
  file: ExportFile;
  /** Ids of the objects whose name was never recorded: Cloudflare cannot address them by name. */
  nameless: string[];
}

/** Reads every object of `namespace` under `storageDir`; throws naming the directory or object that failed. */
export function exportNamespace(storageDir: string, namespace: string): ExportSummary {
  if (!NAMESPACE.test(namespace)) throw new Error(`export: namespace ${JSON.stringify(namespace)} is not a class name. Pass the Durable Object class name, e.g. Counter.`);
  const dir = path.join(storageDir, namespace);
  if (!existsSync(dir)) {
    const found = existsSync(storageDir) ? readdirSync(storageDir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name) : [];
    throw new Error(`export: ${dir} does not exist. Namespaces in ${storageDir}: ${found.join(", ") || "none"}.`);
  }
  const objects: ExportedObject[] = [];
  const nameless: string[] = [];
  for (const entry of readdirSync(dir).sort()) {
    const id = ID_FILE.exec(entry)?.[1];
    if (id === undefined) continue;
    const object = exportObject(path.join(dir, entry), id, `export ${namespace} ${id}`);
    if (object.name === null) nameless.push(id);
    objects.push(object);
  }
  return { file: { format: EXPORT_FORMAT, version: EXPORT_VERSION, namespace, exportedAt: new Date().toISOString(), objects }, nameless };
}

function exportObject(file: string, id: string, where: string): ExportedObject {
  const nameFile = file.replace(/\.sqlite$/, ".name");
  const name = existsSync(nameFile) ? readFileSync(nameFile, "utf8") : null;
  let db: Database.Database;
  try {
    db = new Database(file, { fileMustExist: true, timeout: 0 }); // read-write so a WAL left by a crash is recovered
    db.pragma("query_only = ON");
    db.prepare("SELECT 1 FROM sqlite_master").get(); // fails now if a running host holds the file
  } catch (error) {
    throw new Error(`${where}: cannot read ${file} (${error instanceof Error ? error.message : String(error)}). Stop the app first: a running host holds each database exclusively.`);
  }
  try {
    db.defaultSafeIntegers(true);
    const master = db.prepare("SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY rowid").all() as Array<{ type: ExportedSchemaEntry["type"]; name: string; sql: string }>;
    const schema = master.filter((e) => !INTERNAL.test(e.name));
    const tableNames = new Set(master.map((e) => e.name));
    const kv: Array<[string, ReturnType<typeof encodePortable>]> = [];
    if (tableNames.has("_cf_KV")) {
      for (const row of db.prepare("SELECT key, value FROM _cf_KV ORDER BY key").iterate() as Iterable<{ key: string; value: Buffer }>) {
        kv.push([row.key, encodePortable(v8.deserialize(row.value), `${where}, kv key ${JSON.stringify(row.key)}`)]);
      }
    }
    const tables: ExportedTable[] = schema.filter((e) => e.type === "table").map((e) => exportTable(db, e.name, where));
    const alarmRow = tableNames.has("_cf_METADATA") ? (db.prepare("SELECT time FROM _cf_METADATA WHERE id = 0").get() as { time: bigint } | undefined) : undefined;
    return { id, name, kv, schema, tables, alarm: alarmRow === undefined ? null : Number(alarmRow.time) };
  } finally {
    db.close();
  }
}

function exportTable(db: Database.Database, name: string, where: string): ExportedTable {
  const stmt = db.prepare(`SELECT * FROM "${name.replaceAll('"', '""')}"`).raw(true);
  const columns = stmt.columns().map((c) => c.name);
  const rows = (stmt.all() as unknown[][]).map((row, r) =>
    row.map((cell, c) => {
      // Integers arrive as bigint (safe integers on): keep the ones a double holds as numbers.
      const value = typeof cell === "bigint" && cell >= BigInt(Number.MIN_SAFE_INTEGER) && cell <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(cell) : cell;
      return encodePortable(value, `${where}, table ${name}, row ${r}, column ${columns[c]}`);
    }),
  );
  return { name, columns, rows };
}
