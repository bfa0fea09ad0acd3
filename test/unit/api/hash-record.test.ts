import { describe, expect, it } from 'vitest';
import { parseHashRecord, parseRecordKeySet } from '../../../src/api/hash-record.ts';
import { problemsLine } from '../../../src/rules/index.ts';

const RECORD = {
  version: 1,
  keyId: 'AbCdEf123456',
  hash: 'a'.repeat(64),
  apiKey: { namespace: 'payments', name: 'web', uid: 'u-1' },
  environment: 'staging',
  type: 'private',
  permissions: ['devices:read'],
  allowedSources: [],
  customers: [],
  expiresAt: '2027-01-01T00:00:00Z',
  disabled: false,
  rotationGeneration: 0,
  issuedAt: '2026-01-01T00:00:00Z',
};

describe('parseHashRecord', () => {
  it('reads a good record', () => {
    expect(parseHashRecord(JSON.stringify(RECORD))).toEqual({ ok: true, value: RECORD });
  });

  it('names every bad field and what it must be, and sums them up in one line for logs', () => {
    const r = parseHashRecord(
      JSON.stringify({ ...RECORD, keyId: 'short', previous: null, environment: 'prod' }),
    );
    expect(r).toEqual({
      ok: false,
      problems: [
        { field: 'keyId', message: 'must be 12 base62 characters', line: 0, column: 0 },
        {
          field: 'previous',
          message: 'must be {hash: a hex SHA-256, validUntil: a time}',
          line: 0,
          column: 0,
        },
        { field: 'environment', message: 'must be production, staging or development', line: 0, column: 0 },
      ],
    });
    expect(!r.ok && problemsLine(r.problems)).toBe(
      'keyId: must be 12 base62 characters; previous: must be {hash: a hex SHA-256, validUntil: a time}; environment: must be production, staging or development',
    );
  });

  it('refuses hostile JSON without a crash: not an object, a list, prototype keys, huge numbers', () => {
    for (const text of ['[]', 'null', '"x"', '1e400', '{"version": 1e400}']) {
      expect(parseHashRecord(text)).toMatchObject({ ok: false });
    }
    const proto = parseHashRecord(`{"__proto__": ${JSON.stringify(RECORD)}}`);
    expect(proto).toMatchObject({
      ok: false,
      problems: [{ field: 'version', message: 'unsupported record version undefined' }],
    });
    const deep = parseHashRecord(
      JSON.stringify({ ...RECORD, apiKey: JSON.parse('{"__proto__": {"uid": "x"}}') }),
    );
    expect(deep).toMatchObject({ ok: false, problems: [{ field: 'apiKey' }] });
  });
});

describe('parseRecordKeySet', () => {
  it('names the key that is wrong', () => {
    expect(parseRecordKeySet('{"keys": [{"kty": "RSA"}]}')).toMatchObject({
      ok: false,
      problems: [{ field: 'keys[0]' }],
    });
    expect(parseRecordKeySet('{"keys": []}')).toMatchObject({
      ok: false,
      problems: [{ field: 'keys', message: 'the record key set has no keys' }],
    });
  });
});
