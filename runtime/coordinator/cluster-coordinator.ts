// The public entry point: starts `hostCount` host processes (or, with `hostCount: 0`, an in-process
// object table with the same semantics), routes stubs to the owner of each object, and shuts it all
// down without leaving a process, socket file or handle behind. The only code that spawns processes.
import { randomUUID } from "node:crypto";
import { rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { ErrorCode, SourdoughError, describeValue } from "../errors.ts";
import { DurableObjectId, assertNamespaceName } from "../ids.ts";
import type { DurableObject, DurableObjectClass, ConcreteDurableObjectClass } from "../object/durable-object.ts";
import { DEFAULT_MAX_QUEUED_EVENTS } from "../object/active-object.ts";
import { DEFAULT_BLOCK_CONCURRENCY_TIMEOUT_MS, ObjectTable } from "../object/object-table.ts";
import { openAlarmIndex } from "../storage/alarm-index.ts";
import { buildEnv } from "../rpc/env.ts";
import { CodecTable, type GeneratedModule } from "../rpc/generated.ts";
import { RpcClient, type WebSocketPeer } from "../rpc/rpc-client.ts";
import { DurableObjectNamespace, type ClientRouter, type DurableObjectStub } from "../rpc/stub.ts";
import { memoryPipePair } from "../transport/pipe.ts";
import { slotAddress, socketPath, type ClusterConfig, type SlotAddress } from "../host/cluster-config.ts";
import { SlotRouter } from "../host/slot-router.ts";
import { resolveWireLimits } from "../wire/limits.ts";
import { restartPolicyOptions, type RestartPolicyOptions } from "../util/restart-policy.ts";
import { HOST_ENTRY, HostProcess, type HostInfo } from "./host-process.ts";
import { createRunDir, removeStaleRunDirs } from "./run-dir.ts";
import { lockStorageDir, type StorageLock } from "./storage-lock.ts";
import v8 from "node:v8";
import { Registry } from "prom-client";
import { processRegistry } from "../ops/process-metrics.ts";
import { buildHealth, type ClusterHealth, type HostView } from "../ops/health.ts";
import { clusterMetrics, type MetricsSource } from "../ops/cluster-metrics.ts";
import { checkLogger, createLogger, type LogFormat, type Logger } from "../ops/logger.ts";
import type { HostReport } from "../ops/ops-messages.ts";
import { RecentEvents, type RecentEvent } from "../ops/recent-events.ts";
import { TableStats, type TableSnapshot } from "../ops/table-stats.ts";
import { storageDirError } from "../ops/storage-dir-check.ts";

export interface ClusterCoordinatorOptions {
  /** Host processes to run. Default: the number of cores. 0 runs objects in this process (development). */
  hostCount?: number;
  /** Isolates (worker threads) per host. Default: cores / hostCount, at least 1 (see README). */
  isolatesPerHost?: number;
  /** Directory of the per-object SQLite files. Default: none (in-memory databases, not durable). */
  storageDir?: string;
  /** Modules (file URLs or paths) exporting your Durable Object classes; hosts import them. */
  modules?: Array<string | URL>;
  /**
   * sourdough-gen's output (`import { generated } from "./sourdough.gen/index.ts"`): its classes'
   * modules are loaded like `modules`, and calls to them use the generated codecs on both sides.
   */
  generated?: GeneratedModule;
  /** Bindings visible as `env.BINDING` inside objects (and in `serve()`'s worker). */
  durableObjects?: Record<string, DurableObjectClass>;
  /** Plain values added to `env` (structured-cloneable). */
  env?: Record<string, unknown>;
  /** How long a call waits for its host's socket (e.g. during a restart) before failing. Default 10 s. */
  connectTimeoutMs?: number;
  /**
   * Deadline of every call in ms (the coordinator's, serve()'s and objects' own): past it the call
   * rejects with ERR_DEADLINE_EXCEEDED and is cancelled at the callee. Default: none (as Cloudflare).
   * Per call: `withCallOptions(stub, { timeoutMs, signal })`.
   */
  callTimeoutMs?: number;
  /** How long a host may take to become ready. Default 30 s. */
  startTimeoutMs?: number;
  /**
   * Largest encoded arguments, or result, of one call: a larger one fails with ERR_TOO_LARGE (at the
   * caller, before sending; for a result, at the callee), and only that call. Default 32 MiB
   * (Cloudflare's limit per RPC); at most 512 MiB − 1 (one Cap'n Proto Data field).
   */
  maxCallBytes?: number;
  /** Largest frame any connection accepts; at least maxCallBytes + 64 KiB. Default 64 MiB, or that if larger. */
  maxFrameBytes?: number;
  /** Evict an object from memory (closing its database) after this long without events. Default 60 s; 0 never. */
  idleEvictionMs?: number;
  /** First retry delay after an alarm() handler throws; doubles per retry, 6 retries. Default 2000 ms. */
  alarmRetryBaseMs?: number;
  /**
   * Memory limit per isolate in MiB: its JavaScript heap plus what it holds outside the heap
   * (Buffers, typed arrays). An isolate over it is stopped and replaced; its callers get
   * ERR_MEMORY_LIMIT. Default 1024; 0: no limit. Host processes only (hostCount ≥ 1).
   */
  isolateHeapMb?: number;
  /**
   * An event (call, fetch, alarm, constructor) that runs on the CPU longer than this without
   * yielding stops its isolate, which is replaced; its caller gets ERR_CPU_LIMIT, the isolate's
   * other calls a retryable ERR_HOST_UNAVAILABLE saying why. Default 30 000 (Cloudflare's); 0: no
   * limit. Host processes only (hostCount ≥ 1).
   */
  cpuLimitMs?: number;
  /**
   * Events one object may have waiting for its input gate; more calls are refused with a retryable
   * ERR_OVERLOADED (Cloudflare: "Durable Object is overloaded"). Default 2000.
   */
  maxQueuedEvents?: number;
  /** A blockConcurrencyWhile() callback running longer than this resets its object. Default 30 000 (Cloudflare's). */
  blockConcurrencyTimeoutMs?: number;
  /**
   * When a crashed host (or isolate, inside its host) is restarted. One that had been ready for `minUptimeMs` (default 500): at
   * once. One that dies sooner, or before it is ready: at once the first time, then after `initialMs`
   * (default 100) doubling per early death in a row, up to `maxMs` (default 1000). See README,
   * "Failure behaviour".
   */
  restartBackoff?: RestartPolicyOptions;
  /** Node flags for host processes (e.g. ["--cpu-prof"]). Default none. */
  hostExecArgv?: string[];
  /** Where host stdout/stderr (and, in-process, runtime diagnostics as host 0) go. Default: this process's. */
  output?: (host: number, stream: "stdout" | "stderr", text: string) => void;
  /**
   * Where sourdough's own log lines go (host and isolate start, exit with cause, restart, "back after
   * N ms", object resets, uncaught worker.fetch errors): anything with info/warn/error, e.g. console or
   * a pino logger. Default: concise lines on stderr (through `output`).
   */
  logger?: Logger;
  /** Format of the default logger: "text" (default) or "json" (one JSON object per line). */
  logFormat?: LogFormat;
  /**
   * Count calls, errors and latency per class and method for /metrics and the dashboard. Default
   * true (measured cost: see README, "Operating sourdough"); false keeps gauges and lifecycle counters only.
   */
  metrics?: boolean;
  /** Log one line at start when storageDir is left out (storage in memory). Default true. */
  inMemoryNotice?: boolean;
  /** @internal test hook: a substitute host entry script. */
  hostEntry?: URL | string;
}

/** Spawns and supervises host processes, and hands out stubs and namespaces for their objects. */
export class ClusterCoordinator {
  /** Resolves when every host is ready; rejects with ERR_HOST_START (and the host's stderr). */
  readonly ready: Promise<void>;
  readonly hostCount: number;
  readonly isolatesPerHost: number;
  readonly #router: ClientRouter & { close(): void };
  readonly #hosts: HostProcess[] = [];
  readonly #config: ClusterConfig | undefined;
  readonly #localClasses = new Map<string, ConcreteDurableObjectClass>();
  readonly #localTable: ObjectTable | undefined;
  readonly #env: Record<string, unknown>;
  readonly #codecs: CodecTable;
  readonly #namespaces = new Map<string, DurableObjectNamespace>();
  #webSocketPeer: WebSocketPeer | undefined;
  #closing: Promise<void> | undefined;
  #startError: Error | undefined;
  #storageLock: StorageLock | undefined;
  /** Where lifecycle lines go (the `logger` option, or the default writer). */
  readonly logger: Logger;
  readonly #events = new RecentEvents();
  readonly #startedAt = performance.now();
  readonly #metricsOn: boolean;
  #gateway: Registry | undefined;
  readonly #localStats: TableStats | undefined;
  #retuner: NodeJS.Timeout | undefined;

  constructor(options: ClusterCoordinatorOptions = {}) {
    const cores = os.availableParallelism();
    this.hostCount = nonNegativeInt(options.hostCount ?? cores, "hostCount");
    this.isolatesPerHost = positiveInt(options.isolatesPerHost ?? Math.max(1, Math.floor(cores / Math.max(1, this.hostCount))), "isolatesPerHost");
    const bindings = bindingNamespaces(options.durableObjects ?? {});
    const vars = options.env ?? {};
    const storageDir = options.storageDir === undefined ? undefined : path.resolve(options.storageDir);
    const { maxCallBytes, maxFrameBytes } = resolveWireLimits(options);
    const connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    const callTimeoutMs = options.callTimeoutMs === undefined ? undefined : positiveMs(options.callTimeoutMs, "callTimeoutMs");
    const idleEvictionMs = nonNegativeInt(options.idleEvictionMs ?? 60_000, "idleEvictionMs");
    const alarmRetryBaseMs = nonNegativeInt(options.alarmRetryBaseMs ?? 2_000, "alarmRetryBaseMs");
    const restart = restartPolicyOptions(options.restartBackoff ?? {}, "ClusterCoordinator: restartBackoff");
    const maxQueuedEvents = positiveInt(options.maxQueuedEvents ?? DEFAULT_MAX_QUEUED_EVENTS, "maxQueuedEvents");
    const blockConcurrencyTimeoutMs = positiveInt(options.blockConcurrencyTimeoutMs ?? DEFAULT_BLOCK_CONCURRENCY_TIMEOUT_MS, "blockConcurrencyTimeoutMs");
    const isolateMemoryMb = nonNegativeInt(options.isolateHeapMb ?? DEFAULT_ISOLATE_MEMORY_MB, "isolateHeapMb");
    const cpuLimitMs = nonNegativeInt(options.cpuLimitMs ?? DEFAULT_CPU_LIMIT_MS, "cpuLimitMs");
    // Every option is checked before the storageDir lock is taken: nothing below throws on user input.
    const modules = [...new Set([...(options.modules ?? []).map(moduleUrl), ...generatedModules(options.generated)])];
    if (this.hostCount > 0 && modules.length === 0) {
      throw new SourdoughError(ErrorCode.BAD_OPTIONS, `ClusterCoordinator: hostCount is ${this.hostCount} but no modules were given. Host processes load your classes by module: pass modules: [new URL("./counter.ts", import.meta.url)], or use hostCount: 0.`);
    }

    const output = options.output ?? ((_host, stream, text) => void process[stream].write(text));
    const logFormat = options.logFormat ?? "text";
    if (logFormat !== "text" && logFormat !== "json") throw new SourdoughError(ErrorCode.BAD_OPTIONS, `ClusterCoordinator: logFormat must be "text" or "json", got ${describeValue(logFormat)}.`);
    const logger = (this.logger = options.logger === undefined ? createLogger(logFormat, (line) => output(0, "stderr", line)) : checkLogger(options.logger, "ClusterCoordinator"));
    this.#metricsOn = options.metrics ?? true;
    // One coordinator per storageDir: a second one fails `ready` at once, naming the owner.
    let lockError: Error | undefined;
    if (storageDir !== undefined) {
      try {
        this.#storageLock = lockStorageDir(storageDir, (line) => logger.warn(line.replace(/^sourdough: /, "")));
        // Create the shared alarm index (WAL, table) once here, so the isolates that all open it at start
        // do not race to set it up (a CI run saw "database is locked" there). It also proves the
        // directory is writable before any host starts.
        openAlarmIndex(storageDir).close();
      } catch (error) {
        this.#storageLock?.release();
        this.#storageLock = undefined;
        lockError = storageDirError(storageDir, error);
      }
    } else if (options.inMemoryNotice !== false) {
      logger.info("no storageDir: objects' storage is in memory and is lost when the process exits. Pass storageDir to keep it (inMemoryNotice: false hides this line).");
    }
    const codecs = (this.#codecs = new CodecTable(options.generated?.codecs));
    const coordinator = this;
    this.#guardedRouter = {
      codecs,
      get clusterId() {
        return coordinator.#router.clusterId;
      },
      clientFor: (namespace, objectIdHex) => {
        if (this.#startError !== undefined) throw this.#startError;
        if (this.#closing !== undefined) throw new SourdoughError(ErrorCode.CLOSED, `${namespace}: the coordinator was closed. Create a new ClusterCoordinator.`);
        return this.#router.clientFor(namespace, objectIdHex);
      },
    };
    if (this.hostCount === 0) {
      const stats = (this.#localStats = new TableStats({ perCall: this.#metricsOn }));
      this.#retuner = setInterval(() => stats.sampler.retune(), 250);
      this.#retuner.unref();
      stats.onReset = (r, error) => {
        const text = `in-process: object ${r.namespace} ${r.objectId} was reset: ${r.error}`;
        logger.warn(`${text}${error instanceof Error && error.stack !== undefined ? `\n${error.stack}` : ""}`, { class: r.namespace, objectId: r.objectId });
        this.#events.add("reset", text);
      };
      for (const Class of Object.values(options.durableObjects ?? {})) this.#register(Class);
      let table: ObjectTable | undefined;
      const client = new RpcClient(
        async () => {
          const [mine, theirs] = memoryPipePair();
          table!.serve(theirs);
          return mine;
        },
        // Calls made by in-process objects wait for their writes to commit (output gate).
        { peer: "the in-process object table", connectTimeoutMs, callTimeoutMs, maxFrameBytes, maxCallBytes, outputGate: { afterCommit: (release) => table!.afterCommit(release) }, webSockets: () => this.#webSocketPeer },
      );
      this.#router = { clientFor: () => client, close: () => client.close("the coordinator was closed"), codecs, clusterId: `in-process-${randomUUID()}` };
      this.#env = buildEnv(vars, bindings, this.#router);
      table = new ObjectTable({
        classes: this.#localClasses,
        env: this.#env,
        storageDir: lockError === undefined ? storageDir : undefined, // nothing runs: calls fail with lockError
        maxFrameBytes,
        maxCallBytes,
        idleEvictionMs,
        codecs,
        label: "in-process",
        maxQueuedEvents,
        blockConcurrencyTimeoutMs,
        alarms: { index: openAlarmIndex(lockError === undefined ? storageDir : undefined), retryBaseMs: alarmRetryBaseMs, owns: () => true },
        log: (message) => logger.warn(message.replace(/^sourdough: /, "")),
        stats,
      });
      this.#localTable = table;
      this.#startError = lockError;
      this.ready = lockError === undefined ? Promise.resolve() : Promise.reject(lockError);
      this.ready.catch(() => {});
      return;
    }

    let runDir: string;
    try {
      removeStaleRunDirs();
      runDir = createRunDir(); // mode 0700
    } catch (error) {
      this.#storageLock?.release(); // a constructor that throws leaves no lock behind
      throw error;
    }
    this.#config = {
      runDir,
      hostCount: this.hostCount,
      isolatesPerHost: this.isolatesPerHost,
      storageDir,
      modules,
      generatedUrl: options.generated?.url,
      bindings,
      vars,
      connectTimeoutMs,
      callTimeoutMs,
      maxFrameBytes,
      maxCallBytes,
      idleEvictionMs,
      alarmRetryBaseMs,
      isolateMemoryMb,
      cpuLimitMs,
      maxQueuedEvents,
      blockConcurrencyTimeoutMs,
      restart,
      metrics: this.#metricsOn,
    };
    this.#router = new SlotRouter({ config: this.#config, codecs, webSockets: () => this.#webSocketPeer });
    this.#env = buildEnv(vars, bindings, this.#router);
    for (let index = 0; index < this.hostCount; index++) {
      this.#hosts.push(
        new HostProcess({
          index,
          config: this.#config,
          startTimeoutMs: options.startTimeoutMs ?? 30_000,
          restart,
          execArgv: options.hostExecArgv ?? [],
          entry: options.hostEntry ?? HOST_ENTRY,
          output: (stream, text) => output(index, stream, text),
          logger,
          onEvent: (kind, text) => this.#events.add(kind, text),
        }),
      );
    }
    this.ready = lockError === undefined ? this.#start(Object.values(bindings)) : this.#failStart(lockError);
    this.ready.catch(() => {}); // observed through `ready`/`start()` and by every call
  }

  /** @internal serve()'s WebSocket gateway: it holds the client sockets of this cluster's objects. */
  setWebSocketPeer(peer: WebSocketPeer | undefined): void {
    this.#webSocketPeer = peer;
  }

  /** @internal Finds the connection to an object's owner (the WebSocket gateway delivers events by it). */
  clientFor(namespace: string, objectIdHex: string): RpcClient {
    return this.#guardedRouter.clientFor(namespace, objectIdHex);
  }

  /** Resolves when the cluster is ready (same as `ready`). */
  start(): Promise<void> {
    return this.ready;
  }

  /** `env` as objects see it: your variables plus a namespace per `durableObjects` binding. */
  get env(): Record<string, unknown> {
    return this.#env;
  }

  /** Snapshot of the host processes (empty with `hostCount: 0`). */
  get hosts(): HostInfo[] {
    return this.#hosts.map((h) => h.info);
  }

  /** The private run directory holding the slot sockets (undefined with `hostCount: 0`). */
  get runDir(): string | undefined {
    return this.#config?.runDir;
  }

  /** A Cloudflare-style namespace for `Class` (its namespace name is the class name). */
  namespace<T extends DurableObject>(Class: DurableObjectClass<T>): DurableObjectNamespace<T> {
    const name = this.#register(Class);
    let ns = this.#namespaces.get(name);
    if (ns === undefined) {
      ns = new DurableObjectNamespace(name, this.#guardedRouter);
      this.#namespaces.set(name, ns);
    }
    return ns as DurableObjectNamespace<T>;
  }

  /** A stub for the object `idOrName` of `Class`: a DurableObjectId, or a name (as `getByName`). */
  get<T extends DurableObject>(idOrName: DurableObjectId | string, Class: DurableObjectClass<T>): DurableObjectStub<T> {
    const ns = this.namespace(Class);
    if (idOrName instanceof DurableObjectId) return ns.get(idOrName);
    if (typeof idOrName === "string") return ns.getByName(idOrName);
    throw new SourdoughError(ErrorCode.BAD_ID, `ClusterCoordinator.get: expected a DurableObjectId or a name string, got ${describeValue(idOrName)}.`);
  }

  /**
   * How calls to `Class` travel: "generated" (sourdough-gen's Cap'n Proto codecs, from `generated`)
   * or "msgpack" (structured-clone bytes, for classes sourdough-gen has not seen).
   */
  wireFormat(Class: DurableObjectClass): "generated" | "msgpack" {
    return this.#codecs.forClass(Class.name) === undefined ? "msgpack" : "generated";
  }

  /** Where (host, isolate, socket) the object lives; undefined with `hostCount: 0`. */
  locate(Class: DurableObjectClass, id: DurableObjectId): (SlotAddress & { socketPath: string }) | undefined {
    if (this.#config === undefined) return undefined;
    const slot = (this.#router as SlotRouter).slotOf(Class.name, id.toString());
    const address = slotAddress(this.#config, slot);
    return { ...address, socketPath: socketPath(this.#config.runDir, address.host, address.isolate) };
  }

  /**
   * The cluster's health, from what the isolates report of themselves through their hosts: status
   * (healthy, degraded with reasons, unhealthy), uptime, isolates total/available/busy, and per host
   * and isolate its state, load and memory. GET /health serves it. Never rejects.
   */
  async health(): Promise<ClusterHealth> {
    return (await this.#collect(false)).health;
  }

  /** Prometheus exposition of the cluster (GET /metrics): prom-client text, every process labelled by `host`. */
  async metrics(): Promise<string> {
    const { health, sources } = await this.#collect(true);
    const gateway = this.#metricsOn ? [processRegistry("gateway"), this.gatewayRegistry!] : [];
    return clusterMetrics(sources, { hostRestarts: this.#hosts.map((h) => ({ host: h.info.index, restarts: h.info.restarts })) }, health, gateway);
  }

  /** @internal This coordinator's own gateway series (serve()'s HTTP counters), labelled host="gateway"; undefined with metrics: false. */
  get gatewayRegistry(): Registry | undefined {
    if (!this.#metricsOn) return undefined;
    if (this.#gateway === undefined) {
      this.#gateway = new Registry();
      this.#gateway.setDefaultLabels({ host: "gateway" });
    }
    return this.#gateway;
  }

  /** @internal For the dashboard: health, every isolate's counters, and the recent restarts and resets. */
  async opsSnapshot(): Promise<{ health: ClusterHealth; tables: TableSnapshot[]; events: RecentEvent[] }> {
    const { health, sources } = await this.#collect(true);
    const tables = sources.flatMap((s) => s.report.isolates.flatMap((i) => (i.table === undefined ? [] : [i.table])));
    return { health, tables, events: this.#events.list() };
  }

  async #collect(metrics: boolean): Promise<{ health: ClusterHealth; sources: MetricsSource[] }> {
    const views: HostView[] = [];
    const sources: MetricsSource[] = [];
    if (this.#localTable !== undefined) {
      const report = this.#localReport(metrics);
      views.push({ host: 0, pid: process.pid, state: "in-process", restarts: 0, uptimeMs: performance.now() - this.#startedAt, report });
      sources.push({ host: "local", report });
    } else {
      const reports = await Promise.all(this.#hosts.map((h) => h.report(metrics, REPORT_TIMEOUT_MS)));
      this.#hosts.forEach((h, i) => {
        const info = h.info;
        const report = reports[i];
        views.push({ host: info.index, pid: info.pid, state: info.state, restarts: info.restarts, uptimeMs: h.uptimeMs, report });
        if (report !== undefined) sources.push({ host: String(info.index), report });
      });
    }
    const failure = this.#startError !== undefined ? `the cluster failed to start: ${this.#startError.message.split("\n")[0]}` : this.#closing !== undefined ? "the coordinator was closed" : undefined;
    const health = buildHealth({ instanceId: `${os.hostname()}:${process.pid}`, uptimeMs: performance.now() - this.#startedAt, isolatesPerHost: this.isolatesPerHost, hosts: views, failure, reportTimeoutMs: REPORT_TIMEOUT_MS });
    return { health, sources };
  }

  // hostCount: 0: the figures of the in-process table, read directly.
  #localReport(metrics: boolean): HostReport {
    const census = this.#localTable!.census();
    let objects = 0;
    for (const n of census.residentByClass.values()) objects += n;
    const heap = v8.getHeapStatistics();
    const isolate = {
      isolate: 0,
      state: "up" as const,
      restarts: 0,
      objectsResident: objects,
      eventsQueued: census.eventsQueued,
      callsInFlight: census.eventsRunning,
      socketsOpen: census.socketsOpen,
      eventLoopUtilization: this.#elu(),
      heapUsedBytes: heap.used_heap_size,
      heapLimitBytes: heap.heap_size_limit,
      ...(metrics ? { table: this.#localStats!.snapshot(census, census.liveBytes) } : {}),
    };
    return { pid: process.pid, isolates: [isolate], cpuLimitKills: 0, memoryLimitKills: 0, isolateRestarts: 0 };
  }

  #eluPrev = performance.eventLoopUtilization();
  #eluValue = 0;
  #eluAt = performance.now();
  #elu(): number {
    if (performance.now() - this.#eluAt >= 1000) {
      const now = performance.eventLoopUtilization();
      this.#eluValue = performance.eventLoopUtilization(now, this.#eluPrev).utilization;
      this.#eluPrev = now;
      this.#eluAt = performance.now();
    }
    return this.#eluValue;
  }

  /** Stops every host (committing and closing databases), fails calls still in flight, removes sockets. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#router.close();
    clearInterval(this.#retuner);
    this.#localTable?.close();
    await Promise.all(this.#hosts.map((h) => h.stop(5_000)));
    if (this.#config !== undefined) rmSync(this.#config.runDir, { recursive: true, force: true });
    this.#storageLock?.release();
  }

  async #failStart(error: Error): Promise<void> {
    this.#startError = error;
    await this.close();
    throw error;
  }

  async #start(namespaces: string[]): Promise<void> {
    try {
      await Promise.all(this.#hosts.map((h) => h.start()));
      const loaded = this.#hosts[0]?.classes ?? {};
      const missing = namespaces.filter((ns) => loaded[ns] === undefined);
      if (missing.length > 0) {
        throw new SourdoughError(ErrorCode.BAD_CLASS, `ClusterCoordinator: class ${missing.join(", ")} is not exported by any of the modules (${this.#config!.modules.join(", ")}). Export it from one of them, or add its module to modules.`);
      }
    } catch (error) {
      this.#startError = error as Error;
      await this.close();
      throw error;
    }
  }

  // Calls fail fast, with the start error, once the cluster failed to start or was closed.
  readonly #guardedRouter: ClientRouter;

  #register(Class: DurableObjectClass): string {
    if (typeof Class !== "function") {
      throw new SourdoughError(ErrorCode.BAD_CLASS, `ClusterCoordinator: expected a Durable Object class, got ${describeValue(Class)}.`);
    }
    assertNamespaceName(Class.name, "ClusterCoordinator");
    if (this.hostCount === 0 && !this.#localClasses.has(Class.name)) {
      this.#localClasses.set(Class.name, Class as unknown as ConcreteDurableObjectClass);
      this.#localTable?.loadAlarms(); // alarms stored by an earlier run for this class
    }
    return Class.name;
  }
}

function bindingNamespaces(durableObjects: Record<string, DurableObjectClass>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [binding, Class] of Object.entries(durableObjects)) {
    if (typeof Class !== "function") {
      throw new SourdoughError(ErrorCode.BAD_CLASS, `durableObjects.${binding}: expected a Durable Object class, got ${describeValue(Class)}.`);
    }
    assertNamespaceName(Class.name, `durableObjects.${binding}`);
    out[binding] = Class.name;
  }
  return out;
}

function moduleUrl(module: string | URL): string {
  if (module instanceof URL) return module.href;
  if (/^[a-z][a-z0-9+.-]*:/i.test(module) && !/^[a-z]:[\\/]/i.test(module)) return module;
  return pathToFileURL(path.resolve(module)).href;
}

const DEFAULT_ISOLATE_MEMORY_MB = 1024;
/** How long health() and metrics() wait for each host's report. */
const REPORT_TIMEOUT_MS = 1000;
const DEFAULT_CPU_LIMIT_MS = 30_000; // Cloudflare's default CPU limit per event

function nonNegativeInt(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 0) throw new SourdoughError(ErrorCode.BAD_OPTIONS, `ClusterCoordinator: ${name} must be a whole number ≥ 0, got ${describeValue(value)}.`);
  return value;
}

function positiveMs(value: number, name: string): number {
  if (typeof value !== "number" || !(value > 0) || !Number.isFinite(value)) throw new SourdoughError(ErrorCode.BAD_OPTIONS, `ClusterCoordinator: ${name} must be a number of milliseconds > 0, got ${describeValue(value)}. Leave it out for no deadline.`);
  return value;
}

function positiveInt(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) throw new SourdoughError(ErrorCode.BAD_OPTIONS, `ClusterCoordinator: ${name} must be a whole number ≥ 1, got ${describeValue(value)}.`);
  return value;
}

// The class modules named by sourdough-gen's registry, as URLs (the registry's paths are relative to
// the generated directory).
function generatedModules(generated: GeneratedModule | undefined): string[] {
  if (generated === undefined) return [];
  return Object.values(generated.registry.classes).map((entry) => new URL(entry.module, generated.url).href);
}
