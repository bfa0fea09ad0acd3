import type { Socket } from 'node:net';
import type { Decision, PresentedKey, Requirement } from './decision.ts';
import type { KeyStore } from './key-store.ts';

// Open websocket (upgraded) tunnels by the key id that opened them. A tunnel was allowed once, at its
// upgrade; it must not outlive its key. So every tunnel is decided again, with the key as it is now,
// whenever the key store reports a change to that key id (disabled, regenerated, deleted, permissions
// narrowed) and when its time runs out (expiry, the end of a regeneration's grace period). A tunnel
// that would now be refused is cut at both ends. We keep the presented key's hash, never the key.

export interface TunnelFacts {
  presented: PresentedKey;
  clientIp: string | undefined;
  requirement: Requirement;
}

interface Tunnel extends TunnelFacts {
  client: Socket;
  upstream: Socket | undefined;
  timer: NodeJS.Timeout | undefined;
}

/** setTimeout's longest delay (about 24.8 days); a later deadline is re-armed when this one fires. */
const MAX_DELAY_MS = 2 ** 31 - 1;

export class TunnelRegistry {
  readonly #byKeyId = new Map<string, Set<Tunnel>>();
  readonly #byClient = new Map<Socket, Tunnel>();
  readonly #decide: (t: TunnelFacts, nowMs: number) => Decision;
  readonly #now: () => number;
  readonly #onClose: (keyId: string, reason: string) => void;
  readonly #onChanged = (keyId: string) => {
    for (const t of this.#byKeyId.get(keyId) ?? []) this.#check(t);
  };
  readonly #store: KeyStore;

  constructor(opts: {
    store: KeyStore;
    decide: (t: TunnelFacts, nowMs: number) => Decision;
    now: () => number;
    onClose: (keyId: string, reason: string) => void;
  }) {
    this.#store = opts.store;
    this.#decide = opts.decide;
    this.#now = opts.now;
    this.#onClose = opts.onClose;
    this.#store.on('changed', this.#onChanged);
  }

  get size(): number {
    return this.#byClient.size;
  }

  /** Tracks a tunnel from its (allowed) upgrade until either end closes. */
  open(client: Socket, facts: TunnelFacts): void {
    const t: Tunnel = { ...facts, client, upstream: undefined, timer: undefined };
    const id = facts.presented.keyId;
    const set = this.#byKeyId.get(id) ?? new Set<Tunnel>();
    this.#byKeyId.set(id, set);
    set.add(t);
    this.#byClient.set(client, t);
    client.once('close', () => this.#forget(t));
    this.#arm(t);
  }

  /** The upstream end of a client's tunnel, once the upstream accepted the upgrade. */
  attachUpstream(client: Socket, upstream: Socket): void {
    const t = this.#byClient.get(client);
    if (t) t.upstream = upstream;
    else upstream.destroy(); // the tunnel was cut while the upstream was still answering
  }

  stop(): void {
    this.#store.off('changed', this.#onChanged);
    for (const t of this.#byClient.values()) clearTimeout(t.timer);
  }

  #check(tunnel: Tunnel): void {
    const d = this.#decide(tunnel, this.#now());
    if (d.allowed) {
      this.#arm(tunnel);
      return;
    }
    this.#forget(tunnel);
    tunnel.client.destroy();
    tunnel.upstream?.destroy();
    this.#onClose(tunnel.presented.keyId, d.code);
  }

  /** Wakes the tunnel at the next moment its key could stop being valid by time alone. */
  #arm(t: Tunnel): void {
    clearTimeout(t.timer);
    t.timer = undefined;
    const key = this.#store.get(t.presented.keyId);
    if (!key) return;
    const now = this.#now();
    const deadlines = [key.expiresAtMs, key.previousValidUntilMs ?? Number.POSITIVE_INFINITY].filter(
      (d) => d > now,
    );
    if (deadlines.length === 0) return;
    const delay = Math.min(Math.min(...deadlines) - now, MAX_DELAY_MS);
    if (!Number.isFinite(delay)) return;
    // A millisecond late, so "expired at expiresAt exactly" holds when it fires.
    t.timer = setTimeout(() => this.#check(t), delay + 1);
    t.timer.unref();
  }

  #forget(t: Tunnel): void {
    clearTimeout(t.timer);
    if (this.#byClient.get(t.client) !== t) return;
    this.#byClient.delete(t.client);
    const set = this.#byKeyId.get(t.presented.keyId);
    set?.delete(t);
    if (set?.size === 0) this.#byKeyId.delete(t.presented.keyId);
  }
}
