// Sharing of equal values between keys: most keys carry one of a few permission sets, customer
// lists and source lists, so at 100,000 keys one shared copy each (and one compiled source matcher per
// distinct list) saves most of the store's memory. A plain cache: cleared when it grows past its limit,
// which costs only the sharing, never correctness.

export class Interner<T> {
  readonly #map = new Map<string, T>();
  readonly #limit: number;

  constructor(limit = 20_000) {
    this.#limit = limit;
  }

  get(id: string, make: () => T): T {
    const found = this.#map.get(id);
    if (found !== undefined) return found;
    if (this.#map.size >= this.#limit) this.#map.clear();
    const made = make();
    this.#map.set(id, made);
    return made;
  }
}

/** The same array for the same list of strings (frozen: callers share it). */
export function internList(interner: Interner<readonly string[]>, list: readonly string[]): string[] {
  return interner.get(list.join('\n'), () => Object.freeze([...list])) as string[];
}
