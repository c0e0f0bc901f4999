// `sourdough-cloudflare import`: replays an export file into a deployed (or local) worker made by
// `sourdough-cloudflare build`, one object per POST to its guarded import route. Objects without a
// name are skipped and reported; a refused object (e.g. it already holds data) is reported, not fatal.
import { EXPORT_FORMAT, EXPORT_VERSION, type ExportFile, IMPORT_PATH, type ImportResult } from "../../runtime/workerd/export-format.ts";

export interface ImportOptions {
  /** The worker's origin, e.g. https://my-app.example.workers.dev. */
  url: string;
  /** The value of the worker's SOURDOUGH_IMPORT_SECRET. */
  secret: string;
  /** Defaults to the global fetch (tests pass miniflare's dispatchFetch). */
  fetch?: (url: string, init: RequestInit) => Promise<Response>;
}

export interface ImportReport {
  imported: ImportResult[];
  /** Objects without a recorded name: Cloudflare cannot address them by name. */
  skipped: Array<{ id: string; reason: string }>;
  failed: Array<{ id: string; name: string; status: number; message: string }>;
}

/** Throws unless `value` is an export file this version reads; says what is wrong. */
export function parseExportFile(text: string, where: string): ExportFile {
  let value: Partial<ExportFile>;
  try {
    value = JSON.parse(text) as Partial<ExportFile>;
  } catch (error) {
    throw new Error(`${where}: not JSON (${error instanceof Error ? error.message : String(error)}). Pass a file written by sourdough-cloudflare export.`);
  }
  if (value.format !== EXPORT_FORMAT || value.version !== EXPORT_VERSION || typeof value.namespace !== "string" || !Array.isArray(value.objects)) {
    throw new Error(`${where}: not a ${EXPORT_FORMAT} file of version ${EXPORT_VERSION} (format ${JSON.stringify(value.format)}, version ${JSON.stringify(value.version)}). Pass a file written by sourdough-cloudflare export.`);
  }
  return value as ExportFile;
}

export async function importExport(file: ExportFile, options: ImportOptions): Promise<ImportReport> {
  const send = options.fetch ?? ((url: string, init: RequestInit) => fetch(url, init));
  const target = new URL(IMPORT_PATH, options.url).href;
  const report: ImportReport = { imported: [], skipped: [], failed: [] };
  for (const object of file.objects) {
    if (object.name === null) {
      report.skipped.push({ id: object.id, reason: "no recorded name (made by newUniqueId, or last activated before sourdough recorded names)" });
      continue;
    }
    const response = await send(target, {
      method: "POST",
      headers: { authorization: `Bearer ${options.secret}`, "content-type": "application/json" },
      body: JSON.stringify({ namespace: file.namespace, object }),
    });
    const text = await response.text();
    if (response.status === 404 || response.status === 401) throw new Error(`import: ${target} answered ${response.status}: ${text.trim()}`);
    if (!response.ok) report.failed.push({ id: object.id, name: object.name, status: response.status, message: text.trim() });
    else report.imported.push(JSON.parse(text) as ImportResult);
  }
  return report;
}
