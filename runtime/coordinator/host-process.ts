// One supervised host process: spawn, wait for "ready" raced against exit and a deadline (a failed
// start reports the host's stderr), restart after a crash (when: util/restart-policy.ts), stop cleanly.
import { fork, type ChildProcess } from "node:child_process";
import { ErrorCode, SourdoughError } from "../errors.ts";
import type { ClassInfo, ClusterConfig, HostCommand, HostEvent } from "../host/cluster-config.ts";
import { RestartPolicy, type RestartDecision, type RestartPolicyOptions } from "../util/restart-policy.ts";
import type { Logger } from "../ops/logger.ts";
import { logAt } from "../ops/logger.ts";
import { isHostReport, isOpsHostMessage, type HostReport, type OpsHostMessage, type OpsReportRequest } from "../ops/ops-messages.ts";

export const HOST_ENTRY = new URL("../host/host-main.js", import.meta.url);
const STDERR_TAIL_BYTES = 16 * 1024;

export type HostState = "starting" | "ready" | "restarting" | "stopped";

export interface HostProcessOptions {
  index: number;
  config: ClusterConfig;
  startTimeoutMs: number;
  /** When to restart after a crash (ClusterCoordinatorOptions.restartBackoff). */
  restart: RestartPolicyOptions;
  execArgv: string[];
  /** The entry script; tests substitute fake hosts to exercise failures at start. */
  entry: URL | string;
  /** Receives the host's stdout/stderr text (default: forwarded to this process's streams). */
  output(stream: "stdout" | "stderr", text: string): void;
  /** Lifecycle lines (start, exit with cause, restart, back after N ms) and what hosts report. */
  logger: Logger;
  /** Told of restarts and resets, for the dashboard's recent events. */
  onEvent(kind: "host-exit" | "host-back" | "isolate-exit" | "isolate-back" | "reset", text: string): void;
}

export interface HostInfo {
  index: number;
  pid: number | undefined;
  state: HostState;
  restarts: number;
  /** Worker thread ids of the host's isolates, by isolate index (from its latest start). */
  threadIds: number[];
  /** The spare process forked after the host's first crash, to take its place after the next one. */
  standbyPid: number | undefined;
}

export class HostProcess {
  readonly #options: HostProcessOptions;
  #child: ChildProcess | undefined;
  // A host process that has booted Node and loaded host-main but was not sent "start" yet. Kept only
  // for a host that crashed once: it saves a restart the fork and boot (60–90 ms of 170–250 ms on an
  // idle 2-core machine) for the price of one idle process (~45 MB).
  #standby: ChildProcess | undefined;
  #state: HostState = "starting";
  #restarts = 0;
  readonly #policy: RestartPolicy;
  #threadIds: number[] = [];
  #classes: ClassInfo = {};
  #stderrTail = "";
  #restartTimer: NodeJS.Timeout | undefined;
  #readyAt: number | undefined;
  #downSince: number | undefined;
  readonly #reports = new Map<number, (report: HostReport | undefined) => void>();
  #nextReport = 1;

  constructor(options: HostProcessOptions) {
    this.#options = options;
    this.#policy = new RestartPolicy(options.restart, "restartBackoff");
  }

  get info(): HostInfo {
    const { index } = this.#options;
    return { index, pid: this.#child?.pid, state: this.#state, restarts: this.#restarts, threadIds: [...this.#threadIds], standbyPid: this.#standby?.pid };
  }

  /** Milliseconds since the running process became ready (undefined when it is not ready). */
  get uptimeMs(): number | undefined {
    return this.#state === "ready" && this.#readyAt !== undefined ? performance.now() - this.#readyAt : undefined;
  }

  /**
   * Asks the host for its figures (ops/host-reporter.ts); undefined when it is not ready or does
   * not answer within `timeoutMs`. `metrics` adds the isolates' counters and process metrics.
   */
  report(metrics: boolean, timeoutMs: number): Promise<HostReport | undefined> {
    const child = this.#child;
    if (this.#state !== "ready" || child === undefined || !child.connected) return Promise.resolve(undefined);
    const id = this.#nextReport++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => done(undefined), timeoutMs);
      const done = (report: HostReport | undefined) => {
        clearTimeout(timer);
        this.#reports.delete(id);
        resolve(report);
      };
      this.#reports.set(id, done);
      child.send({ type: "ops-report", id, metrics } satisfies OpsReportRequest, (error) => {
        if (error) done(undefined);
      });
    });
  }

  #onOps(message: OpsHostMessage): void {
    const { index } = this.#options;
    if (message.type === "ops-report") {
      this.#reports.get(message.id)?.(isHostReport(message.report) ? message.report : undefined);
    } else if (message.type === "ops-log") {
      const text = String(message.message);
      logAt(this.#options.logger, message.level, text, { host: index, ...(typeof message.isolate === "number" ? { isolate: message.isolate } : {}) });
      if (message.event === "isolate-back") this.#options.onEvent("isolate-back", text);
    } else if (message.type === "ops-reset") {
      const text = `host ${index} isolate ${message.isolate}: object ${message.namespace} ${message.objectId} was reset: ${message.error}`;
      this.#options.logger.warn(`${text}\n${message.detail}`, { host: index, isolate: message.isolate, class: message.namespace, objectId: message.objectId });
      this.#options.onEvent("reset", text);
    }
  }

  get classes(): ClassInfo {
    return this.#classes;
  }

  /** Starts the host; resolves when all its isolates listen. Rejects with ERR_HOST_START. */
  start(): Promise<void> {
    return this.#launch();
  }

  #fork(): ChildProcess {
    const child = fork(this.#options.entry, [], {
      serialization: "advanced",
      stdio: ["ignore", "pipe", "pipe", "ipc"],
      execArgv: this.#options.execArgv,
    });
    child.stdout!.on("data", (d: Buffer) => this.#options.output("stdout", d.toString()));
    child.stderr!.on("data", (d: Buffer) => {
      const text = d.toString();
      if (child === this.#child) this.#stderrTail = (this.#stderrTail + text).slice(-STDERR_TAIL_BYTES);
      this.#options.output("stderr", text);
    });
    return child;
  }

  #launch(): Promise<void> {
    const { index, config, startTimeoutMs } = this.#options;
    this.#stderrTail = "";
    this.#policy.starting(performance.now());
    const standby = this.#standby;
    this.#standby = undefined;
    const child = standby !== undefined && standby.connected ? standby : this.#fork();
    this.#child = child;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      let ready = false;
      const fail = (what: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        child.kill("SIGKILL");
        // Let the stderr pipe drain (up to 50 ms) so the error shows what the host printed last.
        void drained(child, 50).then(() => {
          const stderr = this.#stderrTail.trim();
          reject(new SourdoughError(ErrorCode.HOST_START, `host ${index} failed to start: ${what}.${stderr ? `\n--- host ${index} stderr ---\n${stderr}` : " It printed nothing on stderr."}`));
        });
      };
      const timer = setTimeout(() => fail(`not ready within ${startTimeoutMs} ms (raise startTimeoutMs if loading your modules is slow)`), startTimeoutMs);
      child.on("message", (event: HostEvent | OpsHostMessage) => {
        if (isOpsHostMessage(event)) return this.#onOps(event);
        if (event.type === "ready" && !settled) {
          settled = true;
          ready = true;
          clearTimeout(timer);
          if (this.#state === "stopped") return resolve(); // close() came first: no state, no standby
          this.#state = "ready";
          this.#threadIds = event.threadIds;
          this.#classes = event.classes;
          this.#policy.ready(performance.now());
          this.#readyAt = performance.now();
          const what = `(pid ${child.pid}, ${event.threadIds.length} isolate${event.threadIds.length === 1 ? "" : "s"})`;
          if (this.#downSince === undefined) {
            this.#options.logger.info(`host ${index} ready ${what}`, { host: index, pid: child.pid });
          } else {
            const text = `host ${index} back after ${Math.round(performance.now() - this.#downSince)} ms ${what}`;
            this.#downSince = undefined;
            this.#options.logger.info(text, { host: index, pid: child.pid });
            this.#options.onEvent("host-back", text);
          }
          if (this.#restarts > 0) this.#prepareStandby();
          resolve();
        } else if (event.type === "fatal") {
          fail(event.message);
        } else if (event.type === "isolate-exit") {
          const text = `host ${index} isolate ${event.isolate} exited with code ${event.code}; replacing it`;
          this.#options.logger.warn(`${text}${event.error ? `\n${event.error}` : ""}`, { host: index, isolate: event.isolate, code: event.code });
          this.#options.onEvent("isolate-exit", `${text}${event.error ? `: ${event.error.split("\n")[0]}` : ""}`);
        } else if (event.type === "isolate-restarted") {
          this.#threadIds[event.isolate] = event.threadId;
        }
      });
      child.on("error", (error) => fail(`spawn error: ${error.message}`));
      child.on("exit", (code, signal) => {
        if (!settled) fail(`exited with ${signal ?? `code ${code}`} before it was ready`);
        else if (ready) this.#onExit(child, `exited with ${signal ?? `code ${code}`}`);
      });
      const command: HostCommand = { type: "start", host: index, config };
      child.send(command);
    });
  }

  #prepareStandby(): void {
    if (this.#standby !== undefined || this.#state === "stopped") return;
    const standby = this.#fork();
    this.#standby = standby;
    standby.on("error", () => {}); // a spare that cannot spawn is dropped below; the next restart forks
    standby.on("exit", () => {
      if (this.#standby === standby) this.#standby = undefined;
    });
  }

  #onExit(child: ChildProcess, how: string): void {
    if (this.#child !== child || this.#state === "stopped") return;
    this.#state = "restarting";
    this.#downSince ??= performance.now();
    for (const done of this.#reports.values()) done(undefined);
    const decision = this.#policy.exited(performance.now());
    const text = `host ${this.#options.index} (pid ${child.pid}) ${how}${describeRestart(decision)}`;
    this.#options.logger.warn(text, { host: this.#options.index, pid: child.pid });
    this.#options.onEvent("host-exit", text);
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined;
      if (this.#state === "stopped") return;
      this.#restarts++;
      this.#launch().catch((error: unknown) => {
        this.#options.logger.error(error instanceof Error ? error.message : String(error), { host: this.#options.index });
        const failed = this.#child;
        if (failed !== undefined) this.#onExit(failed, "did not become ready");
      });
    }, decision.delayMs);
  }

  /** Asks the host to shut down (commit, close databases, remove sockets); kills it after `graceMs`. */
  async stop(graceMs: number): Promise<void> {
    this.#state = "stopped";
    clearTimeout(this.#restartTimer);
    for (const done of this.#reports.values()) done(undefined);
    const standby = this.#standby;
    this.#standby = undefined;
    await Promise.all([this.#child, standby].map((child) => child !== undefined && stopChild(child, graceMs)));
  }
}

function drained(child: ChildProcess, maxMs: number): Promise<void> {
  const stderr = child.stderr;
  if (stderr === null || stderr.closed) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, maxMs);
    stderr.once("close", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

async function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  if (child.connected) child.send({ type: "shutdown" } satisfies HostCommand);
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}

function describeRestart({ delayMs, earlyDeaths, uptimeMs, startMs }: RestartDecision): string {
  const served = uptimeMs === undefined ? "" : ` after ${uptimeMs < 10_000 ? `${Math.round(uptimeMs)} ms` : `${Math.round(uptimeMs / 1000)} s`} ready (its start took ${Math.round(startMs ?? 0)} ms)`;
  if (delayMs === 0) return `${served}; restarting it now`;
  return `${served}; restarting it in ${delayMs} ms (${earlyDeaths} early death${earlyDeaths > 1 ? "s" : ""} in a row: backing off, at most restartBackoff.maxMs)`;
}
