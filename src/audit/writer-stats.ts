// What an audit writer counts (read by its metrics, see metrics.ts).

export interface AuditWriterStats {
  /** Offered by callers (accepted, waiting or dropped). */
  offered: number;
  accepted: number;
  blocked: number;
  dropped: { buffer_full: number; write_error: number; closed: number };
  /** Rows committed to files. */
  written: number;
  buffered: number;
  waiting: number;
  capacity: number;
  batches: number;
  filesFinished: number;
  openFiles: number;
  bytesWritten: number;
  writeErrors: number;
  redactions: number;
  recovered: { files: number; rows: number; removed: number };
  retention: {
    deletedFiles: number;
    deletedBytes: number;
    keptFiles: number;
    keptBytes: number;
    runs: number;
  };
  /** Epoch ms of the last commit (0: none yet). */
  lastCommitMs: number;
}

/** What the write cycles count; the rest of AuditWriterStats comes from the buffer and options. */
export interface WriteCounters {
  /** Rows committed to files. */
  written: number;
  batches: number;
  filesFinished: number;
  bytesWritten: number;
  writeErrors: number;
  redactions: number;
  /** Epoch ms of the last commit (0: none yet). */
  lastCommitMs: number;
}

export function newWriteCounters(): WriteCounters {
  return {
    written: 0,
    batches: 0,
    filesFinished: 0,
    bytesWritten: 0,
    writeErrors: 0,
    redactions: 0,
    lastCommitMs: 0,
  };
}
