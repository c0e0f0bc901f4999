import { describe, expect, it } from "vitest";
import { idFromName, idFromString, isValidId, newUniqueId } from "../../runtime/ids.ts";
import { slotFor } from "../../runtime/rpc/placement.ts";

describe("ids", () => {
  it("derives the same 64-hex id from the same (namespace, name), and different ones otherwise", () => {
    const a = idFromName("Counter", "room");
    expect(a.toString()).toMatch(/^[0-9a-f]{64}$/);
    expect(idFromName("Counter", "room").toString()).toBe(a.toString());
    expect(idFromName("Counter", "room2").toString()).not.toBe(a.toString());
    expect(idFromName("Other", "room").toString()).not.toBe(a.toString());
    expect(a.name).toBe("room");
  });

  it.each([
    { given: "", want: /is not a Durable Object id/ },
    { given: "abc", want: /64 lowercase hex/ },
    { given: "g".repeat(64), want: /64 lowercase hex/ },
    { given: "A".repeat(64), want: /64 lowercase hex/ },
    { given: "0".repeat(63), want: /64 lowercase hex/ },
    { given: "0".repeat(65), want: /64 lowercase hex/ },
    { given: "0".repeat(64), want: /was not made by namespace Counter/ },
    { given: idFromName("Other", "x").toString(), want: /was not made by namespace Counter/ },
  ])("idFromString refuses $given", ({ given, want }) => {
    expect(() => idFromString("Counter", given)).toThrow(want);
    expect(isValidId("Counter", given)).toBe(false);
  });

  it("accepts its own ids, named and unique, and keeps them distinct", () => {
    const unique = newUniqueId("Counter");
    expect(idFromString("Counter", unique.toString()).equals(unique)).toBe(true);
    expect(unique.equals(newUniqueId("Counter"))).toBe(false);
    expect(isValidId("Counter", idFromName("Counter", "n").toString())).toBe(true);
  });
});

describe("placement", () => {
  it("is deterministic and always in range", () => {
    for (let i = 0; i < 200; i++) {
      const id = idFromName("Counter", `o${i}`).toString();
      const slot = slotFor("Counter", id, 7);
      expect(slot).toBeGreaterThanOrEqual(0);
      expect(slot).toBeLessThan(7);
      expect(slotFor("Counter", id, 7)).toBe(slot);
    }
  });

  it("spreads objects evenly over slots", () => {
    const counts = new Array<number>(6).fill(0);
    for (let i = 0; i < 60_000; i++) counts[slotFor("Counter", idFromName("Counter", `o${i}`).toString(), 6)]!++;
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(600);
  });

  it("moves only the objects of an added slot when the cluster grows (rendezvous property)", () => {
    let moved = 0;
    for (let i = 0; i < 10_000; i++) {
      const id = idFromName("Counter", `o${i}`).toString();
      const before = slotFor("Counter", id, 4);
      const after = slotFor("Counter", id, 5);
      if (before !== after) {
        moved++;
        expect(after).toBe(4);
      }
    }
    expect(moved).toBeGreaterThan(1500);
    expect(moved).toBeLessThan(2500);
  });
});
