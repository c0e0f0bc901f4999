// Runs the counter app: 2 host processes, an HTTP server, a few requests, then a clean shutdown.
// `npm run example`
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { serve } from "sourdough";
import { Counter } from "./counter.ts";
import { generated } from "./sourdough.gen/index.ts"; // written by `npm run gen` (sourdough-gen)
import { worker } from "./worker.ts";

const storageDir = mkdtempSync(path.join(os.tmpdir(), "sourdough-example-"));
const app = serve(worker, {
  durableObjects: { COUNTER: Counter },
  generated, // the class's module and its Cap'n Proto codecs (without it: pass modules, calls use msgpackr)
  hostCount: 2,
  storageDir,
});
try {
  await app.ready;
  console.log(`serving on ${app.url} with ${app.coordinator.hostCount} hosts × ${app.coordinator.isolatesPerHost} isolates; storage in ${storageDir}`);
  console.log(`Counter calls travel as: ${app.coordinator.wireFormat(Counter)}`);
  for (const [name, by] of [["room-1", 5], ["room-2", 1], ["room-1", 2]] as const) {
    const res = await fetch(`${app.url}/increment?name=${name}&by=${by}`, { method: "POST" });
    console.log(`POST /increment?name=${name}&by=${by} -> ${res.status} ${await res.text()}`);
  }
  const viaObjectFetch = await fetch(`${app.url}/anything?name=room-1`);
  console.log(`GET /anything?name=room-1 (the object's own fetch) -> ${viaObjectFetch.status} ${await viaObjectFetch.text()}`);
  const stub = app.coordinator.get("room-2", Counter);
  console.log(`direct stub: room-2.increment(10) -> ${await stub.increment(10)}`);
  for (const name of ["room-1", "room-2"]) {
    const where = await app.coordinator.get(name, Counter).whereAmI();
    console.log(`${name} lives in pid ${where.pid}, thread ${where.threadId}`);
  }
} finally {
  await app.close();
  rmSync(storageDir, { recursive: true, force: true });
  console.log("closed: hosts stopped, sockets removed");
}
