// A table of pending things by a numeric id (question ids), for the call path: what a Map would do,
// without a Map's cost there. A long-lived Map (promoted to V8's old generation) whose entries are
// added and deleted at call rate keeps each replaced hash table linked to its successor, so every
// value it held at a rehash survives the young-generation GCs until the next full GC: with 256 calls
// in flight that promoted megabytes per scavenge and cost a third of an isolate's throughput.
// Ids in flight on one connection are nearly consecutive, so entries live in a ring indexed by the
// id's low bits (no hashing, no allocation per entry); an id whose slot is taken by an older entry
// still waiting goes to a small overflow table (a call that stays open while many others pass).
const INITIAL_SLOTS = 64;
const MAX_SLOTS = 1 << 16;

export class IdTable<T> {
  #ids = new Float64Array(INITIAL_SLOTS);
  #values: Array<T | undefined> = new Array<T | undefined>(INITIAL_SLOTS).fill(undefined);
  #mask = INITIAL_SLOTS - 1;
  #overflow: Record<number, T> | undefined; // null-prototype object: see above for why not a Map
  #overflowSize = 0;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  get(id: number): T | undefined {
    const i = id & this.#mask;
    const value = this.#values[i];
    if (value !== undefined && this.#ids[i] === id) return value;
    return this.#overflowSize === 0 ? undefined : this.#overflow![id];
  }

  /** Adds an entry; `id` must not be in the table. */
  set(id: number, value: T): void {
    this.#size++;
    let i = id & this.#mask;
    if (this.#values[i] !== undefined && this.#values.length < MAX_SLOTS && this.#size * 2 > this.#values.length) {
      this.#grow();
      i = id & this.#mask;
    }
    if (this.#values[i] === undefined) {
      this.#ids[i] = id;
      this.#values[i] = value;
      return;
    }
    (this.#overflow ??= Object.create(null) as Record<number, T>)[id] = value;
    this.#overflowSize++;
  }

  /** Removes and returns the entry, if any. */
  take(id: number): T | undefined {
    const i = id & this.#mask;
    const value = this.#values[i];
    if (value !== undefined && this.#ids[i] === id) {
      this.#values[i] = undefined;
      this.#size--;
      return value;
    }
    if (this.#overflowSize === 0) return undefined;
    const other = this.#overflow![id];
    if (other === undefined) return undefined;
    delete this.#overflow![id];
    this.#overflowSize--;
    this.#size--;
    return other;
  }

  /** Empties the table and returns what it held, by id. */
  takeAll(): Array<[number, T]> {
    const all: Array<[number, T]> = [];
    for (let i = 0; i < this.#values.length; i++) {
      const value = this.#values[i];
      if (value !== undefined) all.push([this.#ids[i]!, value]);
    }
    if (this.#overflow !== undefined) for (const key of Object.keys(this.#overflow)) all.push([Number(key), this.#overflow[Number(key)]!]);
    all.sort((a, b) => a[0] - b[0]);
    this.#values = new Array<T | undefined>(INITIAL_SLOTS).fill(undefined);
    this.#ids = new Float64Array(INITIAL_SLOTS);
    this.#mask = INITIAL_SLOTS - 1;
    this.#overflow = undefined;
    this.#overflowSize = 0;
    this.#size = 0;
    return all;
  }

  // Doubles the ring and re-places its entries; overflow entries that now fit move in.
  #grow(): void {
    const ids = this.#ids;
    const values = this.#values;
    const size = this.#size;
    const overflow = this.#overflow;
    this.#ids = new Float64Array(values.length * 2);
    this.#values = new Array<T | undefined>(values.length * 2).fill(undefined);
    this.#mask = values.length * 2 - 1;
    this.#overflow = undefined;
    this.#overflowSize = 0;
    this.#size = 0;
    for (let i = 0; i < values.length; i++) if (values[i] !== undefined) this.set(ids[i]!, values[i]!);
    if (overflow !== undefined) for (const key of Object.keys(overflow)) this.set(Number(key), overflow[Number(key)]!);
    this.#size = size;
  }
}
