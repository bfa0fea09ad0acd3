import { constants } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { DictionaryHints } from './column-builder.ts';
import type { Compression } from './compress.ts';
import { RowGroupBuilder } from './encode.ts';
import { fileMetadata, footer, MAGIC } from './format.ts';
import { appendFrame, entryFrame, headerFrame, PROCESS_TOKEN } from './journal.ts';
import { journalName, tempName } from './naming.ts';
import type { BufferedEvent } from './schema.ts';
import { SCHEMA_VERSION } from './schema.ts';

// One file being written: a hidden temp file that grows a row group per batch, and its journal. The
// order of each step is what makes a crash harmless:
//   append:  row group bytes → data file (fsync) → journal frame (fsync)  = the batch is committed
//   finish:  footer → data file (fsync) → rename to the final name → remove the journal
// A crash before a journal frame loses that batch only; recovery (recovery.ts) cuts the data file back
// to the last committed row group, writes the footer from the journal and renames it.
// With fsync on, both files are opened O_DSYNC where the platform has it: each write returns once it is
// durable, one trip to the thread pool instead of a write and an fdatasync.

/** Open flags for a new file of ours: create, never overwrite, and write through when fsync is on. */
function createFlags(fsync: boolean): number {
  return constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (fsync ? (constants.O_DSYNC ?? 0) : 0);
}

/** Whether writes still need an fdatasync of their own (fsync on, but no O_DSYNC here). */
const syncAfterWrite = (fsync: boolean) => fsync && constants.O_DSYNC === undefined;

export interface PartFileOptions {
  compression: Compression;
  source: string;
  /** fsync data and journal at each commit, and the file before its rename. */
  fsync: boolean;
  /** Fault injection for tests: runs after a batch's bytes are written, before it is committed. */
  beforeCommit?: (() => Promise<void>) | undefined;
}

export class PartFile {
  readonly dir: string;
  readonly finalName: string;
  readonly openedAtMs: number;
  rows = 0;
  rowGroups = 0;
  redactions = 0;
  readonly #opts: PartFileOptions;
  readonly #data: FileHandle;
  readonly #journal: FileHandle;
  /** Each committed row group's metadata, for the footer. */
  readonly #rowGroups: Buffer[] = [];
  readonly #hints: DictionaryHints;
  #dataEnd: number;
  #journalEnd: number;
  #done = false;

  private constructor(
    dir: string,
    finalName: string,
    opts: PartFileOptions,
    handles: { data: FileHandle; journal: FileHandle; dataEnd: number; journalEnd: number },
    hints: DictionaryHints,
    openedAtMs: number,
  ) {
    this.dir = dir;
    this.finalName = finalName;
    this.#opts = opts;
    this.#data = handles.data;
    this.#journal = handles.journal;
    this.#dataEnd = handles.dataEnd;
    this.#journalEnd = handles.journalEnd;
    this.#hints = hints;
    this.openedAtMs = openedAtMs;
  }

  static async create(
    dir: string,
    finalName: string,
    opts: PartFileOptions,
    nowMs: number,
    hints = new DictionaryHints(),
  ): Promise<PartFile> {
    await mkdir(dir, { recursive: true });
    const journal = await open(join(dir, journalName(finalName)), createFlags(opts.fsync));
    let data: FileHandle | undefined;
    try {
      const journalEnd = await appendFrame(
        journal,
        headerFrame({
          journalVersion: 1,
          schemaVersion: SCHEMA_VERSION,
          compression: opts.compression,
          source: opts.source,
          createdMs: nowMs,
          host: hostname(),
          pid: process.pid,
          process: PROCESS_TOKEN,
          metadata: fileMetadata(opts.source),
        }),
        0,
        false,
      );
      data = await open(join(dir, tempName(finalName)), createFlags(opts.fsync));
      const dataEnd = await appendFrame(data, MAGIC, 0, false);
      return new PartFile(dir, finalName, opts, { data, journal, dataEnd, journalEnd }, hints, nowMs);
    } catch (err) {
      await data?.close().catch(() => {});
      await journal.close().catch(() => {});
      await unlink(join(dir, journalName(finalName))).catch(() => {});
      await unlink(join(dir, tempName(finalName))).catch(() => {});
      throw err;
    }
  }

  /** Bytes in the file so far (without the footer). */
  get bytes(): number {
    return this.#dataEnd;
  }

  get path(): string {
    return join(this.dir, this.finalName);
  }

  /** Writes the rows as one row group and commits it. */
  async append(rows: RowGroupBuilder | readonly BufferedEvent[]): Promise<void> {
    if (this.#done) throw new Error('audit file already finished');
    const builder =
      rows instanceof RowGroupBuilder ? rows : RowGroupBuilder.of(rows, this.#opts.source, this.#hints);
    const encoded = await builder.encode(this.#opts.compression, this.#dataEnd);
    const sync = syncAfterWrite(this.#opts.fsync);
    const dataEnd = await appendFrame(this.#data, encoded.data, this.#dataEnd, sync);
    await this.#opts.beforeCommit?.();
    this.#journalEnd = await appendFrame(
      this.#journal,
      entryFrame({ dataEnd, rows: encoded.rows, rowGroup: encoded.rowGroup }),
      this.#journalEnd,
      sync,
    );
    this.#rowGroups.push(encoded.rowGroup);
    this.#dataEnd = dataEnd;
    this.rows += encoded.rows;
    this.rowGroups++;
    this.redactions += encoded.redactions;
  }

  /**
   * Writes the footer and renames the file to its final name; returns its path, or undefined when it
   * held nothing (then both files are removed).
   */
  async finish(): Promise<string | undefined> {
    if (this.#done) return undefined;
    this.#done = true;
    const temp = join(this.dir, tempName(this.finalName));
    const journal = join(this.dir, journalName(this.finalName));
    if (this.rows === 0) {
      await this.#data.close();
      await this.#journal.close();
      await unlink(temp);
      await unlink(journal);
      return undefined;
    }
    const tail = footer(this.#rowGroups, this.rows, fileMetadata(this.#opts.source));
    await appendFrame(this.#data, tail, this.#dataEnd, syncAfterWrite(this.#opts.fsync));
    await this.#data.close();
    await this.#journal.close();
    await rename(temp, this.path);
    await unlink(journal);
    if (this.#opts.fsync) await syncDirectory(this.dir);
    return this.path;
  }

  /** Closes the handles without finishing (after a write error): recovery deals with the rest. */
  async abandon(): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    await this.#data.close().catch(() => {});
    await this.#journal.close().catch(() => {});
  }
}

/** Makes a rename in `dir` durable (Linux: fsync on the directory). Best effort elsewhere. */
export async function syncDirectory(dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch {
    // Not supported on this platform or file system: the rename is still atomic, only not yet durable.
  } finally {
    await fh?.close().catch(() => {});
  }
}
