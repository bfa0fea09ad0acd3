import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AUDIT_DEFAULTS } from '../../../src/audit/options.ts';
import { COLUMNS } from '../../../src/audit/schema.ts';

// docs/audit.md must not drift from the code: its column table lists every column, in file order.

const doc = readFileSync(join(import.meta.dirname, '../../../docs/audit.md'), 'utf8');

describe('docs/audit.md', () => {
  it('lists every column, in order', () => {
    const table = doc.slice(doc.indexOf('## Columns'), doc.indexOf('## Layout'));
    const documented = [...table.matchAll(/^\| `([a-z_]+)`\s*\|/gm)].map((m) => m[1]);
    expect(documented).toEqual(COLUMNS.map((c) => c.name));
  });

  it('states the defaults the code has', () => {
    expect(doc).toContain(
      `buffer: { events: ${AUDIT_DEFAULTS.bufferEvents}, block: ${AUDIT_DEFAULTS.blockMs}ms }`,
    );
    expect(doc).toContain(`batchRows: ${AUDIT_DEFAULTS.batchRows}`);
    expect(doc).toContain(`batchSize: ${AUDIT_DEFAULTS.batchBytes / 2 ** 20}Mi`);
    expect(doc).toContain(
      `rotate: { rows: ${AUDIT_DEFAULTS.maxFileRows}, size: ${AUDIT_DEFAULTS.maxFileBytes / 2 ** 20}Mi, age: ${AUDIT_DEFAULTS.maxFileAgeMs / 60_000}m }`,
    );
  });
});
