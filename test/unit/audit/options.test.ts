import { describe, expect, it } from 'vitest';
import { checkAuditSettings, parseAuditSettings } from '../../../src/audit/options.ts';

describe('checkAuditSettings', () => {
  it('turns durations and sizes into writer options', () => {
    expect(
      checkAuditSettings(
        {
          directory: '/a',
          flushInterval: '5s',
          batchSize: '8Mi',
          rotate: { age: '1m' },
          retention: { maxSize: '10G' },
        },
        'validator/x',
      ),
    ).toEqual({
      ok: true,
      value: {
        directory: '/a',
        source: 'validator/x',
        flushIntervalMs: 5000,
        batchBytes: 8 * 1024 * 1024,
        maxFileAgeMs: 60_000,
        retention: { maxTotalBytes: 10e9 },
      },
    });
  });

  it('lists every bad field, including sizes and counts too large to be exact', () => {
    const r = checkAuditSettings(
      {
        directory: '/a',
        flushInterval: 'soon',
        batchSize: '99999999999999999999',
        rotate: { rows: 1e300, size: '5 MB' },
        buffer: { events: -1 },
      },
      'x',
    );
    expect(r.ok ? [] : r.problems.map((p) => p.field)).toEqual([
      'flushInterval',
      'batchSize',
      'rotate.rows',
      'rotate.size',
      'buffer.events',
    ]);
    expect(() => parseAuditSettings({ directory: '/a', rotate: { age: 'later' } }, 'x')).toThrow(
      /^audit: rotate\.age: "later" is not a valid duration/,
    );
  });
});
