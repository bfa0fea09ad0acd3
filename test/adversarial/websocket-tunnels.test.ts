import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { closedWithin, openTunnel as openSharedTunnel, type Tunnel } from '../support/http/ws-tunnel.ts';
import { apiKeyPath, patchSpec } from '../support/kube/apikeys.ts';
import { adminRest } from '../support/kube/client.ts';
import { createNamespace } from '../support/kube/kubectl.ts';
import { type RunningValidator, startValidator, writeConfig } from '../support/validator/cluster.ts';
import { type KeyedNamespace, keyedNamespace } from '../support/validator/keyed-validator.ts';

// Actor: the holder of a key that is then disabled, regenerated or deleted (a leaked key its owner
// revokes). Never: keep using the API through a websocket tunnel opened while the key was valid.
// Real control plane and controller, the validator as its own process in reverse-proxy mode, a real
// `ws` upstream that keeps every tunnel open and answers pings; the key changes through the API server.

const BOUND_MS = 5_000; // the controller's write plus the validator's watch, on a loaded machine
const rest = adminRest();
let keyed: KeyedNamespace;
let upstream: WebSocketServer;
let v: RunningValidator;

beforeAll(async () => {
  const ns = await createNamespace('adv-tunnels');
  keyed = await keyedNamespace(rest, ns);
  upstream = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  upstream.on('connection', (ws) => ws.on('message', (m) => ws.send(`echo ${m.toString()}`)));
  await new Promise((r) => upstream.once('listening', r));
  const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  v = await startValidator(
    writeConfig(`environment: production
keyStore: { namespaces: [${ns}] }
lastUsed: { enabled: false }
upstream: { url: "${url}" }
routes:
  - { path: /v1/stream, permission: stream:read }
`),
  );
}, 300_000);

afterAll(async () => {
  await v?.proc.stop();
  upstream?.close();
  await keyed?.stop();
});

const openTunnel = (key: string) => openSharedTunnel(v.port, key);
/** Milliseconds from `from` until the tunnel closed, or Infinity when still open after the bound. */
const closedWithinBound = (t: Tunnel, from: number) => closedWithin(t, from, BOUND_MS * 2);

/** Keys are minted in parallel: each reveal waits on the controller. */
const mint = (name: string) => keyed.mint(name, { environment: 'production', permissions: ['stream:read'] });

describe('a websocket tunnel ends when its key stops being valid (real control plane)', () => {
  it(`disabled, regenerated without grace, deleted: each tunnel closed within ${BOUND_MS} ms; an untouched key's tunnel stays`, async () => {
    const [disabled, regenerated, deleted, untouched] = await Promise.all(
      ['disabled', 'regenerated', 'deleted', 'untouched'].map(mint),
    );
    const tunnels = {
      disabled: await openTunnel(disabled as string),
      regenerated: await openTunnel(regenerated as string),
      deleted: await openTunnel(deleted as string),
      untouched: await openTunnel(untouched as string),
    };
    const at = Date.now();
    await patchSpec(rest, keyed.ns, 'disabled', { disabled: true });
    await patchSpec(rest, keyed.ns, 'regenerated', { rotation: { generation: 1 } });
    await rest.delete(apiKeyPath(keyed.ns, 'deleted'));
    const took = {
      disabled: await closedWithinBound(tunnels.disabled, at),
      regenerated: await closedWithinBound(tunnels.regenerated, at),
      deleted: await closedWithinBound(tunnels.deleted, at),
    };
    expect(took.disabled, 'disabled').toBeLessThan(BOUND_MS);
    expect(took.regenerated, 'regenerated without grace').toBeLessThan(BOUND_MS);
    expect(took.deleted, 'deleted').toBeLessThan(BOUND_MS);
    // The untouched key's tunnel still carries data.
    const echo = new Promise<string>((resolve) =>
      tunnels.untouched.ws.once('message', (m) => resolve(m.toString())),
    );
    tunnels.untouched.ws.send('still');
    expect(await echo).toBe('echo still');
    tunnels.untouched.ws.close();
    // And the revoked keys cannot open a new one.
    await expect(openTunnel(disabled as string)).rejects.toThrow(/401/);
  }, 180_000);
});
