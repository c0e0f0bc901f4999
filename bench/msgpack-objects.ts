// The msgpack-path counter of bench/run.ts: the same in-memory increment() as BenchCounter's, in a
// class sourdough-gen has not seen (no generated codecs on purpose), so its calls carry msgpackr
// arguments and results and go through the runtime's msgpack call path.
import { DurableObject } from "sourdough";

export class BenchMsgpackCounter extends DurableObject {
  #n = 0;

  /** No storage: increments an in-memory field. */
  async increment(): Promise<number> {
    return ++this.#n;
  }
}
