// When to restart a supervised process (a host, or an isolate inside its host) after it died: at once
// if it had been serving, with a short capped backoff only while it keeps dying early. Pure: the
// caller passes the clock; spawning and timers stay with the supervisor.
import { ErrorCode, SourdoughError, describeValue } from "../errors.ts";

export interface RestartPolicyOptions {
  /** Delay after the second early death in a row (the first is restarted at once); doubles with each further one. Default 100 ms. */
  initialMs?: number;
  /** Largest delay. Default 1000 ms. */
  maxMs?: number;
  /**
   * A process that served (was ready) at least this long before it died is restarted at once, and
   * its streak of early deaths is forgotten; one that died sooner, or before it was ready, died early.
   * Default 500 ms.
   */
  minUptimeMs?: number;
}

export interface RestartDecision {
  /** How long to wait before starting the replacement (0: at once). */
  delayMs: number;
  /** Early deaths in a row, this one included (0 when it had been serving long enough). */
  earlyDeaths: number;
  /** How long it had been ready before it died; undefined if it died before it was ready. */
  uptimeMs: number | undefined;
  /** How long its start took (start to ready); undefined if it died before it was ready. */
  startMs: number | undefined;
}

export const DEFAULT_RESTART_POLICY: Required<RestartPolicyOptions> = { initialMs: 100, maxMs: 1000, minUptimeMs: 500 };

/**
 * Why this policy: a restart costs one start-up (100–300 ms of one core on an idle machine: a Node
 * process or thread, tsx, the user's modules), and backing off buys nothing but that CPU back, while
 * every millisecond of delay is a millisecond in which the process's objects are unavailable. A
 * process that served at least `minUptimeMs` was killed from outside or crashed on one event:
 * restarting it at once keeps its objects available, and restarts that each follow 500 ms of service
 * take at most S ÷ (S + 500 ms) of a core for a start-up of S. (Asking it also to have served as
 * long as its start took was tried: on a loaded machine starts take a second, and kills a second
 * apart were then taken for a crash loop.) A process that dies before it is ready, or soon
 * after, may be in a loop of its own making (a broken module, a disk that refuses its files, an
 * object that crashes it on its first call), or may just have been killed again while starting. So
 * the first early death is restarted at once too, and from the second in a row the delay grows:
 * initialMs doubling to maxMs, a cap low enough that the process is back within a second of the
 * cause going away, while a loop costs at most one start-up per second.
 */
export class RestartPolicy {
  readonly #options: Required<RestartPolicyOptions>;
  #startedAt: number | undefined;
  #readyAt: number | undefined;
  #earlyDeaths = 0;

  /** Throws ERR_BAD_OPTIONS, naming `where`, for a value that is not a finite number ≥ 0. */
  constructor(options: RestartPolicyOptions = {}, where = "RestartPolicy") {
    this.#options = restartPolicyOptions(options, where);
  }

  /** The process is being started at `now` (ms, any monotonic clock). */
  starting(now: number): void {
    this.#startedAt = now;
    this.#readyAt = undefined;
  }

  /** The process became ready at `now`. */
  ready(now: number): void {
    this.#readyAt = now;
  }

  /** The process died at `now` (before or after it was ready): how long to wait before the next start. */
  exited(now: number): RestartDecision {
    const { initialMs, maxMs, minUptimeMs } = this.#options;
    const uptimeMs = this.#readyAt === undefined ? undefined : now - this.#readyAt;
    const startMs = this.#readyAt === undefined || this.#startedAt === undefined ? undefined : this.#readyAt - this.#startedAt;
    this.#startedAt = this.#readyAt = undefined;
    if (uptimeMs !== undefined && uptimeMs >= minUptimeMs) {
      this.#earlyDeaths = 0;
      return { delayMs: 0, earlyDeaths: 0, uptimeMs, startMs };
    }
    this.#earlyDeaths++;
    const delayMs = this.#earlyDeaths === 1 ? 0 : Math.min(initialMs * 2 ** (this.#earlyDeaths - 2), maxMs);
    return { delayMs, earlyDeaths: this.#earlyDeaths, uptimeMs, startMs };
  }
}

/** `options` with the defaults filled in; throws ERR_BAD_OPTIONS, naming `where`, for a value that is not a finite number ≥ 0. */
export function restartPolicyOptions(options: RestartPolicyOptions, where: string): Required<RestartPolicyOptions> {
  const out = { ...DEFAULT_RESTART_POLICY };
  for (const key of ["initialMs", "maxMs", "minUptimeMs"] as const) {
    const value = options[key];
    if (value === undefined) continue;
    if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
      throw new SourdoughError(ErrorCode.BAD_OPTIONS, `${where}.${key}: expected a number of milliseconds ≥ 0, got ${describeValue(value)}. Leave it out for the default (${DEFAULT_RESTART_POLICY[key]}).`);
    }
    out[key] = value;
  }
  return out;
}
