// What becomes of each serve()/ClusterCoordinator option on Cloudflare: dropped (it describes
// sourdough's own machinery, which Cloudflare runs for you) or a warning (a behaviour the app may
// rely on that Cloudflare does not have or sets differently). durableObjects and env are translated.

export type OptionRule = { kind: "drop" | "warn"; reason: string };

const DROP = "drop" as const;
const WARN = "warn" as const;

const RULES: Record<string, OptionRule> = {
  hostCount: { kind: DROP, reason: "dropped: Cloudflare places objects on its own machines" },
  isolatesPerHost: { kind: DROP, reason: "dropped: Cloudflare runs its own isolates" },
  storageDir: { kind: DROP, reason: "dropped: objects store in Cloudflare's SQLite (move data with sourdough-cloudflare export / import)" },
  modules: { kind: DROP, reason: "dropped: the generated entry module exports the classes and wrangler bundles them" },
  generated: { kind: DROP, reason: "dropped: Cap'n Proto codecs are sourdough's wire; workerd's RPC uses structured clone" },
  port: { kind: DROP, reason: "dropped: Cloudflare serves the worker on its routes (wrangler dev picks its own port)" },
  hostname: { kind: DROP, reason: "dropped: Cloudflare serves the worker on its routes" },
  connectTimeoutMs: { kind: DROP, reason: "dropped: there are no host sockets to wait for" },
  startTimeoutMs: { kind: DROP, reason: "dropped: there are no host processes to start" },
  maxFrameBytes: { kind: DROP, reason: "dropped: sourdough's socket framing" },
  idleEvictionMs: { kind: DROP, reason: "dropped: Cloudflare evicts idle objects on its own schedule" },
  alarmRetryBaseMs: { kind: DROP, reason: "dropped: Cloudflare retries a failed alarm() with its own backoff (up to 6 times, as sourdough)" },
  restartBackoff: { kind: DROP, reason: "dropped: Cloudflare restarts its own processes" },
  hostExecArgv: { kind: DROP, reason: "dropped: there are no host processes" },
  output: { kind: DROP, reason: "dropped: logs go to Cloudflare's (wrangler tail)" },
  hostEntry: { kind: DROP, reason: "dropped: a sourdough test hook" },
  isolateHeapMb: { kind: DROP, reason: "dropped: Cloudflare's memory limit is 128 MB per isolate and not configurable" },
  logger: { kind: DROP, reason: "dropped: logs go to Cloudflare's (wrangler tail)" },
  logFormat: { kind: DROP, reason: "dropped: logs go to Cloudflare's (wrangler tail)" },
  inMemoryNotice: { kind: DROP, reason: "dropped: objects always store in Cloudflare's SQLite" },
  metrics: { kind: DROP, reason: "dropped: Cloudflare has its own analytics (dashboard, GraphQL Analytics API)" },
  dev: { kind: DROP, reason: "dropped: Cloudflare answers an uncaught exception with its own error page (wrangler dev shows the error)" },
  handleSignals: { kind: DROP, reason: "dropped: Cloudflare drains and replaces its own processes" },
  shutdownGraceMs: { kind: DROP, reason: "dropped: Cloudflare drains and replaces its own processes" },
  healthPath: { kind: WARN, reason: "sourdough answers this path itself; on Cloudflare the request reaches your worker (use Cloudflare's health checks)" },
  metricsPath: { kind: WARN, reason: "sourdough answers this path itself; on Cloudflare the request reaches your worker (Cloudflare has its own analytics)" },
  dashboard: { kind: WARN, reason: "sourdough's dashboard does not exist on Cloudflare; the path reaches your worker (Cloudflare's dashboard shows your Durable Objects)" },
  callTimeoutMs: { kind: WARN, reason: "Cloudflare has no per-call deadline: calls wait as long as the callee runs (ERR_DEADLINE_EXCEEDED never happens there)" },
  cpuLimitMs: { kind: WARN, reason: "not carried over: Cloudflare's CPU limit is 30 s per request by default; set limits.cpu_ms in wrangler.jsonc for another value" },
  maxCallBytes: { kind: WARN, reason: "Cloudflare's RPC limit is fixed at 32 MiB per call" },
  maxQueuedEvents: { kind: WARN, reason: "Cloudflare decides itself when an object is overloaded (its own queue limit)" },
  blockConcurrencyTimeoutMs: { kind: WARN, reason: "Cloudflare's blockConcurrencyWhile() limit is fixed at 30 s" },
};

export function optionRule(name: string): OptionRule {
  return RULES[name] ?? { kind: WARN, reason: "not an option sourdough-cloudflare knows; it is not carried over. Check whether the app needs it on Cloudflare" };
}
