// Fires alarms for the objects one isolate owns, whether or not they are in memory: one timer for
// the earliest alarm, an index on disk so a restarted host (or coordinator) finds them again, and
// retries with exponential backoff when the handler throws (Cloudflare: from 2 s, up to 6 retries).
import type { AlarmEntry, AlarmIndex } from "../storage/alarm-index.ts";

export const MAX_ALARM_RETRIES = 6;
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface AlarmSchedulerOptions {
  index: AlarmIndex;
  /** First retry delay; doubles per retry. */
  retryBaseMs: number;
  /** Runs the object's alarm handler through its input gate; resolves true when it succeeded. */
  fire(entry: AlarmEntry): Promise<boolean>;
  /** Reports an alarm dropped after its last retry. */
  gaveUp(entry: AlarmEntry, attempts: number): void;
}

export class AlarmScheduler {
  readonly #options: AlarmSchedulerOptions;
  readonly #entries = new Map<string, AlarmEntry>();
  readonly #running = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: AlarmSchedulerOptions) {
    this.#options = options;
  }

  /** Loads the alarms this isolate owns from the index (after a restart). */
  load(owns: (entry: AlarmEntry) => boolean): void {
    for (const entry of this.#options.index.all()) {
      const k = key(entry);
      if (owns(entry) && !this.#entries.has(k)) this.#entries.set(k, entry);
    }
    this.#arm();
  }

  /** The object's alarm was set (time) or deleted (null) by the object itself. */
  changed(namespace: string, objectId: string, name: string | undefined, time: number | null): void {
    const k = `${namespace}:${objectId}`;
    if (time === null) {
      this.#entries.delete(k);
      this.#options.index.delete(namespace, objectId);
    } else {
      const entry: AlarmEntry = { namespace, objectId, name, time, retryCount: 0 };
      this.#entries.set(k, entry);
      this.#options.index.set(entry);
    }
    this.#arm();
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#options.index.close();
  }

  #arm(): void {
    clearTimeout(this.#timer);
    if (this.#closed) return;
    let next = Infinity;
    for (const [k, e] of this.#entries) if (!this.#running.has(k) && e.time < next) next = e.time;
    if (next === Infinity) return;
    this.#timer = setTimeout(() => this.#fireDue(), Math.min(Math.max(0, next - Date.now()), MAX_TIMER_MS));
    this.#timer.unref();
  }

  #fireDue(): void {
    const now = Date.now();
    for (const [k, entry] of this.#entries) {
      if (entry.time > now || this.#running.has(k)) continue;
      this.#running.add(k);
      void this.#options.fire(entry).then(
        (ok) => this.#settle(k, entry, ok),
        () => this.#settle(k, entry, false),
      );
    }
    this.#arm();
  }

  #settle(k: string, fired: AlarmEntry, ok: boolean): void {
    this.#running.delete(k);
    if (this.#closed) return;
    const current = this.#entries.get(k);
    if (current !== fired) return this.#arm(); // the handler set or deleted the alarm itself
    if (ok) {
      this.#entries.delete(k);
      this.#options.index.delete(fired.namespace, fired.objectId);
    } else if (fired.retryCount >= MAX_ALARM_RETRIES) {
      this.#entries.delete(k);
      this.#options.index.delete(fired.namespace, fired.objectId);
      this.#options.gaveUp(fired, fired.retryCount + 1);
    } else {
      const retry: AlarmEntry = { ...fired, retryCount: fired.retryCount + 1, time: Date.now() + this.#options.retryBaseMs * 2 ** fired.retryCount };
      this.#entries.set(k, retry);
      this.#options.index.set(retry);
    }
    this.#arm();
  }
}

function key(entry: AlarmEntry): string {
  return `${entry.namespace}:${entry.objectId}`;
}
