import type { Counter, Registry } from 'prom-client';
import { metricsOn } from '../observability/metrics.ts';
import type { AuditWriterStats } from './writer-stats.ts';

// Prometheus metrics for an audit writer, read from its counters at scrape time. Drops are never
// silent: keywarden_audit_events_dropped_total{reason} counts every event that did not make it.

type Writer = { readonly stats: AuditWriterStats };

export function registerAuditMetrics(registry: Registry, writer: Writer): void {
  const m = metricsOn(registry);
  // Counters copy the writer's totals at scrape time: reset, then count up to them.
  const counter = <L extends string>(
    name: string,
    help: string,
    labelNames: L[],
    read: (c: Counter<L>) => void,
  ) =>
    m.counter(name, help, labelNames, function () {
      this.reset();
      read(this);
    });
  const gauge = (name: string, help: string, read: () => number) =>
    m.gauge(name, help, [], function () {
      this.set(read());
    });
  registerCounters(counter, writer);
  registerGauges(gauge, writer);
}

type CounterOf = <L extends string>(
  name: string,
  help: string,
  labelNames: L[],
  read: (c: Counter<L>) => void,
) => unknown;

function registerCounters(counter: CounterOf, writer: Writer): void {
  counter('keywarden_audit_events_accepted_total', 'Audit events taken into the buffer.', [], (c) =>
    c.inc(writer.stats.accepted),
  );
  counter('keywarden_audit_events_written_total', 'Audit events committed to Parquet files.', [], (c) =>
    c.inc(writer.stats.written),
  );
  counter(
    'keywarden_audit_events_dropped_total',
    'Audit events lost: buffer_full (no room within the block time), write_error (the batch could not be written), closed (recorded after shutdown).',
    ['reason'],
    (c) => {
      const d = writer.stats.dropped;
      c.inc({ reason: 'buffer_full' }, d.buffer_full);
      c.inc({ reason: 'write_error' }, d.write_error);
      c.inc({ reason: 'closed' }, d.closed);
    },
  );
  counter(
    'keywarden_audit_events_blocked_total',
    'Audit events that found the buffer full and had to wait for room.',
    [],
    (c) => c.inc(writer.stats.blocked),
  );
  counter(
    'keywarden_audit_batches_written_total',
    'Row groups committed (one per partition per write cycle).',
    [],
    (c) => c.inc(writer.stats.batches),
  );
  counter('keywarden_audit_files_finished_total', 'Audit files completed and renamed into place.', [], (c) =>
    c.inc(writer.stats.filesFinished),
  );
  counter('keywarden_audit_written_bytes_total', 'Bytes of row groups written to audit files.', [], (c) =>
    c.inc(writer.stats.bytesWritten),
  );
  counter('keywarden_audit_write_errors_total', 'Failed batch writes or file completions.', [], (c) =>
    c.inc(writer.stats.writeErrors),
  );
  counter(
    'keywarden_audit_redactions_total',
    'Strings that held something shaped like a key and were redacted before writing.',
    [],
    (c) => c.inc(writer.stats.redactions),
  );
  counter(
    'keywarden_audit_recovered_files_total',
    'Leftovers of interrupted writes found at start, by result.',
    ['result'],
    (c) => {
      const r = writer.stats.recovered;
      c.inc({ result: 'recovered' }, r.files);
      c.inc({ result: 'removed' }, r.removed);
    },
  );
  counter('keywarden_audit_recovered_events_total', 'Events in files recovered at start.', [], (c) =>
    c.inc(writer.stats.recovered.rows),
  );
  counter('keywarden_audit_retention_deleted_files_total', 'Audit files deleted by retention.', [], (c) =>
    c.inc(writer.stats.retention.deletedFiles),
  );
}

function registerGauges(
  gauge: (name: string, help: string, read: () => number) => unknown,
  writer: Writer,
): void {
  gauge(
    'keywarden_audit_buffered_events',
    'Audit events held in memory (waiting to be written or being written).',
    () => writer.stats.buffered,
  );
  gauge(
    'keywarden_audit_waiting_events',
    'Audit events waiting for room in a full buffer.',
    () => writer.stats.waiting,
  );
  gauge(
    'keywarden_audit_buffer_capacity_events',
    'Capacity of the audit buffer.',
    () => writer.stats.capacity,
  );
  gauge('keywarden_audit_open_files', 'Audit files being written.', () => writer.stats.openFiles);
  gauge(
    'keywarden_audit_stored_bytes',
    'Bytes of complete audit files after the last retention pass.',
    () => writer.stats.retention.keptBytes,
  );
  gauge(
    'keywarden_audit_last_commit_timestamp_seconds',
    'When the last batch was committed (0: never).',
    () => writer.stats.lastCommitMs / 1000,
  );
}
