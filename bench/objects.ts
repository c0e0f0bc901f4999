// The Durable Object class the benchmark calls (bench/run.ts), with generated codecs in
// bench/sourdough.gen/ — after changing it, regenerate them:
//   node dist/codegen/cli.js --project tsconfig.json --out bench/sourdough.gen bench/objects.ts
import { DurableObject } from "sourdough";

export class BenchCounter extends DurableObject {
  #n = 0;

  /** No storage: increments an in-memory field. */
  async increment(): Promise<number> {
    return ++this.#n;
  }

  /** One committed SQLite KV write per call (the output gate commits it before the reply leaves). */
  async incrementStored(): Promise<number> {
    const n = (this.ctx.storage.kv.get<number>("n") ?? 0) + 1;
    this.ctx.storage.kv.put("n", n);
    return n;
  }

  /**
   * The same read-modify-write through the promise API. Correct only because the input gate holds
   * the object's other calls while a storage await is pending; without it, calls in flight beside
   * each other read the same `n` and updates are lost.
   */
  async incrementStoredAsync(): Promise<number> {
    const n = ((await this.ctx.storage.get<number>("n")) ?? 0) + 1;
    await this.ctx.storage.put("n", n);
    return n;
  }

  /** The stored counter (what the `incrementStored*` methods have written), for the bench's checks. */
  async stored(): Promise<number> {
    return this.ctx.storage.kv.get<number>("n") ?? 0;
  }
}
