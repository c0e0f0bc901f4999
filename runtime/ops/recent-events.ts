// The last restarts and resets of a cluster, newest last, for the dashboard (bounded ring).
export interface RecentEvent {
  at: number;
  kind: "host-exit" | "host-back" | "isolate-exit" | "isolate-back" | "reset";
  text: string;
}

const KEEP = 50;

export class RecentEvents {
  readonly #events: RecentEvent[] = [];
  add(kind: RecentEvent["kind"], text: string): void {
    this.#events.push({ at: Date.now(), kind, text });
    if (this.#events.length > KEEP) this.#events.shift();
  }
  list(): RecentEvent[] {
    return [...this.#events];
  }
}
