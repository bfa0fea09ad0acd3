import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { type ConfigResult, parseConfig } from '../../../../src/validator/config/load.ts';
import { CONFIG_EXAMPLES, FIXED_CONFIG_BUGS, SEEDS } from '../../../support/fuzz/regressions.ts';
import { runs, timeout } from '../../../support/fuzz/runs.ts';

// Hostile validator route configs: parseConfig never throws; a refused file lists at least one
// problem, and every problem carries a line (1-based, within the file) or a field, and a message.

const EXAMPLE = readFileSync(new URL('../../../../examples/validator-config.yaml', import.meta.url), 'utf8');
const EXAMPLE_LINES = EXAMPLE.split('\n');

const junk = fc.oneof(
  { maxDepth: 2 },
  fc.string({ maxLength: 12 }),
  fc.integer({ min: -70000, max: 70000 }),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string({ maxLength: 6 }), { maxLength: 2 }),
);
const maybe = <T>(a: fc.Arbitrary<T>) =>
  fc.oneof(
    { weight: 4, arbitrary: a },
    { weight: 1, arbitrary: junk },
    { weight: 1, arbitrary: fc.constant(undefined) },
  );

const arbDuration = fc.constantFrom(
  '1s',
  '60s',
  '1m',
  '24h',
  '0s',
  '-1s',
  '1y',
  'soon',
  '1.5h',
  '9999999999h',
);
const arbPath = fc.oneof(
  fc.constantFrom(
    '/v1/sessions',
    '/v1/devices/**',
    '/v1/*/x',
    '/',
    '/**',
    '/a/**/b',
    'v1',
    '/a//b',
    '/%zz',
    '/a?b',
    '/*',
  ),
  fc
    .array(fc.constantFrom('v1', '*', '**', ':id', 'a b', '..', '%2F', ''), { minLength: 1, maxLength: 4 })
    .map((s) => `/${s.join('/')}`),
);
const arbRoute = fc.record(
  {
    path: maybe(arbPath),
    methods: maybe(fc.array(fc.constantFrom('GET', 'post', '*', 'G3T', '', 'PATCH'), { maxLength: 3 })),
    permission: maybe(fc.constantFrom('sessions:create', 'devices:*', 'a:b:c', '*', 'UPPER:x', ':')),
    extra: fc.oneof({ weight: 9, arbitrary: fc.constant(undefined) }, junk),
  },
  { requiredKeys: [] },
);

const arbConfigObject = fc.record(
  {
    environment: maybe(fc.constantFrom('production', 'staging', 'development', 'prod')),
    server: maybe(
      fc.record(
        {
          host: maybe(fc.constantFrom('0.0.0.0', '::', '')),
          port: maybe(fc.integer({ min: -1, max: 70000 })),
          shutdownTimeout: maybe(arbDuration),
        },
        { requiredKeys: [] },
      ),
    ),
    keyStore: maybe(
      fc.record(
        { namespaces: maybe(fc.array(fc.constantFrom('a', 'a', 'b-c', 'B_C', ''), { maxLength: 3 })) },
        { requiredKeys: [] },
      ),
    ),
    trustedProxies: maybe(
      fc.array(fc.constantFrom('10.0.0.0/8', '::1', '1.2.3.4/33', 'fe80::/200', 'localhost', '0.0.0.0/0'), {
        maxLength: 3,
      }),
    ),
    routes: maybe(fc.array(arbRoute, { maxLength: 5 })),
    unmappedRoutes: maybe(fc.constantFrom('deny', 'allow', 'drop')),
    upstream: maybe(
      fc.record(
        {
          url: maybe(
            fc.constantFrom('http://127.0.0.1:3000', 'ftp://x', 'http://', 'not a url', 'https://[::1]:0'),
          ),
          timeout: maybe(arbDuration),
        },
        { requiredKeys: [] },
      ),
    ),
    identity: maybe(
      fc.record(
        {
          jwt: maybe(
            fc.record(
              {
                issuer: maybe(fc.constant('kw')),
                ttl: maybe(arbDuration),
                algorithm: maybe(fc.constantFrom('EdDSA', 'ES256', 'HS256', 'none')),
                signingKey: maybe(
                  fc.oneof(
                    fc.record({ file: maybe(fc.constant('/tmp/k.pem')) }, { requiredKeys: [] }),
                    fc.record(
                      {
                        secret: maybe(
                          fc.record(
                            { namespace: maybe(fc.constant('ns')), name: maybe(fc.constant('n')) },
                            { requiredKeys: [] },
                          ),
                        ),
                      },
                      { requiredKeys: [] },
                    ),
                  ),
                ),
              },
              { requiredKeys: [] },
            ),
          ),
        },
        { requiredKeys: [] },
      ),
    ),
    lastUsed: maybe(
      fc.record({ enabled: maybe(fc.boolean()), interval: maybe(arbDuration) }, { requiredKeys: [] }),
    ),
    metrics: maybe(
      fc.record(
        {
          perKey: maybe(
            fc.record({ maxKeys: maybe(fc.integer({ min: -1, max: 20000 })) }, { requiredKeys: [] }),
          ),
        },
        { requiredKeys: [] },
      ),
    ),
  },
  { requiredKeys: [] },
);

/** The example file with lines dropped, duplicated or garbled. */
const arbMutatedExample = fc
  .array(
    fc.record({
      at: fc.nat(),
      kind: fc.constantFrom('drop', 'dup', 'garble', 'indent'),
      text: fc.string({ maxLength: 8 }),
    }),
    { minLength: 1, maxLength: 4 },
  )
  .map((edits) => {
    const lines = [...EXAMPLE_LINES];
    for (const e of edits) {
      const i = e.at % lines.length;
      const line = lines[i] ?? '';
      if (e.kind === 'drop') lines.splice(i, 1);
      else if (e.kind === 'dup') lines.splice(i, 0, line);
      else if (e.kind === 'indent') lines[i] = ` ${line}`;
      else lines[i] = line.slice(0, line.length >> 1) + e.text;
    }
    return lines.join('\n');
  });

const arbConfigText: fc.Arbitrary<string> = fc.oneof(
  { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
  { weight: 4, arbitrary: arbConfigObject.map((o) => stringify(o)) },
  { weight: 3, arbitrary: arbMutatedExample },
);

function check(text: string): void {
  const r: ConfigResult = parseConfig(text);
  if (r.ok) return;
  expect(r.problems.length).toBeGreaterThan(0);
  const lines = text.split(/\r\n|\r|\n/).length;
  for (const p of r.problems) {
    expect(typeof p.message).toBe('string');
    expect(p.message.length).toBeGreaterThan(0);
    expect(p.line).toBeGreaterThanOrEqual(0);
    expect(p.line).toBeLessThanOrEqual(lines + 1);
    expect(p.column).toBeGreaterThanOrEqual(0);
    // Placed somewhere: a line in the file, or a named field (only the empty file has neither).
    if (p.line === 0 && p.field === '') expect(p.message).toMatch(/empty|document|file/i);
  }
}

describe('fuzz: validator route config', () => {
  it('parseConfig never throws; problems carry a line or a field', { timeout: timeout(60_000) }, () => {
    for (const t of CONFIG_EXAMPLES) check(t);
    fc.assert(fc.property(arbConfigText, check), { numRuns: runs(600) });
    for (const r of SEEDS.validatorConfig ?? [])
      fc.assert(fc.property(arbConfigText, check), { seed: r.seed, path: r.path, endOnFailure: true });
  });

  for (const bug of FIXED_CONFIG_BUGS.validatorConfig ?? [])
    it(`regression (fixed): ${bug.title}`, () => {
      for (const t of bug.inputs) expect(() => parseConfig(t)).not.toThrow();
    });
});
