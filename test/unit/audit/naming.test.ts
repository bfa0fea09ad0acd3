import { describe, expect, it } from 'vitest';
import { entryFrame, headerFrame, parseJournal } from '../../../src/audit/journal.ts';
import {
  FileNamer,
  finalNameOf,
  isFinalName,
  journalName,
  parsePartitionPath,
  partitionOf,
  sourceOfName,
  sourceToken,
  tempName,
} from '../../../src/audit/naming.ts';

describe('partitions and names', () => {
  it('partitions by the UTC hour, Hive style', () => {
    const p = partitionOf(Date.parse('2026-03-01T07:59:59.999Z'));
    expect(p.path).toBe('date=2026-03-01/hour=07');
    expect(p.hourStartMs).toBe(Date.parse('2026-03-01T07:00:00Z'));
    expect(parsePartitionPath('date=2026-03-01/hour=07')).toBe(p.hourStartMs);
    expect(parsePartitionPath('date=2026-03-01/hour=7')).toBeUndefined();
    expect(parsePartitionPath('other')).toBeUndefined();
  });

  it('names are unique per process start and sequence, and hidden while being written', () => {
    const a = new FileNamer('validator/pod-7f9', 1000);
    const b = new FileNamer('validator/pod-7f9', 1000);
    const names = [a.next(), a.next(), b.next()];
    expect(new Set(names).size).toBe(3);
    expect(names[0]).toMatch(/^part-validator\.pod-7f9-[0-9a-z]+-000001\.parquet$/);
    expect(names[1]).toMatch(/-000002\.parquet$/);
    const n = names[0] as string;
    expect(isFinalName(n)).toBe(true);
    expect(sourceOfName(n)).toBe('validator.pod-7f9');
    expect(tempName(n)).toBe(`.${n}.tmp`);
    expect(finalNameOf(tempName(n))).toEqual({ finalName: n, kind: 'temp' });
    expect(finalNameOf(journalName(n))).toEqual({ finalName: n, kind: 'journal' });
    expect(isFinalName(tempName(n))).toBe(false);
    expect(sourceToken('../../etc/passwd')).toBe('etc.passwd');
    expect(sourceToken('')).toBe('unknown');
  });
});

describe('the journal', () => {
  const header = headerFrame({
    journalVersion: 1,
    schemaVersion: 1,
    compression: 'GZIP',
    source: 's',
    createdMs: 1,
    metadata: { a: 'b' },
  });
  const e1 = entryFrame({ dataEnd: 4096, rows: 10, rowGroup: Buffer.from('rg-one') });
  const e2 = entryFrame({ dataEnd: 8192, rows: 20, rowGroup: Buffer.from('rg-two') });

  it('reads back the header and every entry', () => {
    const j = parseJournal(Buffer.concat([header, e1, e2]));
    expect(j.header?.metadata).toEqual({ a: 'b' });
    expect(j.entries.map((e) => [e.dataEnd, e.rows, e.rowGroup.toString()])).toEqual([
      [4096, 10, 'rg-one'],
      [8192, 20, 'rg-two'],
    ]);
    expect(j.trailingBytes).toBe(0);
  });

  it('stops at a torn or corrupted frame', () => {
    const torn = parseJournal(Buffer.concat([header, e1, e2.subarray(0, e2.length - 3)]));
    expect(torn.entries).toHaveLength(1);
    expect(torn.trailingBytes).toBe(e2.length - 3);
    const bad = Buffer.from(e2);
    bad[10] = (bad[10] as number) ^ 0xff;
    expect(parseJournal(Buffer.concat([header, e1, bad])).entries).toHaveLength(1);
    expect(parseJournal(Buffer.concat([e1])).entries).toHaveLength(0); // no header: nothing trusted
  });
});
