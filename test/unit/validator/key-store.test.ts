import { describe, expect, it } from 'vitest';
import { KeyStore } from '../../../src/validator/key-store.ts';
import { makeKey, secretFor } from '../../support/validator/keys.ts';

describe('key store', () => {
  it('finds keys by id, replaces them on update, forgets them on delete', () => {
    const store = new KeyStore();
    const k = makeKey();
    store.upsert(structuredClone(k.secret));
    expect(store.get(k.keyId)?.record.apiKey.name).toBe(k.record.apiKey.name);
    store.upsert(secretFor({ ...k.record, disabled: true, apiKey: k.record.apiKey }));
    expect(store.get(k.keyId)?.record.disabled).toBe(true);
    expect(store.size).toBe(1);
    store.remove(`${k.secret.metadata.namespace}/${k.secret.metadata.name}`);
    expect(store.get(k.keyId)).toBeUndefined();
  });

  it('refuses records that are unreadable or misplaced, and drops the key a Secret carried before', () => {
    const store = new KeyStore();
    const refused: string[] = [];
    store.on('refused', (_ref, err) => refused.push(err));
    const k = makeKey();
    store.upsert(structuredClone(k.secret));
    store.upsert({
      ...structuredClone(k.secret),
      data: { 'record.json': Buffer.from('{"version":2}').toString('base64') },
    });
    expect(store.get(k.keyId)).toBeUndefined();
    const elsewhere = structuredClone(k.secret);
    elsewhere.metadata.namespace = 'other';
    store.upsert(elsewhere);
    const unowned = structuredClone(k.secret);
    unowned.metadata.ownerReferences = [];
    store.upsert(unowned);
    const opaque = { ...structuredClone(k.secret), type: 'Opaque' };
    store.upsert(opaque);
    expect(refused).toEqual([
      'version: unsupported record version 2',
      expect.stringContaining('names namespace team-a but sits in other'),
      'Secret is not owned by the ApiKey its record names',
      expect.stringContaining('not keywarden.dev/key-hash'),
    ]);
    expect(store.size).toBe(0);
  });

  // The CRD forbids these, but a hand-edited hash Secret does not go through the CRD; the values end
  // up in identity headers, where a line break would be a header of the Secret author's choosing.
  it('refuses a record whose customers, permissions or ApiKey name cannot go into a header', () => {
    const store = new KeyStore();
    const refused: string[] = [];
    store.on('refused', (_ref, err) => refused.push(err));
    const crlf = makeKey({ customers: ['acme', 'a\r\nX-Injected: 1'] });
    const control = makeKey({ customers: ['a\u0000b'] });
    const permission = makeKey({ permissions: ['devices:read\r\nX-Injected: 1'] });
    // Past 238 characters the hash Secret's name hashes the tail, so only this check catches it there.
    const name = makeKey({ name: `${'a'.repeat(200)}\r\nX-Injected: 1${'b'.repeat(40)}` });
    const bad = [crlf, control, permission, name];
    for (const k of bad) store.upsert(structuredClone(k.secret));
    expect(store.size).toBe(0);
    expect(store.get(crlf.keyId)).toBeUndefined();
    expect(refused).toEqual([
      expect.stringMatching(/^record has an invalid customer: /),
      expect.stringMatching(/^record has an invalid customer: /),
      expect.stringMatching(/^record has an invalid permission: /),
      expect.stringMatching(/^record has an invalid apiKey.name: /),
    ]);
    for (const [i, k] of bad.entries()) expect(refused[i]).not.toContain(k.key);
    // A record that was fine, edited to a bad one, loses its key instead of keeping the old one.
    const ok = makeKey({ customers: ['acme'] });
    store.upsert(structuredClone(ok.secret));
    expect(store.get(ok.keyId)).toBeDefined();
    store.upsert(secretFor({ ...ok.record, customers: ['a\nb'] }));
    expect(store.get(ok.keyId)).toBeUndefined();
  });

  it('fails closed when two Secrets claim one key id, and recovers when one goes', () => {
    const store = new KeyStore();
    const a = makeKey();
    const b = makeKey({ keyId: a.keyId, namespace: 'team-b' });
    store.upsert(structuredClone(a.secret));
    store.upsert(structuredClone(b.secret));
    expect(store.get(a.keyId)).toBeUndefined();
    store.remove(`team-b/${b.secret.metadata.name}`);
    expect(store.get(a.keyId)?.record.hash).toBe(a.record.hash);
  });
});
