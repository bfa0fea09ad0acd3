import type { Registry } from 'prom-client';
import { metricsOn } from '../observability/metrics.ts';
import type { AuditWriterStats } from './writer-stats.ts';

// Prometheus metrics for an audit writer, read from its counters at scrape time. Drops are never
// silent: keywarden_audit_events_dropped_total{reason} counts every event that did not make it.

/** A counter's value(s) from the writer's stats: one number, or one per value of its label. */
interface CounterSpec {
  name: string;
  help: string;
  label?: string;
  read: (s: AuditWriterStats) => number | Record<string, number>;
}

const COUNTERS: readonly CounterSpec[] = [
  {
    name: 'keywarden_audit_events_accepted_total',
    help: 'Audit events taken into the buffer.',
    read: (s) => s.accepted,
  },
  {
    name: 'keywarden_audit_events_written_total',
    help: 'Audit events committed to Parquet files.',
    read: (s) => s.written,
  },
  {
    name: 'keywarden_audit_events_dropped_total',
    help: 'Audit events lost: buffer_full (no room within the block time), write_error (the batch could not be written), closed (recorded after shutdown).',
    label: 'reason',
    read: (s) => ({
      buffer_full: s.dropped.buffer_full,
      write_error: s.dropped.write_error,
      closed: s.dropped.closed,
    }),
  },
  {
    name: 'keywarden_audit_events_blocked_total',
    help: 'Audit events that found the buffer full and had to wait for room.',
    read: (s) => s.blocked,
  },
  {
    name: 'keywarden_audit_batches_written_total',
    help: 'Row groups committed (one per partition per write cycle).',
    read: (s) => s.batches,
  },
  {
    name: 'keywarden_audit_files_finished_total',
    help: 'Audit files completed and renamed into place.',
    read: (s) => s.filesFinished,
  },
  {
    name: 'keywarden_audit_written_bytes_total',
    help: 'Bytes of row groups written to audit files.',
    read: (s) => s.bytesWritten,
  },
  {
    name: 'keywarden_audit_write_errors_total',
    help: 'Failed batch writes or file completions.',
    read: (s) => s.writeErrors,
  },
  {
    name: 'keywarden_audit_redactions_total',
    help: 'Strings that held something shaped like a key and were redacted before writing.',
    read: (s) => s.redactions,
  },
  {
    name: 'keywarden_audit_recovered_files_total',
    help: 'Leftovers of interrupted writes found at start, by result.',
    label: 'result',
    read: (s) => ({ recovered: s.recovered.files, removed: s.recovered.removed }),
  },
  {
    name: 'keywarden_audit_recovered_events_total',
    help: 'Events in files recovered at start.',
    read: (s) => s.recovered.rows,
  },
  {
    name: 'keywarden_audit_retention_deleted_files_total',
    help: 'Audit files deleted by retention.',
    read: (s) => s.retention.deletedFiles,
  },
];

const GAUGES: readonly { name: string; help: string; read: (s: AuditWriterStats) => number }[] = [
  {
    name: 'keywarden_audit_buffered_events',
    help: 'Audit events held in memory (waiting to be written or being written).',
    read: (s) => s.buffered,
  },
  {
    name: 'keywarden_audit_waiting_events',
    help: 'Audit events waiting for room in a full buffer.',
    read: (s) => s.waiting,
  },
  {
    name: 'keywarden_audit_buffer_capacity_events',
    help: 'Capacity of the audit buffer.',
    read: (s) => s.capacity,
  },
  { name: 'keywarden_audit_open_files', help: 'Audit files being written.', read: (s) => s.openFiles },
  {
    name: 'keywarden_audit_stored_bytes',
    help: 'Bytes of complete audit files after the last retention pass.',
    read: (s) => s.retention.keptBytes,
  },
  {
    name: 'keywarden_audit_last_commit_timestamp_seconds',
    help: 'When the last batch was committed (0: never).',
    read: (s) => s.lastCommitMs / 1000,
  },
];

export function registerAuditMetrics(registry: Registry, writer: { readonly stats: AuditWriterStats }): void {
  const m = metricsOn(registry);
  for (const { name, help, label, read } of COUNTERS) {
    // Counters copy the writer's totals at scrape time: reset, then count up to them.
    m.counter(name, help, label ? [label] : [], function () {
      this.reset();
      const v = read(writer.stats);
      if (typeof v === 'number') this.inc(v);
      else for (const [value, n] of Object.entries(v)) this.inc({ [label as string]: value }, n);
    });
  }
  for (const { name, help, read } of GAUGES) {
    m.gauge(name, help, [], function () {
      this.set(read(writer.stats));
    });
  }
}
