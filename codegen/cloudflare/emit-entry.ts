// Emits the wrangler entry module from the AppModel (pure): it imports the worker and the classes
// from the app's own sources, exports each class (with the data-import method added) under its own
// name, and a default export whose fetch answers the guarded import route, then calls the worker.
import path from "node:path";
import type { AppModel } from "./app-model.ts";

export function emitEntry(model: AppModel, outDir: string, banner: string): string {
  const spec = (file: string) => {
    const rel = path.relative(outDir, file).split(path.sep).join("/");
    return rel.startsWith(".") ? rel : `./${rel}`;
  };
  const classes = new Map<string, string>(); // class name -> module
  for (const b of model.bindings) classes.set(b.className, b.module);
  const lines = [
    banner,
    `import type { ExecutionContext } from "sourdough";`,
    `import { handleDataImport, withDataImport } from "sourdough/cloudflare";`,
    `import { ${model.worker.exportName} as worker } from ${JSON.stringify(spec(model.worker.module))};`,
    ...[...classes].map(([name, file]) => `import { ${name} as ${name}Class } from ${JSON.stringify(spec(file))};`),
    "",
    "// Each class unchanged, plus one method the import route calls (it writes only into empty objects).",
    ...[...classes.keys()].map((name) => `export const ${name} = withDataImport(${name}Class, ${JSON.stringify(name)});`),
    "",
    `const bindings: Record<string, string> = ${JSON.stringify(Object.fromEntries(model.bindings.map((b) => [b.binding, b.className])))};`,
    "",
    "export default {",
    "  async fetch(request: Request, env: Record<string, unknown>, ctx: ExecutionContext): Promise<Response> {",
    "    // POST /__sourdough/import, only while the SOURDOUGH_IMPORT_SECRET secret is set; otherwise the worker.",
    "    return (await handleDataImport(request, env, bindings)) ?? worker.fetch(request, env as never, ctx);",
    "  },",
    "};",
    "",
  ];
  return lines.join("\n");
}
