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

export type { ManagedFieldsEntry } from './actor.ts';
export { actorFromManagedFields } from './actor.ts';
export type { BufferPolicy, DropReason } from './buffer.ts';
export type { Compression } from './compress.ts';
export type { ApiKeyLike } from './lifecycle.ts';
export { lifecycleFromEvent } from './lifecycle.ts';
export { registerAuditMetrics } from './metrics.ts';
export type { AuditSettings, AuditWriterOptions } from './options.ts';
export { AUDIT_DEFAULTS, checkAuditSettings, parseAuditSettings } from './options.ts';
export { recoverFile } from './recovery.ts';
export type { RetentionPolicy } from './retention.ts';
export { applyRetention, listAuditFiles } from './retention.ts';
export type {
  AuditDecisionEvent,
  AuditRow,
  EventType,
  LifecycleAction,
  LifecycleEvent,
} from './schema.ts';
export { COLUMNS, LIFECYCLE_ACTIONS, SCHEMA_VERSION } from './schema.ts';
export type { AuditWriterStats } from './writer.ts';
export { ParquetAuditSink } from './writer.ts';

/**
 * Opens the audit trail under `options.directory`: recovers what an interrupted predecessor left,
 * applies retention, and starts the flush timer. The result is an AuditSink (record, flush) plus
 * recordLifecycle, close and stats.
 */
export function createAuditSink(options: AuditWriterOptions, log?: Logger): Promise<ParquetAuditSink> {
  return ParquetAuditSink.open(options, log);
}
