import { describe, expect, it } from 'vitest';
import { BUILT_IN_POLICY } from '../../../src/api/policy.ts';
import { parseAdmissionReview } from '../../../src/kube/admission/review.ts';
import { mutateApiKey } from '../../../src/webhook/mutate.ts';
import { apiKey, NOW, POLICY, review } from '../../support/webhook/reviews.ts';

function mutate(object: unknown, oldObject?: unknown, policy = POLICY) {
  const r = parseAdmissionReview(review(oldObject ? 'UPDATE' : 'CREATE', object, oldObject));
  if (!r.ok) throw new Error(r.message);
  const d = mutateApiKey(r.request, { policy, now: NOW });
  if (!d.allowed) throw new Error(d.message);
  return d.patch ?? [];
}

/** Applies the ops the way the API server would (only add/replace of plain paths are produced). */
function apply(doc: Record<string, unknown>, ops: { op: string; path: string; value?: unknown }[]) {
  const out = structuredClone(doc);
  for (const op of ops) {
    const keys = op.path
      .slice(1)
      .split('/')
      .map((k) => k.replace(/~1/g, '/').replace(/~0/g, '~'));
    let node = out as Record<string, unknown>;
    for (const k of keys.slice(0, -1)) node = node[k] as Record<string, unknown>;
    node[keys[keys.length - 1] as string] = op.value;
  }
  return out as { metadata: { labels: Record<string, string> }; spec: Record<string, unknown> };
}

describe('mutating webhook', () => {
  it('defaults expiresAt to the policy default lifetime and type, and leaves labels to the controller', () => {
    const obj = apiKey({ spec: { environment: 'production', type: undefined } });
    const out = apply(obj, mutate(obj));
    expect(out.spec.type).toBe('private');
    // POLICY keeps the built-in 366 days: one calendar year from 2026-11-23 (365 days, no 29 Feb).
    expect(out.spec.expiresAt).toBe('2027-11-23T15:04:05Z');
    expect(out.metadata.labels).toBeUndefined();
  });

  it('answers a complete manifest with no patch at all (a patch makes the API server admit the object twice)', () => {
    const obj = apiKey({ spec: { expiresAt: '2027-01-01T00:00:00Z', permissions: ['tickets:read'] } });
    expect(mutate(obj)).toEqual([]);
  });

  it('never writes labels, whatever labels the client sent (the controller owns them)', () => {
    const obj = apiKey({
      spec: { expiresAt: '2027-01-01T00:00:00Z', environment: 'staging' },
      labels: { 'keywarden.dev/environment': 'production', 'keywarden.dev/type': 'public' },
    });
    expect(mutate(obj).filter((o) => o.path.startsWith('/metadata/labels'))).toEqual([]);
  });

  it('uses a shorter default lifetime from the policy', () => {
    const obj = apiKey();
    const out = apply(obj, mutate(obj, undefined, { ...BUILT_IN_POLICY, defaultLifetimeDays: 30 }));
    expect(out.spec.expiresAt).toBe('2026-12-23T15:04:05Z');
  });

  it('normalises allowed sources and permissions', () => {
    const obj = apiKey({
      spec: {
        expiresAt: '2027-01-01T00:00:00Z',
        permissions: ['tickets:read', 'devices:*', 'tickets:read'],
        allowedSources: ['10.1.2.3', '10.0.0.0/8', '10.1.2.3/32', '2001:DB8::1', '::ffff:192.0.2.1'],
      },
    });
    const out = apply(obj, mutate(obj));
    expect(out.spec.permissions).toEqual(['devices:*', 'tickets:read']);
    expect(out.spec.allowedSources).toEqual(['10.1.2.3/32', '10.0.0.0/8', '2001:db8::1/128', '192.0.2.1/32']);
    expect(out.spec.expiresAt).toBe('2027-01-01T00:00:00Z');
  });

  it('produces no patch for an object already in normal form', () => {
    const obj = apiKey({
      spec: { expiresAt: '2027-01-01T00:00:00Z', permissions: ['a:b'], allowedSources: ['10.0.0.0/8'] },
      labels: { 'keywarden.dev/environment': 'staging', 'keywarden.dev/type': 'private', other: 'kept' },
    });
    expect(mutate(obj)).toEqual([]);
  });

  it('keeps the current expiry when an update drops expiresAt instead of extending the key', () => {
    const old = apiKey({ spec: { expiresAt: '2027-01-01T00:00:00Z' } });
    const obj = apiKey();
    expect(apply(obj, mutate(obj, old)).spec.expiresAt).toBe('2027-01-01T00:00:00Z');
  });

  it('leaves fields of the wrong shape for the schema to refuse', () => {
    const obj = apiKey({
      spec: { environment: 'prod uction', expiresAt: 'x', permissions: 'a:b', allowedSources: ['nope'] },
    });
    expect(mutate(obj)).toEqual([]);
  });
});

describe('reveal requester (audit attribution)', () => {
  const REQ = 'keywarden.dev/reveal-request';
  const BY = 'keywarden.dev/reveal-requested-by';
  const withAnnotations = (annotations: Record<string, string>) => {
    const o = apiKey() as { metadata: Record<string, unknown> };
    o.metadata.annotations = annotations;
    return o;
  };
  const stamp = (object: unknown, oldObject: unknown, username?: string) => {
    const r = parseAdmissionReview({
      ...review('UPDATE', object, oldObject),
      request: { ...review('UPDATE', object, oldObject).request, userInfo: username ? { username } : {} },
    });
    if (!r.ok) throw new Error(r.message);
    const d = mutateApiKey(r.request, { policy: POLICY, now: NOW });
    if (!d.allowed) throw new Error(d.message);
    return (d.patch ?? []).filter((op) => op.path.includes('reveal-requested-by'));
  };

  it('stamps the user the API server authenticated when the reveal request changes', () => {
    expect(stamp(withAnnotations({ [REQ]: '{"new":1}' }), withAnnotations({}), 'alice')).toEqual([
      { op: 'add', path: '/metadata/annotations/keywarden.dev~1reveal-requested-by', value: 'alice' },
    ]);
    // A name the client wrote itself is overwritten with the real one.
    expect(
      stamp(
        withAnnotations({ [REQ]: '{"new":2}', [BY]: 'bob' }),
        withAnnotations({ [REQ]: '{"new":1}' }),
        'mallory',
      ),
    ).toEqual([
      { op: 'replace', path: '/metadata/annotations/keywarden.dev~1reveal-requested-by', value: 'mallory' },
    ]);
  });

  it('never lets a client write or change the name without a new request', () => {
    // Forged with the request unchanged: put back as it was.
    expect(
      stamp(
        withAnnotations({ [REQ]: 'r', [BY]: 'bob' }),
        withAnnotations({ [REQ]: 'r', [BY]: 'alice' }),
        'mallory',
      ),
    ).toEqual([
      { op: 'replace', path: '/metadata/annotations/keywarden.dev~1reveal-requested-by', value: 'alice' },
    ]);
    // Added where there was none: removed.
    expect(stamp(withAnnotations({ [BY]: 'bob' }), withAnnotations({}), 'mallory')).toEqual([
      { op: 'remove', path: '/metadata/annotations/keywarden.dev~1reveal-requested-by' },
    ]);
    // Untouched: no op.
    expect(
      stamp(withAnnotations({ [REQ]: 'r', [BY]: 'alice' }), withAnnotations({ [REQ]: 'r', [BY]: 'alice' })),
    ).toEqual([]);
  });
});
