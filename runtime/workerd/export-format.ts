// The file `sourdough-cloudflare export` writes and the generated entry module's import route reads:
// one namespace's objects, each with its name (when recorded), KV entries, SQL schema and rows, and
// alarm. Values are in the portable form (portable-value.ts). No Node import: workerd reads it too.
import type { PortableValue } from "./portable-value.ts";

export const EXPORT_FORMAT = "sourdough-export";
export const EXPORT_VERSION = 1;

/** One schema object of the object's SQLite database, as sqlite_master states it. */
export interface ExportedSchemaEntry {
  type: "table" | "index" | "view" | "trigger";
  name: string;
  sql: string;
}

export interface ExportedTable {
  name: string;
  columns: string[];
  /** Cells in the portable form: null, number, string, `{ $: "bigint" }`, `{ $: "Uint8Array" }` (BLOB). */
  rows: PortableValue[][];
}

export interface ExportedObject {
  /** The id on sourdough (ids differ on Cloudflare: objects are imported by name). */
  id: string;
  /** The name given to idFromName/getByName, or null when it was never recorded (see docs/cloudflare.md). */
  name: string | null;
  kv: Array<[string, PortableValue]>;
  schema: ExportedSchemaEntry[];
  tables: ExportedTable[];
  /** Scheduled alarm, ms since the epoch. */
  alarm: number | null;
}

export interface ExportFile {
  format: typeof EXPORT_FORMAT;
  version: typeof EXPORT_VERSION;
  /** The class name (sourdough's namespace). */
  namespace: string;
  exportedAt: string;
  objects: ExportedObject[];
}

/** The path of the import route the generated entry module answers (POST, bearer secret). */
export const IMPORT_PATH = "/__sourdough/import";
/** The secret (wrangler secret or var) that enables the import route; unset, the route answers 404. */
export const IMPORT_SECRET_VAR = "SOURDOUGH_IMPORT_SECRET";
/** The method the entry module adds to each class to write an imported object's data. */
export const IMPORT_METHOD = "__sourdoughImport";

/** What the import route answers for one object. */
export interface ImportResult {
  namespace: string;
  name: string;
  kv: number;
  tables: number;
  rows: number;
  alarm: number | null;
}
