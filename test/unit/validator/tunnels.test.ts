import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { createLogger } from '../../../src/observability/logger.ts';
import { generateKey, hashKey } from '../../../src/rules/index.ts';
import { parseConfig } from '../../../src/validator/config/load.ts';
import { KeyStore } from '../../../src/validator/key-store.ts';
import { Validator } from '../../../src/validator/server.ts';
import { closedWithin, openTunnel as openSharedTunnel, type Tunnel } from '../../support/http/ws-tunnel.ts';
import { makeKey, secretFor, type TestKey } from '../../support/validator/keys.ts';

// Finding 10: a websocket tunnel opened with a key must close when that key stops being valid for it
// (disabled, expired, regenerated without grace or after the grace, deleted, permission taken away),
// and must stay open while it is still valid. Real sockets, a real `ws` upstream; the key store is fed
// directly (test/adversarial/websocket-tunnels.test.ts does it through the real control plane).

let upstreamServer: WebSocketServer;
let v: Validator;
const store = new KeyStore();
const BOUND_MS = 1_000;

beforeAll(async () => {
  upstreamServer = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  upstreamServer.on('connection', (ws) => ws.on('message', (m) => ws.send(`echo ${m.toString()}`)));
  await new Promise((r) => upstreamServer.once('listening', r));
  const cfg = parseConfig(
    [
      'environment: production',
      `upstream: { url: "http://127.0.0.1:${(upstreamServer.address() as AddressInfo).port}" }`,
      'routes:',
      '  - { path: /v1/stream, permission: stream:read }',
    ].join('\n'),
  );
  if (!cfg.ok) throw new Error(JSON.stringify(cfg.problems));
  v = new Validator(cfg.value, { rest: undefined, log: createLogger('test', 'silent'), store });
  await v.start({ port: 0, host: '127.0.0.1' });
});

afterAll(async () => {
  await v?.stop();
  upstreamServer?.close();
});

const openTunnel = (key: string) => openSharedTunnel(v.port, key);
/** Milliseconds from `from` until the tunnel closed, or Infinity when still open after the bound. */
const withinBound = (t: Tunnel, from: number) => closedWithin(t, from, BOUND_MS * 3);

/** When the tunnel closed, or Infinity when it is still open BOUND_MS after `deadline`. */
const closedBy = (t: Tunnel, deadline: number) =>
  Promise.race([
    t.closed,
    new Promise<number>((r) =>
      setTimeout(() => r(Number.POSITIVE_INFINITY), deadline - Date.now() + BOUND_MS),
    ),
  ]);

const stillOpen = async (t: Tunnel) => {
  await new Promise((r) => setTimeout(r, 200));
  expect(t.ws.readyState).toBe(WebSocket.OPEN);
};

function publish(k: TestKey, change: Partial<TestKey['record']>): void {
  const record = { ...structuredClone(k.record), ...change };
  store.upsert(secretFor(record));
}

const fresh = (overrides: Parameters<typeof makeKey>[0] = {}) => {
  const k = makeKey({ permissions: ['stream:read'], ...overrides });
  store.upsert(structuredClone(k.secret));
  return k;
};

describe('websocket tunnels end when their key stops being valid', () => {
  it('disabled: closed within the bound; a tunnel of another key stays open', async () => {
    const k = fresh();
    const other = fresh();
    const t = await openTunnel(k.key);
    const bystander = await openTunnel(other.key);
    const at = Date.now();
    publish(k, { disabled: true });
    expect(await withinBound(t, at)).toBeLessThan(BOUND_MS);
    await stillOpen(bystander);
    bystander.ws.close();
  });

  it('regenerated without grace: closed; with grace: open until the grace ends, then closed', async () => {
    const k = fresh();
    const t = await openTunnel(k.key);
    const renewed = generateKey({ type: 'private', environment: 'production', keyId: k.keyId });
    const at = Date.now();
    publish(k, { hash: hashKey(renewed), rotationGeneration: 1 });
    expect(await withinBound(t, at)).toBeLessThan(BOUND_MS);

    const g = fresh();
    const graced = await openTunnel(g.key);
    const next = generateKey({ type: 'private', environment: 'production', keyId: g.keyId });
    const until = Date.now() + 600;
    publish(g, {
      hash: hashKey(next),
      rotationGeneration: 1,
      previous: { hash: g.record.hash, validUntil: new Date(until).toISOString() },
    });
    await stillOpen(graced);
    const closedAt = await closedBy(graced, until);
    expect(closedAt).toBeGreaterThanOrEqual(until);
    expect(closedAt - until).toBeLessThan(BOUND_MS);
  });

  it('expired: closed when expiresAt passes, with no change to the key', async () => {
    const expiresAt = Date.now() + 700;
    const k = fresh({ expiresAt: new Date(expiresAt).toISOString() });
    const t = await openTunnel(k.key);
    await stillOpen(t);
    const closedAt = await closedBy(t, expiresAt);
    expect(closedAt).toBeGreaterThanOrEqual(expiresAt);
    expect(closedAt - expiresAt).toBeLessThan(BOUND_MS);
  });

  it('deleted, or the permission taken away: closed', async () => {
    const k = fresh();
    const t = await openTunnel(k.key);
    const at = Date.now();
    store.remove(`${k.secret.metadata.namespace}/${k.secret.metadata.name}`);
    expect(await withinBound(t, at)).toBeLessThan(BOUND_MS);

    const p = fresh();
    const narrowed = await openTunnel(p.key);
    const at2 = Date.now();
    publish(p, { permissions: ['other:read'] });
    expect(await withinBound(narrowed, at2)).toBeLessThan(BOUND_MS);
  });

  it('counts every cut tunnel by reason', async () => {
    const text = await v.metrics.registry.metrics();
    expect(text).toMatch(/keywarden_validator_tunnels_closed_total\{reason="key_disabled"\} [1-9]/);
    expect(text).toMatch(/keywarden_validator_tunnels_closed_total\{reason="key_expired"\} [1-9]/);
  });

  it('an unrelated change to the key keeps its tunnel open', async () => {
    const k = fresh();
    const t = await openTunnel(k.key);
    publish(k, { customers: ['acme'] });
    await stillOpen(t);
    t.ws.close();
    await t.closed;
  });
});
