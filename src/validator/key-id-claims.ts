import type { StoredKey } from './stored-key.ts';

/**
 * Which Secret's key answers for a key id. A key id claimed by one Secret answers; one claimed by
 * several answers nothing (fail closed) until one claimant remains.
 */
export class KeyIdClaims {
  /** Key ids claimed by exactly one Secret: the only ones a lookup finds. */
  readonly #sole = new Map<string, StoredKey>();
  /** Key ids claimed by more than one Secret (unusable until one remains), with every claimant. */
  readonly #contested = new Map<string, StoredKey[]>();

  /** The sole claimant of the id: one Map read (it runs on every request). */
  get(keyId: string): StoredKey | undefined {
    return this.#sole.get(keyId);
  }

  claim(key: StoredKey): void {
    const id = key.keyId;
    const contested = this.#contested.get(id);
    if (contested) {
      contested.push(key);
      return;
    }
    const sole = this.#sole.get(id);
    if (sole) {
      this.#sole.delete(id);
      this.#contested.set(id, [sole, key]);
    } else {
      this.#sole.set(id, key);
    }
  }

  unclaim(key: StoredKey): void {
    const id = key.keyId;
    const contested = this.#contested.get(id);
    if (!contested) {
      if (this.#sole.get(id) === key) this.#sole.delete(id);
      return;
    }
    const rest = contested.filter((k) => k !== key);
    if (rest.length > 1) {
      this.#contested.set(id, rest);
      return;
    }
    this.#contested.delete(id);
    const sole = rest[0];
    if (sole) this.#sole.set(id, sole);
  }
}
