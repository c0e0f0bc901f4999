// Builds the `env` objects receive and `serve()` hands to the worker: plain variables plus one
// DurableObjectNamespace per binding.
import { DurableObjectNamespace, registerRouter, type ClientRouter } from "./stub.ts";

/** Also makes `router` the one that stubs of its cluster arriving in this process are rebuilt with. */
export function buildEnv(vars: Record<string, unknown>, bindings: Record<string, string>, router: ClientRouter): Record<string, unknown> {
  registerRouter(router);
  const env: Record<string, unknown> = { ...vars };
  for (const [binding, namespace] of Object.entries(bindings)) env[binding] = new DurableObjectNamespace(namespace, router);
  return Object.freeze(env);
}
