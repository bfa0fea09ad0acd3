import { constants } from 'node:fs';
import { access, mkdir } from 'node:fs/promises';
import type { AuditSink } from '../api/events.ts';
import type { Logger } from '../observability/logger.ts';
import { EventBuffer } from './buffer.ts';
import { OpenFiles } from './open-files.ts';
import { type AuditWriterOptions, type ResolvedAuditOptions, resolveOptions } from './options.ts';
import { recoverLeftovers } from './recovery.ts';
import { applyRetention } from './retention.ts';
import type { AuditDecisionEvent, BufferedEvent, LifecycleEvent } from './schema.ts';
import { RowGroupStaging } from './staging.ts';
import { type AuditWriterStats, newWriteCounters } from './writer-stats.ts';

export type { AuditWriterStats } from './writer-stats.ts';

// The audit writer: takes events on the request path (record, recordLifecycle: synchronous, never
// blocking), writes them in batches to hourly partitions, and rotates files by rows, bytes, row groups
// and age. Accepted events are encoded into a row group being built for their hour once per event-loop
// turn (their objects die young, so the heap does not grow with traffic); a row group is cut at
// batchRows rows or batchBytes bytes. One write cycle at a time: cut what is being built, append each
// row group to its partition's open file (a commit each), finish files that are due. flush() finishes
// every open file, so after it (SIGTERM) everything recorded is in complete, visible files.

export class ParquetAuditSink implements AuditSink {
  readonly options: ResolvedAuditOptions;
  readonly #log: Logger | undefined;
  readonly #buffer: EventBuffer;
  readonly #staging: RowGroupStaging;
  readonly #files: OpenFiles;
  readonly #counters = newWriteCounters();
  #stageScheduled = false;
  #offered = 0;
  readonly #recovered = { files: 0, rows: 0, removed: 0 };
  readonly #retention = { deletedFiles: 0, deletedBytes: 0, keptFiles: 0, keptBytes: 0, runs: 0 };
  #chain: Promise<void> = Promise.resolve();
  #queued: Promise<void> | undefined;
  #finishRequested = false;
  /** Whether the next cycle writes row groups still being built too (timer, commit, flush, a full buffer). */
  #allRequested = false;
  #closed = false;
  #flushTimer: NodeJS.Timeout | undefined;
  #retentionTimer: NodeJS.Timeout | undefined;
  #expiryTimer: NodeJS.Timeout | undefined;
  #retentionRunning: Promise<void> | undefined;

  /** Use ParquetAuditSink.open() (recovers leftovers first and starts the timers). */
  constructor(options: AuditWriterOptions, log?: Logger) {
    this.options = resolveOptions(options);
    this.#log = log;
    this.#buffer = new EventBuffer({
      capacity: this.options.bufferEvents,
      blockMs: this.options.blockMs,
      overflow: this.options.overflowEvents,
    });
    this.#staging = new RowGroupStaging(this.options.source, this.options);
    this.#files = new OpenFiles(this.options, this.#staging.pool.hints, this.#counters, log);
  }

  static async open(options: AuditWriterOptions, log?: Logger): Promise<ParquetAuditSink> {
    const sink = new ParquetAuditSink(options, log);
    // Fail at start, loudly, rather than drop every event later.
    const dir = sink.options.directory;
    try {
      await mkdir(dir, { recursive: true });
      await access(dir, constants.W_OK);
    } catch (err) {
      throw new Error(`audit directory ${dir} is not writable: ${(err as Error).message}`);
    }
    await sink.recover();
    sink.start();
    return sink;
  }

  /**
   * Recovers or removes leftovers of interrupted writes: this source's, and those of a process on this
   * host that no longer runs, at once; any other only once stale (it may be a live neighbour's).
   */
  async recover(): Promise<void> {
    const r = await recoverLeftovers(this.options, this.#log);
    this.#recovered.files += r.files;
    this.#recovered.rows += r.rows;
    this.#recovered.removed += r.removed;
  }

  /** Starts the flush and retention timers (unref'd: they never keep a process alive). */
  start(): void {
    if (this.#flushTimer || this.#closed) return;
    this.#flushTimer = setInterval(() => void this.#schedule('all'), this.options.flushIntervalMs);
    this.#flushTimer.unref();
    const r = this.options.retention;
    if (r.maxAgeMs !== undefined || r.maxTotalBytes !== undefined) {
      void this.runRetention();
      this.#retentionTimer = setInterval(() => void this.runRetention(), r.intervalMs);
      this.#retentionTimer.unref();
    }
  }

  /** A validator decision. Synchronous and cheap: the event object is kept as is until written. */
  record(event: AuditDecisionEvent): void {
    this.#offer({ type: 'decision', timeMs: event.timeMs, event });
  }

  /** A controller lifecycle change (same buffer, same files, event_type = lifecycle). */
  recordLifecycle(event: LifecycleEvent): void {
    this.#offer({ type: 'lifecycle', timeMs: event.timeMs ?? this.options.now(), event });
  }

  #offer(b: BufferedEvent): void {
    this.#offered++;
    if (!Number.isFinite(b.timeMs)) b.timeMs = this.options.now();
    if (this.#closed) {
      this.#buffer.counters.dropped.closed++;
      return;
    }
    const r = this.#buffer.offer(b, performance.now());
    if (r === 'waiting') {
      this.#armExpiry();
      void this.#schedule('all');
    } else if (r === 'accepted' && !this.#stageScheduled) {
      this.#stageScheduled = true;
      setImmediate(() => this.#stage());
    }
  }

  /**
   * Encodes the events accepted since the last turn into the row groups being built (they stay held
   * in the buffer's count until written), cutting a row group at batchRows or batchBytes.
   */
  #stage(): void {
    this.#stageScheduled = false;
    const events = this.#buffer.take();
    const { cut, failed } = this.#staging.add(events);
    if (failed) {
      // Never let it reach the event loop: the torn row group and this turn's events are dropped.
      this.#buffer.done(failed.dropped, performance.now(), true);
      this.#counters.writeErrors++;
      this.#log?.error({ err: failed.err.message }, 'audit: encoding an event failed; its batch is dropped');
    }
    if (cut) void this.#schedule('cut');
  }

  /** While events wait for room, drop (and count) those that waited blockMs, on time. */
  #armExpiry(): void {
    if (this.#expiryTimer) return;
    this.#expiryTimer = setTimeout(() => {
      this.#expiryTimer = undefined;
      this.#buffer.admit(performance.now());
      if (this.#buffer.waiting > 0) this.#armExpiry();
    }, this.options.blockMs + 1);
    this.#expiryTimer.unref();
  }

  /** Writes (commits) what is buffered now, leaving files open; the flush timer does this on its own. */
  commit(): Promise<void> {
    return this.#schedule('all');
  }

  /** Writes everything recorded so far and finishes every open file (all of it visible to readers). */
  flush(): Promise<void> {
    return this.#schedule('finish');
  }

  /** flush(), then stop: later events are dropped (counted as `closed`). */
  async close(): Promise<void> {
    if (this.#flushTimer) clearInterval(this.#flushTimer);
    if (this.#retentionTimer) clearInterval(this.#retentionTimer);
    this.#flushTimer = undefined;
    this.#retentionTimer = undefined;
    await this.flush();
    this.#closed = true;
    if (this.#expiryTimer) clearTimeout(this.#expiryTimer);
    this.#buffer.dropAll('closed');
    await this.#retentionRunning;
  }

  get stats(): AuditWriterStats {
    const c = this.#buffer.counters;
    return {
      offered: this.#offered,
      accepted: c.accepted,
      blocked: c.blocked,
      dropped: { ...c.dropped },
      written: this.#counters.written,
      buffered: this.#buffer.held,
      waiting: this.#buffer.waiting,
      capacity: this.options.bufferEvents,
      batches: this.#counters.batches,
      filesFinished: this.#counters.filesFinished,
      openFiles: this.#files.size,
      bytesWritten: this.#counters.bytesWritten,
      writeErrors: this.#counters.writeErrors,
      redactions: this.#counters.redactions,
      recovered: { ...this.#recovered },
      retention: { ...this.#retention },
      lastCommitMs: this.#counters.lastCommitMs,
    };
  }

  /** One retention pass now (also run on a timer when a policy is set). */
  runRetention(): Promise<void> {
    this.#retentionRunning ??= (async () => {
      try {
        const r = await applyRetention(this.options.directory, this.options.retention, this.options.now());
        this.#retention.deletedFiles += r.deletedFiles;
        this.#retention.deletedBytes += r.deletedBytes;
        this.#retention.keptFiles = r.keptFiles;
        this.#retention.keptBytes = r.keptBytes;
        this.#retention.runs++;
        if (r.deletedFiles > 0) this.#log?.info(r, 'audit: retention deleted old files');
      } catch (err) {
        this.#log?.error({ err: (err as Error).message }, 'audit: retention failed');
      } finally {
        this.#retentionRunning = undefined;
      }
    })();
    return this.#retentionRunning;
  }

  /**
   * Queues one write cycle (coalescing with one already queued); never rejects. `cut`: write the row
   * groups that are full; `all`: and those still being built; `finish`: and finish every open file.
   */
  #schedule(what: 'cut' | 'all' | 'finish'): Promise<void> {
    if (what === 'finish') this.#finishRequested = true;
    if (what !== 'cut') this.#allRequested = true;
    if (!this.#queued) {
      const next = this.#chain.then(async () => {
        this.#queued = undefined;
        const finishAll = this.#finishRequested;
        const all = this.#allRequested || finishAll;
        this.#finishRequested = false;
        this.#allRequested = false;
        try {
          await this.#cycle(all, finishAll);
        } catch (err) {
          this.#log?.error({ err: (err as Error).message }, 'audit: write cycle failed');
        }
      });
      this.#queued = next;
      this.#chain = next;
    }
    return this.#queued;
  }

  async #cycle(all: boolean, finishAll: boolean): Promise<void> {
    const touched = new Set<number>();
    // When finishing (shutdown), keep going until nothing is left, including events that were waiting.
    // Bounded, so a flush under sustained traffic still ends (what arrives meanwhile waits a cycle).
    for (let round = 0; round < 4; round++) {
      this.#buffer.admit(performance.now());
      // Full row groups only, unless asked for all (the first round) or finishing (every round).
      const everything = finishAll || (all && round === 0);
      this.#stage();
      const batch = everything ? this.#staging.takeAll() : this.#staging.takeCut();
      if (batch.length === 0) break;
      for (const { hour, rows } of batch) {
        touched.add(hour);
        const ok = await this.#files.append(hour, rows);
        this.#buffer.done(rows.rows, performance.now(), !ok);
        // Written: its buffers serve the next row group (after a failure it may still be read).
        if (ok) this.#staging.pool.give(rows);
      }
    }
    this.#buffer.admit(performance.now());
    await this.#files.finishDue(finishAll, (hour) => touched.has(hour) || this.#staging.isBuilding(hour));
  }
}
