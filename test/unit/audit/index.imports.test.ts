import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { removeTrails, tempTrail } from '../../support/audit/events.ts';

// The writing side (src/audit/index.ts: what every validator and controller loads) never loads a
// Parquet library: a child process opens a trail, writes and closes it, and lists every module it
// resolved.

afterAll(removeTrails);

const INDEX = pathToFileURL(join(import.meta.dirname, '..', '..', '..', 'src', 'audit', 'index.ts')).href;

function modulesLoadedBy(script: string): string[] {
  const out = execFileSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `import { registerHooks } from 'node:module';
       const seen = [];
       registerHooks({ resolve(s, c, next) { const r = next(s, c); seen.push(r.url); return r; } });
       ${script}
       process.stdout.write(JSON.stringify(seen));`,
    ],
    { encoding: 'utf8' },
  );
  return JSON.parse(out) as string[];
}

describe('the audit writer loads no Parquet library', () => {
  it('opening, writing and closing a trail through src/audit/index.ts', () => {
    const dir = tempTrail();
    const loaded = modulesLoadedBy(
      `const { createAuditSink } = await import(${JSON.stringify(INDEX)});
       const sink = await createAuditSink({ directory: ${JSON.stringify(dir)}, source: 'v/1', fsync: false });
       sink.record({ timeMs: Date.now(), door: 'authz', method: 'GET', path: '/', status: 200, reason: 'ok', latencyMs: 1 });
       await sink.close();
       if (sink.stats.written !== 1) throw new Error('not written');`,
    );
    expect(loaded.some((u) => u.endsWith('/src/audit/writer.ts'))).toBe(true);
    expect(loaded.filter((u) => /node_modules\/.*(parquet|duckdb|thrift)/i.test(u))).toEqual([]);
  });

  it('the test itself can see a Parquet reader being loaded (src/audit/reader.ts)', () => {
    const reader = INDEX.replace(/index\.ts$/, 'reader.ts');
    const loaded = modulesLoadedBy(`await import(${JSON.stringify(reader)});`);
    expect(loaded.some((u) => u.includes('@dsnp/parquetjs'))).toBe(true);
  });
});
