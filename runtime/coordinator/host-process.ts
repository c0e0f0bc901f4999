// One supervised host process: spawn, wait for "ready" raced against exit and a deadline (a failed
// start reports the host's stderr), restart with exponential backoff after a crash, and stop cleanly.
import { fork, type ChildProcess } from "node:child_process";
import { ErrorCode, SourdoughError } from "../errors.ts";
import type { ClassInfo, ClusterConfig, HostCommand, HostEvent } from "../host/cluster-config.ts";

export const HOST_ENTRY = new URL("../host/host-main.js", import.meta.url);
const STDERR_TAIL_BYTES = 16 * 1024;

export type HostState = "starting" | "ready" | "restarting" | "stopped";

export interface HostProcessOptions {
  index: number;
  config: ClusterConfig;
  startTimeoutMs: number;
  restartInitialMs: number;
  restartMaxMs: number;
  execArgv: string[];
  /** The entry script; tests substitute fake hosts to exercise failures at start. */
  entry: URL | string;
  /** Receives the host's stdout/stderr text (default: forwarded to this process's streams). */
  output(stream: "stdout" | "stderr", text: string): void;
}

export interface HostInfo {
  index: number;
  pid: number | undefined;
  state: HostState;
  restarts: number;
  /** Worker thread ids of the host's isolates, by isolate index (from its latest start). */
  threadIds: number[];
}

export class HostProcess {
  readonly #options: HostProcessOptions;
  #child: ChildProcess | undefined;
  #state: HostState = "starting";
  #restarts = 0;
  #consecutiveFailures = 0;
  #threadIds: number[] = [];
  #classes: ClassInfo = {};
  #stderrTail = "";
  #restartTimer: NodeJS.Timeout | undefined;
  #stableTimer: NodeJS.Timeout | undefined;

  constructor(options: HostProcessOptions) {
    this.#options = options;
  }

  get info(): HostInfo {
    return { index: this.#options.index, pid: this.#child?.pid, state: this.#state, restarts: this.#restarts, threadIds: [...this.#threadIds] };
  }

  get classes(): ClassInfo {
    return this.#classes;
  }

  /** Starts the host; resolves when all its isolates listen. Rejects with ERR_HOST_START. */
  start(): Promise<void> {
    return this.#launch();
  }

  #launch(): Promise<void> {
    const { index, config, startTimeoutMs } = this.#options;
    this.#stderrTail = "";
    const child = fork(this.#options.entry, [], {
      serialization: "advanced",
      stdio: ["ignore", "pipe", "pipe", "ipc"],
      execArgv: this.#options.execArgv,
    });
    this.#child = child;
    child.stdout!.on("data", (d: Buffer) => this.#options.output("stdout", d.toString()));
    child.stderr!.on("data", (d: Buffer) => {
      const text = d.toString();
      this.#stderrTail = (this.#stderrTail + text).slice(-STDERR_TAIL_BYTES);
      this.#options.output("stderr", text);
    });
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      let ready = false;
      const fail = (what: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        child.kill("SIGKILL");
        // Let the stderr pipe drain so the error shows what the host printed last.
        setTimeout(() => {
          const stderr = this.#stderrTail.trim();
          reject(new SourdoughError(ErrorCode.HOST_START, `host ${index} failed to start: ${what}.${stderr ? `\n--- host ${index} stderr ---\n${stderr}` : " It printed nothing on stderr."}`));
        }, 50);
      };
      const timer = setTimeout(() => fail(`not ready within ${startTimeoutMs} ms (raise startTimeoutMs if loading your modules is slow)`), startTimeoutMs);
      child.on("message", (event: HostEvent) => {
        if (event.type === "ready" && !settled) {
          settled = true;
          ready = true;
          clearTimeout(timer);
          this.#state = "ready";
          this.#threadIds = event.threadIds;
          this.#classes = event.classes;
          this.#stableTimer = setTimeout(() => (this.#consecutiveFailures = 0), 10_000).unref();
          resolve();
        } else if (event.type === "fatal") {
          fail(event.message);
        } else if (event.type === "isolate-exit") {
          this.#options.output("stderr", `sourdough: host ${index} isolate ${event.isolate} exited with code ${event.code}; replacing it${event.error ? `\n${event.error}` : ""}\n`);
        } else if (event.type === "isolate-restarted") {
          this.#threadIds[event.isolate] = event.threadId;
        }
      });
      child.on("error", (error) => fail(`spawn error: ${error.message}`));
      child.on("exit", (code, signal) => {
        if (!settled) fail(`exited with ${signal ?? `code ${code}`} before it was ready`);
        else if (ready) this.#onExit(child, code, signal);
      });
      const command: HostCommand = { type: "start", host: index, config };
      child.send(command);
    });
  }

  #onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.#child !== child || this.#state === "stopped") return;
    clearTimeout(this.#stableTimer);
    this.#state = "restarting";
    const delay = Math.min(this.#options.restartInitialMs * 2 ** this.#consecutiveFailures, this.#options.restartMaxMs);
    this.#consecutiveFailures++;
    this.#options.output("stderr", `sourdough: host ${this.#options.index} (pid ${child.pid}) exited with ${signal ?? `code ${code}`}; restarting in ${delay} ms\n`);
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined;
      if (this.#state === "stopped") return;
      this.#restarts++;
      this.#launch().catch((error: unknown) => {
        this.#options.output("stderr", `sourdough: ${error instanceof Error ? error.message : String(error)}\n`);
        const failed = this.#child;
        if (failed !== undefined) this.#onExit(failed, null, null);
      });
    }, delay);
  }

  /** Asks the host to shut down (commit, close databases, remove sockets); kills it after `graceMs`. */
  async stop(graceMs: number): Promise<void> {
    this.#state = "stopped";
    clearTimeout(this.#restartTimer);
    clearTimeout(this.#stableTimer);
    const child = this.#child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    if (child.connected) child.send({ type: "shutdown" } satisfies HostCommand);
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    await exited;
    clearTimeout(timer);
  }
}
