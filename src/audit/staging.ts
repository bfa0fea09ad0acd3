import { type RowGroupBuilder, RowGroupPool } from './encode.ts';
import { HOUR_MS } from './naming.ts';
import type { BufferedEvent } from './schema.ts';

// The row groups an audit writer is building, one per hour of event time, and those cut (full) and
// waiting for the write cycle, oldest first. A row group is cut at batchRows rows or batchBytes bytes.

export interface StagedRowGroup {
  hour: number;
  rows: RowGroupBuilder;
}

export class RowGroupStaging {
  readonly pool: RowGroupPool;
  readonly #building = new Map<number, RowGroupBuilder>();
  #cut: StagedRowGroup[] = [];
  readonly #limits: { batchRows: number; batchBytes: number };

  constructor(source: string, limits: { batchRows: number; batchBytes: number }) {
    this.pool = new RowGroupPool(source);
    this.#limits = limits;
  }

  /**
   * Encodes `events` into the row groups of their hours, cutting those that fill up. Returns whether
   * one was cut. When encoding throws (not expected: a column builder converts what it cannot take),
   * the row group may be torn, so it is dropped with the rest of the events: `dropped` counts them.
   */
  add(events: readonly BufferedEvent[]): { cut: boolean; failed?: { dropped: number; err: Error } } {
    let cut = false;
    let hour = Number.NaN;
    let rows: RowGroupBuilder | undefined;
    for (let i = 0; i < events.length; i++) {
      const e = events[i] as BufferedEvent;
      const h = Math.floor(e.timeMs / HOUR_MS) * HOUR_MS;
      if (h !== hour || !rows) {
        hour = h;
        rows = this.#building.get(h);
        if (!rows) {
          rows = this.pool.take();
          this.#building.set(h, rows);
        }
      }
      try {
        rows.add(e);
      } catch (err) {
        this.#building.delete(hour);
        return { cut, failed: { dropped: rows.rows + events.length - i, err: err as Error } };
      }
      if (rows.rows >= this.#limits.batchRows || rows.bytes >= this.#limits.batchBytes) {
        this.#cut.push({ hour, rows });
        this.#building.delete(hour);
        rows = undefined;
        cut = true;
      }
    }
    return { cut };
  }

  /** The row groups cut so far, oldest first. */
  takeCut(): StagedRowGroup[] {
    return this.#cut.splice(0);
  }

  /** Every row group cut or being built, oldest first; nothing is being built after. */
  takeAll(): StagedRowGroup[] {
    const all = this.takeCut();
    for (const [hour, rows] of this.#building) if (rows.rows > 0) all.push({ hour, rows });
    this.#building.clear();
    return all;
  }

  isBuilding(hour: number): boolean {
    return this.#building.has(hour);
  }
}
