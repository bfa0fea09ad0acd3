import { describe, expect, it } from 'vitest';
import { identityHeaders, readKey, stripIncoming } from '../../../../src/validator/identity/headers.ts';
import { KeyStore } from '../../../../src/validator/key-store.ts';
import { makeKey } from '../../../support/validator/keys.ts';

describe('identity headers', () => {
  it('reads the key from X-API-Key first, then Authorization: Bearer (any case)', () => {
    expect(readKey({ 'x-api-key': ' k1 ', authorization: 'Bearer k2' })).toEqual({
      key: 'k1',
      source: 'x-api-key',
    });
    expect(readKey({ authorization: 'bearer   k2' })).toEqual({ key: 'k2', source: 'authorization' });
    expect(readKey({ authorization: 'Basic abc' })).toBeUndefined();
    expect(readKey({ authorization: 'Bearer a b' })).toBeUndefined();
    expect(readKey({})).toBeUndefined();
  });

  it('strips every X-Keywarden-* header, X-API-Key, and Authorization only when it carried the key', () => {
    const h = {
      'x-keywarden-key-id': 'forged',
      'x-keywarden-anything': '1',
      'x-api-key': 'k',
      authorization: 'Bearer t',
      accept: '*/*',
    };
    stripIncoming(h, 'x-api-key');
    expect(h).toEqual({ authorization: 'Bearer t', accept: '*/*' });
    stripIncoming(h, 'authorization');
    expect(h).toEqual({ accept: '*/*' });
  });

  it('sets the identity from the record, lists comma-separated', () => {
    const k = makeKey({ permissions: ['a:b', 'c:*'], customers: [] });
    const store = new KeyStore();
    store.upsert(structuredClone(k.secret));
    const stored = store.get(k.keyId);
    if (!stored) throw new Error('not stored');
    expect(identityHeaders(stored, '203.0.113.1', 'jwt')).toEqual({
      'X-Keywarden-Key-Id': k.keyId,
      'X-Keywarden-ApiKey-Name': k.record.apiKey.name,
      'X-Keywarden-ApiKey-Namespace': 'team-a',
      'X-Keywarden-Environment': 'production',
      'X-Keywarden-Key-Type': 'private',
      'X-Keywarden-Permissions': 'a:b,c:*',
      'X-Keywarden-Customers': '',
      'X-Keywarden-Client-Ip': '203.0.113.1',
      'X-Keywarden-Jwt': 'jwt',
    });
  });
});
