import { describe, expect, it } from 'vitest';
import { EventBuffer } from '../../../src/audit/buffer.ts';
import type { BufferedEvent } from '../../../src/audit/schema.ts';
import { decision } from '../../support/audit/events.ts';

const ev = (i: number): BufferedEvent => ({ type: 'decision', timeMs: i, event: decision(i) });

describe('the bounded buffer: block briefly, then drop and count', () => {
  it('accepts up to capacity, then lets events wait in the overflow, then drops', () => {
    const b = new EventBuffer({ capacity: 3, blockMs: 100, overflow: 2 });
    expect([0, 1, 2].map((i) => b.offer(ev(i), 0))).toEqual(['accepted', 'accepted', 'accepted']);
    expect(b.offer(ev(3), 0)).toBe('waiting');
    expect(b.offer(ev(4), 0)).toBe('waiting');
    expect(b.offer(ev(5), 0)).toBe('dropped');
    expect(b.counters).toEqual({
      accepted: 3,
      blocked: 2,
      dropped: { buffer_full: 1, write_error: 0, closed: 0 },
    });
    expect(b.held).toBe(3);
    expect(b.waiting).toBe(2);
  });

  it('waiting events move in, in order, as the writer frees room', () => {
    const b = new EventBuffer({ capacity: 2, blockMs: 100, overflow: 10 });
    for (let i = 0; i < 5; i++) b.offer(ev(i), 0);
    const first = b.take();
    expect(first.map((e) => e.timeMs)).toEqual([0, 1]);
    expect(b.held).toBe(2); // being written still counts
    b.done(2, 50);
    expect(b.take().map((e) => e.timeMs)).toEqual([2, 3]);
    b.done(2, 60);
    expect(b.take().map((e) => e.timeMs)).toEqual([4]);
    expect(b.counters.accepted).toBe(5);
    expect(b.counters.dropped.buffer_full).toBe(0);
  });

  it('an event that waited longer than blockMs without room is dropped and counted', () => {
    const b = new EventBuffer({ capacity: 1, blockMs: 100, overflow: 10 });
    b.offer(ev(0), 0);
    b.offer(ev(1), 0);
    b.offer(ev(2), 50);
    expect(b.admit(120)).toBe(1); // ev(1) is overdue; ev(2) may still wait
    expect(b.waiting).toBe(1);
    b.take();
    b.done(1, 130);
    expect(b.take().map((e) => e.timeMs)).toEqual([2]);
    expect(b.counters.dropped.buffer_full).toBe(1);
  });

  it('new events queue behind waiting ones (no overtaking), and blockMs 0 drops at once', () => {
    const b = new EventBuffer({ capacity: 1, blockMs: 100, overflow: 10 });
    b.offer(ev(0), 0);
    b.offer(ev(1), 0);
    b.take();
    b.done(1, 1); // room: ev(1) moves in
    expect(b.offer(ev(2), 1)).toBe('waiting');
    const none = new EventBuffer({ capacity: 1, blockMs: 0, overflow: 10 });
    none.offer(ev(0), 0);
    expect(none.offer(ev(1), 0)).toBe('dropped');
  });

  it('failed writes are counted as write_error; dropAll counts what was left', () => {
    const b = new EventBuffer({ capacity: 10, blockMs: 100, overflow: 10 });
    for (let i = 0; i < 4; i++) b.offer(ev(i), 0);
    const t = b.take(3);
    expect(t).toHaveLength(3);
    b.done(3, 0, true);
    expect(b.dropAll('closed')).toBe(1);
    expect(b.counters.dropped).toEqual({ buffer_full: 0, write_error: 3, closed: 1 });
    expect(b.held).toBe(0);
  });
});
