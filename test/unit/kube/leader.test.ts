import { afterEach, describe, expect, it, vi } from 'vitest';
import { type LeaderElectionOptions, LeaderElector } from '../../../src/kube/leader.ts';
import { KubeError, type KubeRest } from '../../../src/kube/rest.ts';

// Leader election against a stand-in for the API server's Lease storage (named so: the real API server
// is exercised by the controller's two-replica tests in test/integration and test/e2e). The stand-in
// keeps the one rule that matters: a write must carry the resourceVersion it read, else 409.

interface StoredLease {
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: {
    holderIdentity?: string;
    leaseTransitions?: number;
    renewTime?: string;
    leaseDurationSeconds?: number;
  };
}

class StandInLeaseStore {
  lease: StoredLease | undefined;
  #rv = 0;
  /** When set, every call fails as if the API server were unreachable. */
  down = false;
  writes = 0;

  #check(): void {
    if (this.down) throw new Error('connect ECONNREFUSED');
  }
  async get<T>(_path: string): Promise<T> {
    this.#check();
    if (!this.lease) throw new KubeError(404, 'NotFound', 'leases not found', {});
    return structuredClone(this.lease) as T;
  }
  async create<T>(_path: string, body: StoredLease): Promise<T> {
    this.#check();
    if (this.lease) throw new KubeError(409, 'AlreadyExists', 'lease exists', {});
    this.writes++;
    this.lease = {
      ...structuredClone(body),
      metadata: { ...body.metadata, resourceVersion: String(++this.#rv) },
    };
    return structuredClone(this.lease) as T;
  }
  async replace<T>(_path: string, body: StoredLease): Promise<T> {
    this.#check();
    if (!this.lease) throw new KubeError(404, 'NotFound', 'leases not found', {});
    if (body.metadata.resourceVersion !== this.lease.metadata.resourceVersion)
      throw new KubeError(409, 'Conflict', 'the object has been modified', {});
    this.writes++;
    this.lease = {
      ...structuredClone(body),
      metadata: { ...body.metadata, resourceVersion: String(++this.#rv) },
    };
    return structuredClone(this.lease) as T;
  }
}

function candidate(store: StandInLeaseStore, identity: string, extra: Partial<LeaderElectionOptions> = {}) {
  const events: string[] = [];
  const elector = new LeaderElector(store as unknown as KubeRest, {
    namespace: 'keywarden-system',
    name: 'keywarden-controller',
    identity,
    leaseDurationMs: 15_000,
    renewDeadlineMs: 10_000,
    retryPeriodMs: 2_000,
    onStartedLeading: () => events.push('started'),
    onStoppedLeading: () => events.push('stopped'),
    ...extra,
  });
  return { elector, events };
}

describe('LeaderElector', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('of two candidates exactly one leads; the other keeps waiting while the lease is renewed', async () => {
    vi.useFakeTimers();
    const store = new StandInLeaseStore();
    const a = candidate(store, 'pod-a');
    const b = candidate(store, 'pod-b');
    a.elector.start();
    b.elector.start();
    // a minute of renewals: b must never lead while a renews
    for (let i = 0; i < 30; i++) {
      await vi.advanceTimersByTimeAsync(2_000);
      expect([a.elector.isLeader, b.elector.isLeader].filter(Boolean)).toHaveLength(1);
    }
    expect(a.events).toEqual(['started']);
    expect(b.events).toEqual([]);
    expect(store.lease?.spec.holderIdentity).toBe('pod-a');
    expect(store.lease?.spec.leaseTransitions).toBe(0);
    await a.elector.stop();
    await b.elector.stop();
  });

  it('a released lease (stop) is taken by the other candidate at its next try, counted as a transition', async () => {
    vi.useFakeTimers();
    const store = new StandInLeaseStore();
    const a = candidate(store, 'pod-a');
    a.elector.start();
    await vi.advanceTimersByTimeAsync(10);
    const b = candidate(store, 'pod-b');
    b.elector.start();
    await vi.advanceTimersByTimeAsync(10);
    expect(a.elector.isLeader).toBe(true);
    await a.elector.stop();
    expect(a.elector.isLeader).toBe(false);
    expect(store.lease?.spec.holderIdentity).toBe('');
    await vi.advanceTimersByTimeAsync(2_000);
    expect(b.elector.isLeader).toBe(true);
    expect(b.events).toEqual(['started']);
    expect(store.lease?.spec.leaseTransitions).toBe(1);
    await b.elector.stop();
  });

  it('a crashed leader (no stop, no renewals) is replaced only after the lease duration', async () => {
    vi.useFakeTimers();
    const store = new StandInLeaseStore();
    const a = candidate(store, 'pod-a');
    a.elector.start();
    await vi.advanceTimersByTimeAsync(10);
    // SIGKILL stand-in: the timers of pod-a stop; the lease stays as it was last renewed.
    vi.clearAllTimers();
    const b = candidate(store, 'pod-b');
    b.elector.start();
    await vi.advanceTimersByTimeAsync(14_000);
    expect(b.elector.isLeader).toBe(false);
    await vi.advanceTimersByTimeAsync(4_000);
    expect(b.elector.isLeader).toBe(true);
    expect(store.lease?.spec.holderIdentity).toBe('pod-b');
    await b.elector.stop();
  });

  it('a leader that cannot renew within the renew deadline stops leading (before another may take over)', async () => {
    vi.useFakeTimers();
    const store = new StandInLeaseStore();
    const errors: unknown[] = [];
    const a = candidate(store, 'pod-a', { onError: (e) => errors.push(e) });
    a.elector.start();
    await vi.advanceTimersByTimeAsync(10);
    expect(a.elector.isLeader).toBe(true);
    store.down = true;
    await vi.advanceTimersByTimeAsync(9_000);
    expect(a.events).toEqual(['started']);
    await vi.advanceTimersByTimeAsync(4_000);
    expect(a.events).toEqual(['started', 'stopped']);
    expect(a.elector.isLeader).toBe(false);
    expect(errors.length).toBeGreaterThan(0);
    // It stopped before the lease (15 s) ran out, so no moment had two leaders.
    store.down = false;
    const writes = store.writes;
    await vi.advanceTimersByTimeAsync(10_000);
    expect(store.writes).toBe(writes); // a stopped elector does not campaign again
  });

  it('a write from a stale read is refused: two candidates racing for a free lease cannot both win', async () => {
    const store = new StandInLeaseStore();
    const a = candidate(store, 'pod-a');
    const b = candidate(store, 'pod-b');
    // both start in the same tick: both see "not found" and both create; the second create conflicts
    a.elector.start();
    b.elector.start();
    await new Promise((r) => setTimeout(r, 20));
    expect([a.elector.isLeader, b.elector.isLeader].filter(Boolean)).toHaveLength(1);
    await a.elector.stop();
    await b.elector.stop();
  });
});
