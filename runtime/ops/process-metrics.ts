// Node's default metrics (prom-client) of this process, collected once per process however many
// coordinators it runs: prom-client installs observers (GC, event-loop delay) it never removes, so
// one registry per coordinator would pile them up.
import { Registry, collectDefaultMetrics } from "prom-client";

let registry: Registry | undefined;

/** This process's default metrics, labelled `host` (e.g. "gateway", or a host's index). */
export function processRegistry(host: string): Registry {
  if (registry === undefined) {
    registry = new Registry();
    collectDefaultMetrics({ register: registry });
  }
  registry.setDefaultLabels({ host });
  return registry;
}
