// Fails any test of the calling describe block during which a promise rejected unhandled: checked
// `settleMs` after each test, so a stray RPC that rejects late still lands in the test that caused it.
import { afterAll, afterEach, beforeAll, expect } from "vitest";

export function failOnUnhandledRejections(settleMs: number): void {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => void unhandled.push(reason);
  beforeAll(() => void process.on("unhandledRejection", onUnhandled));
  afterEach(async () => {
    await new Promise((resolve) => setTimeout(resolve, settleMs));
    expect(unhandled.splice(0)).toEqual([]);
  });
  afterAll(() => void process.off("unhandledRejection", onUnhandled));
}
