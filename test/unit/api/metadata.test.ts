import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  INJECTION_STATUS,
  LABELS,
  POD_ANNOTATION_PREFIX,
  POD_ANNOTATIONS,
  SIDECAR_LABEL_VALUE,
} from '../../../src/api/metadata.ts';

// docs/install.md's annotation table is what users read: it names every annotation the injector reads,
// and nothing else under keywarden.dev/.

const doc = readFileSync('docs/install.md', 'utf8');
const tableRows = doc.split('\n').filter((l) => l.startsWith('| `keywarden.dev/'));
const tableText = tableRows.join('\n');

describe('the pod annotations in docs/install.md', () => {
  it('lists every annotation a user writes', () => {
    const userWritten = Object.entries(POD_ANNOTATIONS).filter(([k]) => k !== 'status');
    for (const [, name] of userWritten) {
      const short = name.slice(POD_ANNOTATION_PREFIX.length);
      expect(tableText.includes(`\`${name}\``) || tableText.includes(`\`${short}\``), name).toBe(true);
    }
  });

  it('lists no annotation the injector does not know', () => {
    const known = new Set<string>(Object.values(POD_ANNOTATIONS));
    const named = [...tableText.matchAll(/`(keywarden\.dev\/[a-z-]+)`/g)].map((m) => m[1] as string);
    expect(named.length).toBeGreaterThan(10);
    expect(named.filter((n) => !known.has(n))).toEqual([]);
  });

  it('says what the injector writes on the pod', () => {
    expect(doc).toContain(`\`${POD_ANNOTATIONS.status}: ${INJECTION_STATUS}\``);
    expect(doc).toContain(`\`${LABELS.sidecar}: ${SIDECAR_LABEL_VALUE}\``);
  });
});
