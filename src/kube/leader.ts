import { LEASES } from './resources.ts';
import { isConflict, isNotFound, KubeError, type KubeRest, resourcePath } from './rest.ts';

// Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it: the holder
// renews every retry period; a candidate takes the lease once renewTime + leaseDuration has passed.
// Every write carries the resourceVersion it read, so two candidates can never both win.

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  onStartedLeading: () => void;
  /** Called once when leadership is lost; the process should stop acting (and usually exit). */
  onStoppedLeading: () => void;
  onError?: (err: unknown) => void;
}

interface Lease {
  apiVersion: 'coordination.k8s.io/v1';
  kind: 'Lease';
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

const microTime = (d: Date) => d.toISOString().replace('Z', '000Z');

export class LeaderElector {
  readonly #rest: KubeRest;
  readonly #o: Required<Omit<LeaderElectionOptions, 'onError'>> & Pick<LeaderElectionOptions, 'onError'>;
  #leading = false;
  #stopped = false;
  #timer: NodeJS.Timeout | undefined;
  #lastRenew = 0;

  constructor(rest: KubeRest, opts: LeaderElectionOptions) {
    this.#rest = rest;
    this.#o = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000, ...opts };
  }

  get isLeader(): boolean {
    return this.#leading;
  }

  #path(name?: string): string {
    return resourcePath(LEASES, this.#o.namespace, name);
  }

  start(): void {
    const tick = async () => {
      if (this.#stopped) return;
      try {
        const ok = await this.#tryAcquireOrRenew();
        if (ok) this.#lastRenew = Date.now();
        if (ok && !this.#leading) {
          this.#leading = true;
          this.#o.onStartedLeading();
        }
      } catch (err) {
        this.#o.onError?.(err);
      }
      if (this.#leading && Date.now() - this.#lastRenew > this.#o.renewDeadlineMs) {
        this.#leading = false;
        this.#stopped = true;
        this.#o.onStoppedLeading();
        return;
      }
      if (!this.#stopped) this.#timer = setTimeout(tick, this.#o.retryPeriodMs);
    };
    void tick();
  }

  /** Stops campaigning; a leader releases the lease so another candidate takes over at once. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    if (!this.#leading) return;
    this.#leading = false;
    try {
      const lease = await this.#rest.get<Lease>(this.#path(this.#o.name));
      if (lease.spec.holderIdentity === this.#o.identity) {
        lease.spec.holderIdentity = '';
        lease.spec.leaseDurationSeconds = 1;
        await this.#rest.replace(this.#path(this.#o.name), lease);
      }
    } catch {
      // best effort: the lease expires by itself
    }
  }

  async #tryAcquireOrRenew(): Promise<boolean> {
    const now = new Date();
    const durationSeconds = Math.ceil(this.#o.leaseDurationMs / 1000);
    let lease: Lease;
    try {
      lease = await this.#rest.get<Lease>(this.#path(this.#o.name));
    } catch (err) {
      if (!isNotFound(err)) throw err;
      const fresh: Lease = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: this.#o.name, namespace: this.#o.namespace },
        spec: {
          holderIdentity: this.#o.identity,
          leaseDurationSeconds: durationSeconds,
          acquireTime: microTime(now),
          renewTime: microTime(now),
          leaseTransitions: 0,
        },
      };
      try {
        await this.#rest.create(this.#path(), fresh);
        return true;
      } catch (e) {
        if (isConflict(e)) return false;
        throw e;
      }
    }
    const holder = lease.spec.holderIdentity ?? '';
    const renewedAt = lease.spec.renewTime ? Date.parse(lease.spec.renewTime) : 0;
    const expired = renewedAt + (lease.spec.leaseDurationSeconds ?? durationSeconds) * 1000 < now.getTime();
    if (holder !== '' && holder !== this.#o.identity && !expired) return false;
    const takingOver = holder !== this.#o.identity;
    lease.spec = {
      ...lease.spec,
      holderIdentity: this.#o.identity,
      leaseDurationSeconds: durationSeconds,
      renewTime: microTime(now),
      ...(takingOver
        ? { acquireTime: microTime(now), leaseTransitions: (lease.spec.leaseTransitions ?? 0) + 1 }
        : {}),
    };
    try {
      await this.#rest.replace(this.#path(this.#o.name), lease);
      return true;
    } catch (err) {
      if (err instanceof KubeError && err.status === 409) return false;
      throw err;
    }
  }
}
