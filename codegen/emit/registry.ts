// Emits registry.ts: for each class, the module that exports it (relative to the out dir), the export
// name and its methods with their stable ids. The runtime loads classes in host processes from it.
import type { IrProject } from "../ir.ts";
import { isIdentifier } from "../names.ts";
import { banner } from "./banner.ts";

const key = (name: string): string => (isIdentifier(name) ? name : JSON.stringify(name));

/** The text of registry.ts. */
export function emitRegistry(ir: IrProject): string {
  const out: string[] = [banner("//", ir)];
  out.push("/** A Durable Object class: where it is exported from, and its RPC methods by name. */");
  out.push("export interface RegistryEntry {");
  out.push("  /** Import specifier of the class's module, relative to this file's directory. */");
  out.push("  readonly module: string;");
  out.push("  readonly export: string;");
  out.push("  /** `id` is the stable method id (Call.methodId); `params` the parameter names, in order. */");
  out.push("  readonly methods: Readonly<Record<string, { readonly id: number; readonly params: readonly string[] }>>;");
  out.push("}", "");
  out.push("/** Every class sourdough-gen found, by class name (the namespace). */");
  out.push("export const registry = {");
  out.push("  classes: {");
  for (const c of ir.classes) {
    out.push(`    ${key(c.name)}: {`);
    out.push(`      module: ${JSON.stringify(c.module)},`);
    out.push(`      export: ${JSON.stringify(c.exportName)},`);
    out.push("      methods: {");
    for (const m of c.methods) {
      const params = m.params.fields.map((f) => JSON.stringify(f.name)).join(", ");
      out.push(`        ${key(m.name)}: { id: ${m.id}, params: [${params}] },`);
    }
    out.push("      },");
    out.push("    },");
  }
  out.push("  },");
  out.push("} as const satisfies { readonly classes: Readonly<Record<string, RegistryEntry>> };");
  return out.join("\n") + "\n";
}
