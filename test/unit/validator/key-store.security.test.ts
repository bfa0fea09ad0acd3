import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KeyStore } from '../../../src/validator/key-store.ts';
import { runs } from '../../support/fuzz/runs.ts';
import { makeKey, type TestKey } from '../../support/validator/keys.ts';

// A key id claimed by more than one hash Secret is unusable (fail closed) until one claimant is left.
// Sole and contested claims are kept in two maps (one Map read per lookup): whatever the order of
// adds, replacements and removals, a lookup answers exactly as counting the claimants would.

const IDS = ['AAAAAAAAAAAA', 'BBBBBBBBBBBB'];
const SECRETS = 4;

describe('key store: claims on a key id, against a model', () => {
  it('finds a key exactly when one Secret claims its id, whatever happened before', () => {
    const op = fc.record({
      secret: fc.nat(SECRETS - 1),
      id: fc.constantFrom(...IDS),
      remove: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const store = new KeyStore();
        const model = new Map<number, TestKey>();
        const ref = (k: TestKey) => `${k.secret.metadata.namespace}/${k.secret.metadata.name}`;
        for (const o of ops) {
          const current = model.get(o.secret);
          if (o.remove) {
            if (current) store.remove(ref(current));
            model.delete(o.secret);
          } else {
            // The same Secret (name) each time for one index: an update that may change the key id.
            const k = makeKey({ keyId: o.id, name: `s${o.secret}` });
            store.upsert(structuredClone(k.secret));
            model.set(o.secret, k);
          }
          for (const id of IDS) {
            const claimants = [...model.values()].filter((k) => k.keyId === id);
            const found = store.get(id);
            if (claimants.length === 1) expect(found?.record.hash).toBe(claimants[0]?.record.hash);
            else expect(found).toBeUndefined();
          }
          expect(store.size).toBe(model.size);
        }
      }),
      { numRuns: runs(300) },
    );
  });
});
