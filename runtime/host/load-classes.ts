// Loads the modules named in the cluster config and collects their exported Durable Object classes,
// keyed by class name (the namespace). TypeScript modules load through tsx, registered per isolate.
import { ErrorCode, SourdoughError } from "../errors.ts";
import { isDurableObjectClass, type ConcreteDurableObjectClass } from "../object/durable-object.ts";
import type { GeneratedModule } from "../rpc/generated.ts";

const TS_MODULE = /\.(ts|mts|cts|tsx)$/;

/** Registers tsx in this thread when any of `urls` is TypeScript (isolates only: hosts run JS). */
export async function ensureLoader(urls: string[]): Promise<void> {
  if (urls.some((m) => TS_MODULE.test(new URL(m).pathname))) {
    const { register } = await import("tsx/esm/api");
    register();
  }
}

/** Loads sourdough-gen's index module (see rpc/generated.ts) and returns its codecs. */
export async function loadGenerated(url: string): Promise<GeneratedModule["codecs"]> {
  let mod: { generated?: Partial<GeneratedModule> };
  try {
    mod = (await import(url)) as typeof mod;
  } catch (error) {
    throw new SourdoughError(ErrorCode.BAD_CLASS, `loading generated codecs ${url}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`, { cause: error });
  }
  if (mod.generated?.codecs === undefined) {
    throw new SourdoughError(ErrorCode.BAD_CLASS, `${url} does not export \`generated\` with codecs. Pass the index.ts that sourdough-gen writes.`);
  }
  return mod.generated.codecs;
}

export async function loadClasses(modules: string[]): Promise<Map<string, ConcreteDurableObjectClass>> {
  const classes = new Map<string, ConcreteDurableObjectClass>();
  const origin = new Map<string, string>();
  for (const url of modules) {
    let exports: Record<string, unknown>;
    try {
      exports = (await import(url)) as Record<string, unknown>;
    } catch (error) {
      throw new SourdoughError(ErrorCode.BAD_CLASS, `loading ${url}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`, { cause: error });
    }
    for (const value of Object.values(exports)) {
      if (!isDurableObjectClass(value)) continue;
      const previous = classes.get(value.name);
      if (previous !== undefined && previous !== value) {
        throw new SourdoughError(ErrorCode.BAD_CLASS, `Durable Object class name ${value.name} is exported by both ${origin.get(value.name)} and ${url}. Class names are namespaces and must be unique; rename one.`);
      }
      classes.set(value.name, value);
      origin.set(value.name, url);
    }
  }
  return classes;
}
