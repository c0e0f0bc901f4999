// Emits index.ts: the one import a program needs to run with generated codecs,
// `new ClusterCoordinator({ generated, ... })`. Its own URL tells host processes where to load the
// codecs and (through the registry) the class modules from.
import type { IrProject } from "../ir.ts";
import { banner } from "./banner.ts";

/** The text of index.ts. Relative imports use the extension style the class modules use. */
export function emitIndex(ir: IrProject): string {
  const ext = ir.classes.some((c) => /\.(ts|mts|tsx)$/.test(c.module)) ? ".ts" : ".js";
  return [
    banner("//", ir),
    `import { codecs } from "./codecs${ext}";`,
    `import { registry } from "./registry${ext}";`,
    "",
    "/** Pass as `generated` to ClusterCoordinator or serve(): classes, their modules, and their codecs. */",
    "export const generated = { registry, codecs, url: import.meta.url };",
    "",
  ].join("\n");
}
