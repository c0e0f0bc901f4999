// The head of a generated codecs.ts: one import of the codec runtime (`sourdough/codecs`,
// runtime/codecs/), naming exactly what the per-method code below it uses, so that the file
// type-checks under the strictest tsconfig (noUnused*, verbatimModuleSyntax, ...) and the project
// needs no dependency but `sourdough`.
import { stripStrings } from "./codec-write.ts";

/** What `sourdough/codecs` offers generated code: used only as types, and used as values. */
const TYPES = ["MethodCodec", "Reader", "Writer"];
const VALUES = ["CodecError", "MAX_DEPTH", "describe", "encode", "fillRef", "getRef", "pack", "readRef", "reader", "unpack", "writeRef"];

/** The module generated codecs import their runtime from. */
export const CODEC_RUNTIME = "sourdough/codecs";

/** The import line for a codecs.ts whose code (after the import) is `body`. */
export function codecImport(body: string): string {
  const code = stripStrings(body).replace(/\/\/.*$/gm, "");
  // A name in code, not a property (`x.name`) nor an object key (`name: {`, a method called `describe`).
  const uses = (name: string): boolean => new RegExp(`(?<![\\w$.])${name}(?![\\w$])(?!\\s*:)`).test(code);
  const types = TYPES.filter(uses);
  const values = VALUES.filter(uses);
  if (values.length === 0) return `import type { ${types.join(", ")} } from "${CODEC_RUNTIME}";\n`;
  return `import { ${[...types.map((n) => `type ${n}`), ...values].join(", ")} } from "${CODEC_RUNTIME}";\n`;
}
