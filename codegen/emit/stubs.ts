// Emits stubs.ts: a typed stub type per class (DurableObjectStub narrowed to the methods in the
// schema, so calling anything else is a compile error) and its namespace type. Pure IR → text.
import type { IrProject } from "../ir.ts";
import { banner } from "./banner.ts";

/** The text of stubs.ts. */
export function emitStubs(ir: IrProject): string {
  const out: string[] = [banner("//", ir)];
  if (ir.classes.length > 0) out.push('import type * as $sourdough from "sourdough";');
  const modules = [...new Set(ir.classes.map((c) => c.module))];
  for (const module of modules) {
    const here = ir.classes.filter((c) => c.module === module);
    const named = here.filter((c) => c.exportName !== "default").map((c) => c.name);
    const fallback = here.find((c) => c.exportName === "default");
    // A type-only import names a default or named bindings, not both.
    if (fallback !== undefined) out.push(`import type ${fallback.name} from ${JSON.stringify(module)};`);
    if (named.length > 0) out.push(`import type { ${named.join(", ")} } from ${JSON.stringify(module)};`);
  }
  out.push("");
  for (const c of ir.classes) {
    // Methods without a codec (they pass references) are callable too: they travel as msgpack.
    const keys = [...c.methods.map((m) => m.name), ...(c.msgpackMethods ?? []), "id", "name", "fetch"].map((k) => JSON.stringify(k)).join(" | ");
    const listed = c.methods.length === 0 ? "no RPC methods" : `its RPC methods (${c.methods.map((m) => m.name).join(", ")})`;
    out.push(`/** A typed stub of ${c.name}: ${listed}, plus \`id\`, \`name\` and \`fetch\`. */`);
    out.push(`export type ${c.name}Stub = Pick<$sourdough.DurableObjectStub<${c.name}>, ${keys}>;`);
    out.push(`/** The namespace (binding) of ${c.name}. */`);
    out.push(`export type ${c.name}Namespace = $sourdough.DurableObjectNamespace<${c.name}>;`, "");
  }
  out.push("/** Every generated stub type, by class name. */");
  out.push(ir.classes.length === 0 ? "export type Stubs = Record<never, never>;" : "export interface Stubs {");
  if (ir.classes.length > 0) {
    for (const c of ir.classes) out.push(`  ${c.name}: ${c.name}Stub;`);
    out.push("}");
  }
  return out.join("\n") + "\n";
}
