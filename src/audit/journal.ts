import { randomBytes } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { crc32 } from 'node:zlib';

// The journal beside an open file: what has been committed to it so far. Each batch appends one
// frame after its row group's bytes are in the data file; a batch counts as written once its frame
// is. Recovery replays the frames that check out (CRC32) and ignores a torn last one.
//
// frame = "KWAJ" | u32 payload length | payload | u32 CRC32 of the payload
// payload of the first frame: "H" + JSON header; of every other: "R" + f64 data end + u32 rows +
// the row group's thrift metadata.

const MAGIC = Buffer.from('KWAJ');

/** This process, told apart from an earlier one that had the same pid (a restarted container). */
export const PROCESS_TOKEN = randomBytes(8).toString('hex');

export interface JournalHeader {
  journalVersion: 1;
  schemaVersion: number;
  compression: string;
  source: string;
  createdMs: number;
  /** The writing process (absent in journals of older versions): recovery can tell a dead one. */
  host?: string;
  pid?: number;
  process?: string;
  /** Key/value metadata for the footer. */
  metadata: Record<string, string>;
}

export interface JournalEntry {
  /** Length of the data file once this row group was in it. */
  dataEnd: number;
  rows: number;
  rowGroup: Buffer;
}

function frame(payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(4 + 4 + payload.length + 4);
  MAGIC.copy(out, 0);
  out.writeUInt32LE(payload.length, 4);
  payload.copy(out, 8);
  out.writeUInt32LE(crc32(payload), 8 + payload.length);
  return out;
}

export function headerFrame(h: JournalHeader): Buffer {
  return frame(Buffer.concat([Buffer.from('H'), Buffer.from(JSON.stringify(h))]));
}

export function entryFrame(e: JournalEntry): Buffer {
  const fixed = Buffer.allocUnsafe(1 + 8 + 4);
  fixed.write('R', 0);
  fixed.writeDoubleLE(e.dataEnd, 1);
  fixed.writeUInt32LE(e.rows, 9);
  return frame(Buffer.concat([fixed, e.rowGroup]));
}

export interface ParsedJournal {
  header: JournalHeader | undefined;
  entries: JournalEntry[];
  /** Bytes after the last good frame (a torn write). */
  trailingBytes: number;
}

export function parseJournal(buf: Buffer): ParsedJournal {
  let pos = 0;
  let header: JournalHeader | undefined;
  const entries: JournalEntry[] = [];
  while (pos + 12 <= buf.length) {
    if (!buf.subarray(pos, pos + 4).equals(MAGIC)) break;
    const len = buf.readUInt32LE(pos + 4);
    if (pos + 12 + len > buf.length) break;
    const payload = buf.subarray(pos + 8, pos + 8 + len);
    if (crc32(payload) !== buf.readUInt32LE(pos + 8 + len)) break;
    const kind = payload.toString('latin1', 0, 1);
    if (kind === 'H' && header === undefined && entries.length === 0) {
      try {
        header = JSON.parse(payload.toString('utf8', 1)) as JournalHeader;
      } catch {
        break;
      }
    } else if (kind === 'R' && header !== undefined && payload.length >= 13) {
      entries.push({
        dataEnd: payload.readDoubleLE(1),
        rows: payload.readUInt32LE(9),
        rowGroup: Buffer.from(payload.subarray(13)),
      });
    } else break;
    pos += 12 + len;
  }
  return { header, entries, trailingBytes: buf.length - pos };
}

export async function appendFrame(
  fh: FileHandle,
  bytes: Buffer,
  position: number,
  sync: boolean,
): Promise<number> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await fh.write(bytes, done, bytes.length - done, position + done);
    done += bytesWritten;
  }
  if (sync) await fh.datasync();
  return position + bytes.length;
}
