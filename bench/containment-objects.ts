// The runaway Durable Object of the containment bench (bench/containment.ts). It has no generated
// codecs on purpose: its calls take the msgpack path, and the bench's counters keep theirs.
import * as fs from "node:fs";
import { DurableObject } from "sourdough";

export class BenchRunaway extends DurableObject {
  /**
   * Writes the wall-clock time (Date.now(), ms) to `markerPath`, then spins without ever yielding,
   * until the watchdog stops the isolate (cpuLimitMs). The marker tells the bench when the loop began.
   */
  async spin(markerPath: string): Promise<number> {
    fs.writeFileSync(markerPath, String(Date.now()));
    let n = 0;
    for (;;) n++;
  }
}
