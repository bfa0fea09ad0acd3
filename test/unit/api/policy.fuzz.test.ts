import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ApiKeyPolicySpec } from '../../../src/api/index.ts';
import { effectivePolicy } from '../../../src/api/policy.ts';
import { checkPermissions } from '../../../src/rules/index.ts';
import { arbType } from '../../support/fuzz/arbitraries.ts';
import { runs, timeout } from '../../support/fuzz/runs.ts';

// Hostile ApiKeyPolicy objects (as the API server might hand them over from an older schema, or as a
// direct etcd write could leave them): effectivePolicy and checkPermissions never throw,
// and every problem names its index.

const NAME = fc.stringMatching(/^[a-z][a-z0-9-]{0,6}$/);
const arbPermission: fc.Arbitrary<string> = fc.oneof(
  fc.tuple(NAME, fc.oneof(NAME, fc.constant('*'))).map(([r, a]) => `${r}:${a}`),
  fc.string({ maxLength: 20 }),
  fc.constantFrom('*', '*:*', ':', 'a:', ':b', 'a:b:c', 'A:B', 'a :b', '__proto__:x', 'constructor:*'),
);

const arbEntry = fc.record(
  {
    name: arbPermission,
    publicSafe: fc.oneof(fc.boolean(), fc.constant(undefined)),
    description: fc.string({ maxLength: 10 }),
  },
  { requiredKeys: ['name'] },
);

const arbSpec: fc.Arbitrary<ApiKeyPolicySpec> = fc.record(
  {
    maxLifetimeDays: fc.oneof(fc.integer({ min: -5, max: 1000 }), fc.double()),
    defaultLifetimeDays: fc.oneof(fc.integer({ min: -5, max: 1000 }), fc.double()),
    expiringSoonDays: fc.integer({ min: -5, max: 400 }),
    maxGracePeriod: fc.oneof(fc.constantFrom('0s', '1h', '24h', '-1h', '1y'), fc.string({ maxLength: 6 })),
    strictCatalogue: fc.boolean(),
    permissions: fc.array(arbEntry, { maxLength: 8 }),
    requireAllowedSources: fc.array(
      fc.record({ environment: fc.string({ maxLength: 10 }), type: fc.string({ maxLength: 8 }) }),
      { maxLength: 3 },
    ),
  },
  { requiredKeys: [] },
) as fc.Arbitrary<ApiKeyPolicySpec>;

describe('fuzz: ApiKeyPolicy objects', () => {
  it('effectivePolicy + checkPermissions never throw', { timeout: timeout() }, () => {
    fc.assert(
      fc.property(
        fc.oneof(arbSpec, fc.constant(undefined)),
        fc.array(arbPermission, { maxLength: 8 }),
        arbType,
        (spec, perms, type) => {
          const p = effectivePolicy(spec);
          expect(p.maxLifetimeDays).toBeDefined();
          const catalogue = { permissions: p.permissions, strict: p.strictCatalogue };
          const violations = checkPermissions(perms, type, catalogue);
          for (const m of violations) expect(m).toMatch(/^spec\.permissions\[\d+\] /);
          // Every invalid permission is reported, whatever the catalogue says.
          expect(violations.length).toBeLessThanOrEqual(perms.length);
          // A public key without a public-safe catalogue may hold nothing.
          if (type === 'public' && !p.permissions.some((e) => e.publicSafe === true))
            expect(violations.length).toBe(perms.length);
        },
      ),
      { numRuns: runs(3000) },
    );
  });

  it('never throws on entries of the wrong type', () => {
    fc.assert(
      fc.property(
        fc.array(fc.anything(), { maxLength: 5 }),
        fc.array(fc.anything(), { maxLength: 5 }),
        (es, ps) => {
          const catalogue = { permissions: es.map((e) => ({ name: e })) as never, strict: true };
          checkPermissions(ps as never, 'public', catalogue);
        },
      ),
      { numRuns: runs(1000) },
    );
  });
});
