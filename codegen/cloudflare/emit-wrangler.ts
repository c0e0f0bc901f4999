// Emits wrangler.jsonc from the AppModel (a pure function of the model and the previous file's
// migrations): main, compatibility date and flags, one Durable Object binding per durableObjects
// entry, SQLite migrations for every class, vars from env. Migrations are append-only on Cloudflare,
// so classes already in the previous file's migrations keep their tag and new ones get the next.
import type { AppModel } from "./app-model.ts";

export interface Migration {
  tag: string;
  new_sqlite_classes?: string[];
  new_classes?: string[];
  [other: string]: unknown;
}

export interface WranglerOptions {
  name: string;
  compatibilityDate: string;
  /** The header line naming the source and the command. */
  banner: string;
  /** Migrations of the previous wrangler.jsonc in the out dir (kept as they are). */
  previousMigrations: Migration[];
}

export function emitWrangler(model: AppModel, options: WranglerOptions): { text: string; removedClasses: string[] } {
  const classes = [...new Set(model.bindings.map((b) => b.className))];
  const migrated = new Set(options.previousMigrations.flatMap((m) => [...(m.new_sqlite_classes ?? []), ...(m.new_classes ?? [])]));
  const added = classes.filter((c) => !migrated.has(c));
  const migrations = [...options.previousMigrations];
  if (added.length > 0) migrations.push({ tag: `v${migrations.length + 1}`, new_sqlite_classes: added });
  const config: Record<string, unknown> = {
    name: options.name,
    main: "./entry.ts",
    compatibility_date: options.compatibilityDate,
    ...(model.compatibilityFlags.length > 0 ? { compatibility_flags: model.compatibilityFlags } : {}),
    durable_objects: { bindings: model.bindings.map((b) => ({ name: b.binding, class_name: b.className })) },
    migrations,
    ...(Object.keys(model.vars).length > 0 ? { vars: model.vars } : {}),
  };
  const removedClasses = [...migrated].filter((c) => !classes.includes(c));
  return { text: `${options.banner}\n${JSON.stringify(config, null, 2)}\n`, removedClasses };
}

/** Reads the migrations of a wrangler.jsonc this command wrote (comment lines first, then JSON). */
export function previousMigrations(text: string, where: string): Migration[] {
  const json = text.split("\n").filter((line) => !line.trimStart().startsWith("//")).join("\n");
  let config: { migrations?: unknown };
  try {
    config = JSON.parse(json) as typeof config;
  } catch (error) {
    throw new Error(`${where}: cannot read the previous file's migrations (${error instanceof Error ? error.message : String(error)}). It was edited by hand: restore it, or delete it to start the migrations over (only before the first deploy)`);
  }
  if (config.migrations === undefined) return [];
  if (!Array.isArray(config.migrations) || !config.migrations.every((m) => typeof m === "object" && m !== null && typeof (m as Migration).tag === "string")) {
    throw new Error(`${where}: "migrations" is not a list of { tag, … }. Restore the file this command wrote`);
  }
  return config.migrations as Migration[];
}
