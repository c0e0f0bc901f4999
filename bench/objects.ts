// The Durable Object class the benchmark calls (bench/run.ts). Host isolates load this module
// through tsx; the bench process imports it only for its type and its class name.
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
}
