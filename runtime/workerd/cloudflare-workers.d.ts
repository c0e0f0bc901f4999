// The part of workerd's built-in "cloudflare:workers" module that runtime/workerd/index.ts re-exports
// (declared here: the root does not depend on @cloudflare/workers-types). Compile-time only.
declare module "cloudflare:workers" {
  export abstract class DurableObject<Env = unknown> {
    protected ctx: unknown;
    protected env: Env;
    constructor(ctx: unknown, env: Env);
  }
  export abstract class WorkerEntrypoint<Env = unknown> {
    protected ctx: unknown;
    protected env: Env;
    constructor(ctx: unknown, env: Env);
  }
  export class RpcTarget {}
}
