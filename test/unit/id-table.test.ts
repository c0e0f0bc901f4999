// IdTable: behaves as a Map of pending ids would (model check against a Map), across the ring's
// growth, its overflow for long-lived ids, and question ids wrapping at 2^32.
import { describe, expect, it } from "vitest";
import { IdTable } from "../../runtime/util/id-table.ts";
import { prng } from "../codegen/support/values.ts";

describe("IdTable", () => {
  it.each([
    { start: 1, label: "ids from 1" },
    { start: 0xffffff00, label: "ids wrapping at 2^32" },
  ])("matches a Map through random adds, takes and takeAll ($label)", ({ start }) => {
    const random = prng(start);
    for (let trial = 0; trial < 40; trial++) {
      const table = new IdTable<{ id: number }>();
      const model = new Map<number, { id: number }>();
      let next = start;
      const open: number[] = [];
      for (let step = 0; step < 3000; step++) {
        if (random() < 0.55) {
          const id = next;
          next = next === 0xffffffff ? 1 : next + 1;
          const value = { id };
          table.set(id, value);
          model.set(id, value);
          open.push(id);
        } else if (open.length > 0) {
          // Mostly the oldest (answers come roughly in order), sometimes any (one call stays open long).
          const id = open.splice(random() < 0.9 ? 0 : Math.floor(random() * open.length), 1)[0]!;
          expect(table.take(id)).toBe(model.get(id));
          model.delete(id);
        }
        expect(table.size).toBe(model.size);
        const probe = open[Math.floor(random() * open.length)];
        if (probe !== undefined) expect(table.get(probe)).toBe(model.get(probe));
        expect(table.get(next)).toBeUndefined();
        if (random() < 0.002) {
          const all = table.takeAll();
          expect(all.map(([id]) => id)).toEqual([...model.keys()].sort((a, b) => a - b));
          for (const [id, value] of all) expect(model.get(id)).toBe(value);
          model.clear();
          open.length = 0;
          expect(table.size).toBe(0);
        }
      }
    }
  });

  it("keeps an id whose ring slot is taken by an older one (overflow) and finds it again", () => {
    const table = new IdTable<string>();
    table.set(1, "old");
    for (let id = 2; id <= 40; id++) table.set(id, `v${id}`);
    for (let id = 2; id <= 40; id++) expect(table.take(id)).toBe(`v${id}`);
    table.set(1 + 64 * 1024 * 1024, "same slot as 1"); // any ring size divides this distance
    expect(table.get(1)).toBe("old");
    expect(table.take(1 + 64 * 1024 * 1024)).toBe("same slot as 1");
    expect(table.take(1)).toBe("old");
    expect(table.size).toBe(0);
    expect(table.take(1)).toBeUndefined();
  });
});
