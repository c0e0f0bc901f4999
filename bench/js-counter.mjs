// BenchCounter's storage methods as compiled JavaScript (no tsx in the hosts), for bench/chaos.ts.
import { DurableObject } from "sourdough";

export class JsBenchCounter extends DurableObject {
  incrementStored() {
    const n = (this.ctx.storage.kv.get("n") ?? 0) + 1;
    this.ctx.storage.kv.put("n", n);
    return n;
  }

  stored() {
    return this.ctx.storage.kv.get("n") ?? 0;
  }
}
