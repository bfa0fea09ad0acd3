import type { BufferedEvent } from './schema.ts';

// The bounded buffer between record() (on the request path, synchronous) and the writer.
//
// Policy: at most `capacity` events are held (waiting to be written plus being written). When that is
// full, an event is not dropped at once: it waits, up to `blockMs`, in a small overflow queue of at most
// `overflow` events, while the writer is asked to write now. As the writer frees room, waiting events
// move in, oldest first. An event that is still waiting after `blockMs`, or that finds the overflow
// queue full, is dropped and counted. record() itself never blocks the event loop: a validator must not
// stall its requests on a slow disk. Memory is bounded by capacity + overflow events.

export type DropReason = 'buffer_full' | 'write_error' | 'closed';

export interface BufferPolicy {
  capacity: number;
  blockMs: number;
  overflow: number;
}

export interface BufferCounters {
  /** Events taken into the buffer. */
  accepted: number;
  /** Events that had to wait for room (accepted later or dropped). */
  blocked: number;
  dropped: Record<DropReason, number>;
}

interface Waiting {
  event: BufferedEvent;
  deadlineMs: number;
}

export class EventBuffer {
  readonly policy: BufferPolicy;
  readonly counters: BufferCounters = {
    accepted: 0,
    blocked: 0,
    dropped: { buffer_full: 0, write_error: 0, closed: 0 },
  };
  #pending: BufferedEvent[] = [];
  #waiting: Waiting[] = [];
  #waitingHead = 0;
  #inFlight = 0;

  constructor(policy: BufferPolicy) {
    if (!(policy.capacity >= 1)) throw new RangeError('audit buffer capacity must be at least 1');
    this.policy = policy;
  }

  /** Events held: pending plus being written. */
  get held(): number {
    return this.#pending.length + this.#inFlight;
  }

  get pending(): number {
    return this.#pending.length;
  }

  get waiting(): number {
    return this.#waiting.length - this.#waitingHead;
  }

  /** `accepted`, `waiting` (the caller should ask the writer to write now) or `dropped`. */
  offer(event: BufferedEvent, nowMs: number): 'accepted' | 'waiting' | 'dropped' {
    if (this.waiting === 0 && this.held < this.policy.capacity) {
      this.#pending.push(event);
      this.counters.accepted++;
      return 'accepted';
    }
    if (this.waiting < this.policy.overflow && this.policy.blockMs > 0) {
      this.#waiting.push({ event, deadlineMs: nowMs + this.policy.blockMs });
      this.counters.blocked++;
      return 'waiting';
    }
    this.counters.dropped.buffer_full++;
    return 'dropped';
  }

  /** Takes up to `max` pending events for writing; they count as held until done() is called. */
  take(max = Number.POSITIVE_INFINITY): BufferedEvent[] {
    const taken = max >= this.#pending.length ? this.#pending : this.#pending.slice(0, max);
    this.#pending = taken === this.#pending ? [] : this.#pending.slice(max);
    this.#inFlight += taken.length;
    return taken;
  }

  /** `n` taken events are written (or dropped as `write_error`): their room goes to waiting events. */
  done(n: number, nowMs: number, failed = false): void {
    this.#inFlight = Math.max(0, this.#inFlight - n);
    if (failed) this.counters.dropped.write_error += n;
    this.admit(nowMs);
  }

  /** Drops waiting events past their deadline, and moves the others in while there is room. Returns drops. */
  admit(nowMs: number): number {
    let dropped = 0;
    while (this.#waitingHead < this.#waiting.length) {
      const w = this.#waiting[this.#waitingHead] as Waiting;
      if (w.deadlineMs < nowMs) {
        dropped++;
      } else if (this.held < this.policy.capacity) {
        this.#pending.push(w.event);
        this.counters.accepted++;
      } else break;
      this.#waitingHead++;
    }
    if (this.#waitingHead > 1024 && this.#waitingHead * 2 > this.#waiting.length) {
      this.#waiting = this.#waiting.slice(this.#waitingHead);
      this.#waitingHead = 0;
    } else if (this.#waitingHead === this.#waiting.length) {
      this.#waiting = [];
      this.#waitingHead = 0;
    }
    this.counters.dropped.buffer_full += dropped;
    return dropped;
  }

  /** Drops everything not yet taken (shutdown without a writer). */
  dropAll(reason: DropReason): number {
    const n = this.#pending.length + this.waiting;
    this.#pending = [];
    this.#waiting = [];
    this.#waitingHead = 0;
    this.counters.dropped[reason] += n;
    return n;
  }
}
