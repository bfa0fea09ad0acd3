import { describe, expect, it } from 'vitest';
import { KubeError, type KubeRest } from '../../../src/kube/rest.ts';
import { KeyStore } from '../../../src/validator/key-store.ts';
import { LastUsedReporter } from '../../../src/validator/last-used.ts';
import { makeKey } from '../../support/validator/keys.ts';

// The API server's side of status.lastUsedAt, with resourceVersion preconditions as it enforces them.
// (The integration tests run the same against a real API server.)
function fakeApi(uid: string, initial?: string) {
  const state = { rv: 1, lastUsedAt: initial, patches: [] as unknown[], gets: 0 };
  let interfere: (() => void) | undefined;
  const rest = {
    async get() {
      state.gets++;
      const snapshot = {
        metadata: { uid, resourceVersion: String(state.rv) },
        status: { lastUsedAt: state.lastUsedAt },
      };
      interfere?.();
      interfere = undefined;
      return snapshot;
    },
    async patch(
      _path: string,
      body: { metadata: { resourceVersion: string }; status: { lastUsedAt: string } },
    ) {
      state.patches.push(body);
      if (body.metadata.resourceVersion !== String(state.rv))
        throw new KubeError(409, 'Conflict', 'conflict', undefined);
      state.rv++;
      state.lastUsedAt = body.status.lastUsedAt;
      return {};
    },
  } as unknown as KubeRest;
  return { rest, state, interfereOnce: (f: () => void) => (interfere = f) };
}

const T = Date.parse('2030-05-05T10:00:00Z');

function keyWithStore() {
  const k = makeKey();
  const store = new KeyStore();
  store.upsert(structuredClone(k.secret));
  const stored = store.get(k.keyId);
  if (!stored) throw new Error('not stored');
  return { k, stored };
}

describe('last used reporter', () => {
  it('reports a first use at once, then at most once per interval', async () => {
    const { k, stored } = keyWithStore();
    const api = fakeApi(k.record.apiKey.uid);
    const r = new LastUsedReporter(api.rest, 60_000);
    r.seen(stored, T);
    await r.flush(false, T);
    expect(api.state.lastUsedAt).toBe('2030-05-05T10:00:00Z');
    r.seen(stored, T + 5_000);
    await r.flush(false, Date.now() + 30_000);
    expect(api.state.patches).toHaveLength(1);
    await r.flush(false, Date.now() + 61_000);
    expect(api.state.lastUsedAt).toBe('2030-05-05T10:00:05Z');
    await r.flush(false, Date.now() + 200_000);
    expect(api.state.patches).toHaveLength(2); // nothing new to say
  });

  it('never moves the time backwards: a newer value from another replica wins', async () => {
    const { k, stored } = keyWithStore();
    const api = fakeApi(k.record.apiKey.uid, '2030-05-05T10:00:30Z');
    const outcomes: string[] = [];
    const r = new LastUsedReporter(api.rest, 60_000, (o) => outcomes.push(o));
    r.seen(stored, T);
    await r.flush(true);
    expect(api.state.lastUsedAt).toBe('2030-05-05T10:00:30Z');
    expect(outcomes).toEqual(['newer_exists']);
  });

  it('re-reads after a conflicting write, and then yields to the newer value', async () => {
    const { k, stored } = keyWithStore();
    const api = fakeApi(k.record.apiKey.uid, '2030-05-05T09:00:00Z');
    api.interfereOnce(() => {
      api.state.rv++;
      api.state.lastUsedAt = '2030-05-05T11:00:00Z';
    });
    const outcomes: string[] = [];
    const r = new LastUsedReporter(api.rest, 60_000, (o) => outcomes.push(o));
    r.seen(stored, T);
    await r.flush(true);
    expect(outcomes).toEqual(['conflict', 'newer_exists']);
    expect(api.state.lastUsedAt).toBe('2030-05-05T11:00:00Z');
  });

  it('leaves a re-created ApiKey of the same name alone, and flushes pending uses on stop', async () => {
    const { stored } = keyWithStore();
    const api = fakeApi('another-uid');
    const r = new LastUsedReporter(api.rest, 60_000);
    r.seen(stored, T);
    await r.stop();
    expect(api.state.gets).toBe(1);
    expect(api.state.patches).toHaveLength(0);
  });
});
