// A synthetic project of N Durable Object classes × 10 methods over shared types, for timing
// sourdough-gen against `tsc --noEmit` of the same project (issue target: within 2×).
import { join } from "node:path";
import { tempProjectFiles, writeTree } from "./fixtures.ts";

const TYPES = `export interface Item {
  id: number;
  name: string;
  tags: string[];
  price?: number;
  owner: { id: string; since: Date };
}

export interface Filter {
  text?: string;
  kinds: Array<"a" | "b" | "c">;
  limit: number | null;
}

export interface Page {
  items: Item[];
  next?: string;
  total: number;
}
`;

function service(i: number): string {
  return `import { DurableObject } from "sourdough";
import type { Filter, Item, Page } from "./types.ts";

export class Service${i} extends DurableObject {
  #items = new Map<number, Item>();

  add(a: number, b?: string): number {
    return a + (b?.length ?? 0);
  }

  put(item: Item): Item {
    this.#items.set(item.id, item);
    return item;
  }

  list(filter?: Filter): Page {
    const items = [...this.#items.values()].filter((x) => filter?.text === undefined || x.name.includes(filter.text));
    return { items: items.slice(0, filter?.limit ?? items.length), total: items.length };
  }

  tag(flag: boolean, tags: string[]): string[] {
    return flag ? tags.map((t) => t.toUpperCase()) : tags;
  }

  bytes(data: Uint8Array): Uint8Array {
    return data.reverse();
  }

  since(when: Date): number {
    return Date.now() - when.getTime();
  }

  kind(k: "a" | "b" | "c"): "a" | "b" | "c" {
    return k === "a" ? "b" : k === "b" ? "c" : "a";
  }

  merge(left: Page, right: Page): Page {
    return { items: [...left.items, ...right.items], total: left.total + right.total };
  }

  big(x: bigint, y: number | null): bigint {
    return x * BigInt(y ?? 1);
  }

  async clear(): Promise<void> {
    this.#items.clear();
  }
}
`;
}

/** Writes the project into `dir`; returns the tsconfig path. */
export function writeSyntheticProject(dir: string, classes = 50): string {
  const files: Record<string, string> = { ...tempProjectFiles(), "src/types.ts": TYPES };
  for (let i = 0; i < classes; i++) files[`src/service-${i}.ts`] = service(i);
  writeTree(dir, files);
  return join(dir, "tsconfig.json");
}
