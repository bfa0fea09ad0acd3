import { afterEach, describe, expect, it, vi } from 'vitest';
import { WorkQueue } from '../../../src/kube/workqueue.ts';

// The controller's queue promises what client-go's does: one worker per key at a time, a change that
// arrives while the key is being processed is not lost, failures back off per key, delayed adds wake a
// key at its time, and shutdown releases every waiting worker.

/** Steps the fake clock 10 ms at a time until a worker gets a key; the key and the ms it took, or undefined. */
async function arrival(
  q: WorkQueue,
  maxMs: number,
): Promise<{ key: string | undefined; ms: number } | undefined> {
  const t0 = Date.now();
  let got: { key: string | undefined; ms: number } | undefined;
  void q.get().then((key) => {
    got = { key, ms: Date.now() - t0 };
  });
  for (let t = 0; t <= maxMs && !got; t += 10) await vi.advanceTimersByTimeAsync(10);
  return got;
}

describe('WorkQueue', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('hands out keys in order and deduplicates a key added twice before it is taken', async () => {
    const q = new WorkQueue();
    q.add('ns/a');
    q.add('ns/b');
    q.add('ns/a');
    expect(q.depth).toBe(2);
    expect(await q.get()).toBe('ns/a');
    expect(await q.get()).toBe('ns/b');
    expect(q.depth).toBe(0);
    expect(q.adds).toBe(3);
  });

  it('never gives a key to a second worker while the first processes it; a re-add then runs once more', async () => {
    vi.useFakeTimers();
    const q = new WorkQueue();
    q.add('ns/a');
    expect(await q.get()).toBe('ns/a');
    // The ApiKey changes while a worker reconciles it: the change must not be lost, nor run in parallel.
    q.add('ns/a');
    q.add('ns/a');
    expect(q.depth).toBe(0);
    const second = q.get();
    let secondGot: string | undefined;
    void second.then((k) => {
      secondGot = k;
    });
    await vi.advanceTimersByTimeAsync(1_000);
    expect(secondGot).toBeUndefined();
    q.done('ns/a');
    expect(await second).toBe('ns/a');
    q.done('ns/a');
    // Two re-adds while processing make one more run, not two.
    expect(await arrival(q, 1_000)).toBeUndefined();
    q.shutDown();
  });

  it('a worker waiting on an empty queue is woken by the next add', async () => {
    const q = new WorkQueue();
    const waiting = q.get();
    q.add('ns/late');
    expect(await waiting).toBe('ns/late');
  });

  it('backs off exponentially per key up to the cap, and forget resets the count', async () => {
    vi.useFakeTimers();
    const q = new WorkQueue({ baseBackoffMs: 100, maxBackoffMs: 350 });
    const waits: number[] = [];
    for (let i = 0; i < 4; i++) {
      q.addRateLimited('ns/flaky');
      const got = await arrival(q, 1_000);
      expect(got?.key).toBe('ns/flaky');
      waits.push(got?.ms ?? -1);
      q.done('ns/flaky');
    }
    expect(waits).toEqual([100, 200, 350, 350]);
    expect(q.failures('ns/flaky')).toBe(4);
    expect(q.retries).toBe(4);
    q.forget('ns/flaky');
    expect(q.failures('ns/flaky')).toBe(0);
    // After forget the next failure starts again at the base; another key's failures are its own.
    q.addRateLimited('ns/flaky');
    expect(await arrival(q, 1_000)).toEqual({ key: 'ns/flaky', ms: 100 });
    q.done('ns/flaky');
    expect(q.failures('ns/other')).toBe(0);
    q.shutDown();
  });

  it('addAfter wakes the key at its time; an earlier pending wake-up wins over a later one', async () => {
    vi.useFakeTimers();
    const q = new WorkQueue();
    q.addAfter('ns/expiring', 5_000);
    q.addAfter('ns/expiring', 60_000);
    expect(await arrival(q, 10_000)).toEqual({ key: 'ns/expiring', ms: 5_000 });
    q.done('ns/expiring');
    q.addAfter('ns/b', 10_000);
    q.addAfter('ns/b', 1_000);
    expect(await arrival(q, 20_000)).toEqual({ key: 'ns/b', ms: 1_000 });
    q.done('ns/b');
    // the replaced 10 s wake-up does not fire a second time
    expect(await arrival(q, 20_000)).toBeUndefined();
    q.shutDown();
  });

  it('a delay beyond the 24.8-day setTimeout limit fires at its time, not at once', async () => {
    vi.useFakeTimers();
    const q = new WorkQueue();
    const days40 = 40 * 24 * 3600 * 1000;
    q.addAfter('ns/year-key', days40);
    let got: string | undefined;
    void q.get().then((k) => {
      got = k;
    });
    await vi.advanceTimersByTimeAsync(days40 - 60_000);
    expect(got).toBeUndefined();
    await vi.advanceTimersByTimeAsync(120_000);
    expect(got).toBe('ns/year-key');
    q.shutDown();
  });

  it('shutdown releases waiting workers with undefined and ignores later adds', async () => {
    const q = new WorkQueue();
    const w1 = q.get();
    const w2 = q.get();
    q.addAfter('ns/later', 10);
    q.shutDown();
    expect(await w1).toBeUndefined();
    expect(await w2).toBeUndefined();
    q.add('ns/after');
    expect(q.depth).toBe(0);
    expect(await q.get()).toBeUndefined();
  });

  it('reports how long a key waited in the queue', async () => {
    vi.useFakeTimers();
    const waited: number[] = [];
    const q = new WorkQueue({ onQueueLatency: (s) => waited.push(s) });
    q.add('ns/a');
    await vi.advanceTimersByTimeAsync(1_500);
    await q.get();
    expect(waited).toEqual([1.5]);
    q.shutDown();
  });
});
