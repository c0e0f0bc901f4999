// Entry point of a host process. Its main thread runs no user code: it starts the isolate pool,
// replaces an isolate that dies (with backoff), reports to the coordinator over IPC, and shuts the
// pool down on request or when the coordinator goes away (so a host never outlives its coordinator).
import { Worker } from "node:worker_threads";
import type { ClassInfo, ClusterConfig, HostCommand, HostEvent, IsolateEvent } from "./cluster-config.ts";

// Hosts always run compiled JavaScript (dist/); user modules may be TypeScript (see load-classes.ts).
const ISOLATE_ENTRY = new URL("./isolate-main.js", import.meta.url);
const SHUTDOWN_GRACE_MS = 3000;

function send(event: HostEvent): void {
  if (process.connected) process.send!(event);
}

class IsolatePool {
  readonly #config: ClusterConfig;
  readonly #host: number;
  readonly #workers: Array<Worker | undefined>;
  readonly #failures: number[];
  #stopping = false;

  constructor(config: ClusterConfig, host: number) {
    this.#config = config;
    this.#host = host;
    this.#workers = Array.from({ length: config.isolatesPerHost }, (): Worker | undefined => undefined);
    this.#failures = new Array<number>(config.isolatesPerHost).fill(0);
  }

  async start(): Promise<ClassInfo> {
    const infos = await Promise.all(this.#workers.map((_, i) => this.#spawn(i)));
    return infos[0] ?? {};
  }

  threadIds(): number[] {
    return this.#workers.map((w) => w?.threadId ?? -1);
  }

  // Starts isolate i and resolves with its classes once it listens; rejects if it dies first.
  #spawn(i: number): Promise<ClassInfo> {
    const heap = this.#config.isolateHeapMb;
    const worker = new Worker(ISOLATE_ENTRY, {
      workerData: { config: this.#config, host: this.#host, isolate: i },
      ...(heap !== undefined ? { resourceLimits: { maxOldGenerationSizeMb: heap } } : {}),
    });
    this.#workers[i] = worker;
    return new Promise<ClassInfo>((resolve, reject) => {
      let ready = false;
      let fatal: string | undefined;
      worker.on("message", (event: IsolateEvent) => {
        if (event.type === "ready") {
          ready = true;
          resolve(event.classes);
        } else if (event.type === "fatal") {
          fatal = event.message;
        }
      });
      worker.on("error", (error) => (fatal = error.stack ?? error.message));
      worker.on("exit", (code) => {
        if (this.#workers[i] === worker) this.#workers[i] = undefined;
        if (!ready) {
          reject(new Error(`isolate ${i} exited with code ${code} before it was ready${fatal ? `:\n${fatal}` : ""}`));
          return;
        }
        if (this.#stopping) return;
        send({ type: "isolate-exit", isolate: i, code, error: fatal });
        this.#replace(i);
      });
    });
  }

  #replace(i: number): void {
    const delay = Math.min(100 * 2 ** this.#failures[i]!, 5000);
    this.#failures[i]!++;
    setTimeout(() => {
      if (this.#stopping) return;
      this.#spawn(i).then(
        () => {
          const worker = this.#workers[i];
          if (worker !== undefined) send({ type: "isolate-restarted", isolate: i, threadId: worker.threadId });
          setTimeout(() => (this.#failures[i] = 0), 10_000).unref();
        },
        (error: unknown) => {
          process.stderr.write(`sourdough host ${this.#host}: ${error instanceof Error ? error.message : String(error)}\n`);
          this.#replace(i);
        },
      );
    }, delay).unref();
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    await Promise.all(
      this.#workers.map(async (worker) => {
        if (worker === undefined) return;
        const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
        worker.postMessage({ type: "shutdown" });
        const timer = setTimeout(() => void worker.terminate(), SHUTDOWN_GRACE_MS);
        await exited;
        clearTimeout(timer);
      }),
    );
  }
}

let pool: IsolatePool | undefined;

async function shutdown(code: number): Promise<void> {
  await pool?.stop();
  process.exit(code);
}

process.on("message", (command: HostCommand) => {
  if (command.type === "start") {
    pool = new IsolatePool(command.config, command.host);
    pool.start().then(
      (classes) => send({ type: "ready", classes, threadIds: pool!.threadIds() }),
      (error: unknown) => {
        send({ type: "fatal", message: error instanceof Error ? error.message : String(error) });
        void shutdown(1);
      },
    );
  } else if (command.type === "shutdown") {
    void shutdown(0);
  }
});
// The coordinator is gone (it exited or was killed): do not linger as an orphan.
process.on("disconnect", () => void shutdown(0));
