import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { POD_ANNOTATIONS } from '../../../src/api/metadata.ts';
import { parseInjectorConfig, readAnnotations } from '../../../src/injector/index.ts';
import { runs, timeout } from '../../support/fuzz/runs.ts';
import { CONFIG } from '../../support/injector/fixtures.ts';

// Hostile pod annotations and injector settings: readAnnotations and parseInjectorConfig never throw,
// and every problem names its field.

const PROTO_NAMES = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf'];
const arbName = fc.oneof(
  fc.constantFrom(...Object.values(POD_ANNOTATIONS)),
  fc.constantFrom(...PROTO_NAMES.map((n) => `keywarden.dev/${n}`), ...PROTO_NAMES),
  fc.string({ maxLength: 30 }).map((s) => `keywarden.dev/${s}`),
);
const arbValue = fc.oneof(
  fc.constantFrom(
    'true',
    'false',
    'TRUE',
    ' true ',
    '',
    '0',
    '65535',
    '65536',
    '1e3',
    'http',
    'a,b,,c',
    '10.0.0.0/8',
  ),
  fc.string({ maxLength: 40 }),
  fc.bigInt().map(String),
);
const arbJwt = fc.constantFrom(CONFIG, {
  ...CONFIG,
  validatorSettings: { identity: { jwt: { issuer: 'kw' } } },
  jwtAudiences: JSON.parse('{"__proto__": ["x"], "payments": ["api"]}') as Record<string, string[]>,
});

describe('fuzz: injector input', () => {
  it('readAnnotations never throws; every problem names an annotation', { timeout: timeout() }, () => {
    fc.assert(
      fc.property(
        fc.dictionary(arbName, arbValue, { maxKeys: 12 }),
        fc.constantFrom('payments', ...PROTO_NAMES),
        arbJwt,
        (extra, namespace, config) => {
          const annotations = { [POD_ANNOTATIONS.inject]: 'true', ...extra };
          const r = readAnnotations(annotations, namespace, [], config);
          if (r.inject && !r.ok) for (const p of r.problems) expect(p.field).toMatch(/^keywarden\.dev\//);
        },
      ),
      { numRuns: runs(2000) },
    );
  });

  it('parseInjectorConfig never throws on any YAML; every problem has a field or a line', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 80 }),
          fc.anything({ maxDepth: 3 }).map((v) => stringify(v) ?? ''),
          fc
            .dictionary(
              fc.constantFrom('image', 'port', 'jwtAudiences', 'resources', ...PROTO_NAMES),
              fc.anything({ maxDepth: 2 }),
            )
            .map((v) => stringify(v)),
        ),
        (text) => {
          const r = parseInjectorConfig(text);
          if (!r.ok) {
            expect(r.problems.length).toBeGreaterThan(0);
            // Only a problem with the whole document has neither a field nor a line.
            const whole = /^(the injector configuration must be a mapping|the YAML document cannot be read)/;
            for (const p of r.problems) if (p.field === '' && p.line === 0) expect(p.message).toMatch(whole);
          }
        },
      ),
      { numRuns: runs(1000) },
    );
  });
});
