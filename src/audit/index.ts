// The audit trail: Parquet files of validator decisions and controller lifecycle changes.
// See docs/audit.md for the columns, layout, buffer policy, recovery and retention.
//
// This module is the writing side (what a validator or controller loads): it loads no Parquet
// library at all. The reading side is imported from its own modules, never from here, so writers never
// load a Parquet reader: query.ts (events, usage), reader.ts (rows of a file), scan.ts (readability and
// plaintext checks), output.ts (formats).

import type { Logger } from '../observability/logger.ts';
import type { AuditWriterOptions } from './options.ts';
import { ParquetAuditSink } from './writer.ts';

// What the validator and the controller use; anything else is imported from its own module.
export { lifecycleFromEvent } from './lifecycle.ts';
export { registerAuditMetrics } from './metrics.ts';
export { parseAuditSettings } from './options.ts';
export type { LifecycleEvent } from './schema.ts';
export type { ParquetAuditSink } from './writer.ts';

/**
 * Opens the audit trail under `options.directory`: recovers what an interrupted predecessor left,
 * applies retention, and starts the flush timer. The result is an AuditSink (record, flush) plus
 * recordLifecycle, close and stats.
 */
export function createAuditSink(options: AuditWriterOptions, log?: Logger): Promise<ParquetAuditSink> {
  return ParquetAuditSink.open(options, log);
}
