import { describe, expect, it } from 'vitest';
import { escapePointer, PatchBuilder } from '../../../../src/kube/admission/json-patch.ts';

describe('PatchBuilder', () => {
  it('escapes ~ and / in pointers (label keys contain a slash)', () => {
    expect(escapePointer('keywarden.dev/type')).toBe('keywarden.dev~1type');
    expect(escapePointer('a~b')).toBe('a~0b');
  });

  it('adds a missing branch in one op, then adds beside it', () => {
    const doc: Record<string, unknown> = { metadata: { name: 'k' } };
    const b = new PatchBuilder(doc);
    b.set(['metadata', 'labels', 'keywarden.dev/type'], 'public');
    b.set(['metadata', 'labels', 'keywarden.dev/environment'], 'staging');
    expect(b.ops).toEqual([
      { op: 'add', path: '/metadata/labels', value: { 'keywarden.dev/type': 'public' } },
      { op: 'add', path: '/metadata/labels/keywarden.dev~1environment', value: 'staging' },
    ]);
  });

  it('replaces changed values and emits nothing for equal ones', () => {
    const doc = { spec: { permissions: ['a:b'], type: 'private' } };
    const b = new PatchBuilder(doc);
    b.set(['spec', 'type'], 'private');
    b.set(['spec', 'permissions'], ['a:b', 'c:d']);
    expect(b.ops).toEqual([{ op: 'replace', path: '/spec/permissions', value: ['a:b', 'c:d'] }]);
  });
});
