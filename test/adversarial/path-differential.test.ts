import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { corpus, FORWARD_AUTH_DOORS, head, LEGITIMATE } from '../support/fixtures/path-corpus.ts';
import { type RawReply, rawRequest } from '../support/http/raw-http.ts';
import { adminRest } from '../support/kube/client.ts';
import { createNamespace } from '../support/kube/kubectl.ts';
import { type RunningValidator, startValidator, writeConfig } from '../support/validator/cluster.ts';
import { type KeyedNamespace, keyedNamespace } from '../support/validator/keyed-validator.ts';
import {
  type RealUpstream,
  startRealUpstream,
  UPSTREAM_KINDS,
  type UpstreamKind,
} from './upstreams/index.ts';

// Actor: the holder of a valid low-privilege key (data:read). Never: reach a handler that needs a
// permission the key lacks (admin:manage) by spelling the path so that the validator and the upstream
// read it differently. Every variant of the corpus goes through every front door of real validator
// processes to three real upstreams (Express 5, Go net/http ServeMux, Python http.server), which
// print every handler they run. Forward auth is played as a proxy plays it: ask the validator with the
// original request in headers (or in the Envoy path), and send the same raw bytes upstream only on 2xx.

const NARROW = 'admin:manage';
const BROAD = 'data:read';
const ROUTES = `
routes:
  - { path: /v1/admin/**, permission: ${NARROW} }
  - { path: /v1/**, permission: ${BROAD} }
unmappedRoutes: allow
`;

let keyed: KeyedNamespace;
let key: string;
let authzValidator: RunningValidator;
const upstreams = new Map<UpstreamKind, RealUpstream>();
const proxies = new Map<UpstreamKind, RunningValidator>();
const rest = adminRest();

const send = (port: number, raw: string) => rawRequest(port, raw, '', { timeoutMs: 15_000 });
/** The handler that ran, from the upstream's answer (undefined when no upstream handler answered). */
const handlerOf = (r: RawReply) => r.headers['x-handler'] ?? /handler=(\w+)/.exec(r.body)?.[1];
const adminHits = (u: RealUpstream) => u.hits.filter((h) => h.handler === 'admin');

beforeAll(async () => {
  const ns = await createNamespace('adv-paths');
  keyed = await keyedNamespace(rest, ns);
  const started = await Promise.all(UPSTREAM_KINDS.map((k) => startRealUpstream(k)));
  for (const u of started) upstreams.set(u.kind, u);
  key = await keyed.mint('low', { environment: 'production', permissions: [BROAD] });
  const common = `environment: production\nkeyStore: { namespaces: [${ns}] }\nlastUsed: { enabled: false }\n${ROUTES}`;
  // One after the other: four Node processes starting at once on a loaded 2-core machine time out.
  authzValidator = await startValidator(writeConfig(common));
  for (const u of started)
    proxies.set(u.kind, await startValidator(writeConfig(`${common}\nupstream: { url: "${u.url}" }\n`)));
}, 600_000);

afterAll(async () => {
  await Promise.all([authzValidator?.proc.stop(), ...[...proxies.values()].map((v) => v.proc.stop())]);
  await Promise.all([...upstreams.values()].map((u) => u.stop()));
  await keyed?.stop();
});

describe('differential paths: validator vs Express 5, Go net/http, Python http.server', () => {
  const variants = corpus();

  it('the corpus has at least 300 variants', () => {
    expect(variants.length).toBeGreaterThanOrEqual(300);
  });

  it('every door refuses the narrow route itself and serves legitimate paths', async () => {
    for (const u of upstreams.values()) {
      const port = (proxies.get(u.kind) as RunningValidator).port;
      const denied = await send(port, head('GET', '/v1/admin/users', key, []));
      expect(denied.status, `proxy to ${u.kind}`).toBe(403);
      for (const v of LEGITIMATE) {
        const r = await send(port, head(v.method, v.target, key, []));
        expect([r.status, handlerOf(r)], `proxy to ${u.kind}: ${v.label}`).toEqual([200, 'broad']);
      }
    }
    for (const door of FORWARD_AUTH_DOORS) {
      const denied = await send(
        authzValidator.port,
        door.request({ label: 'narrow', method: 'GET', target: '/v1/admin/users' }, key) as string,
      );
      expect(denied.status, door.name).toBe(403);
      for (const v of LEGITIMATE) {
        const r = await send(authzValidator.port, door.request(v, key) as string);
        expect(r.status, `${door.name}: ${v.label}`).toBe(200);
      }
    }
    for (const u of upstreams.values()) expect(adminHits(u), u.kind).toEqual([]);
  });

  it('no variant reaches the admin handler through any door', async () => {
    const reached: string[] = [];
    // Reverse proxy: the validator forwards the raw request itself (one validator per upstream).
    const viaProxy = [...proxies].map(async ([kind, v]) => {
      for (const variant of variants) {
        const r = await send(
          v.port,
          head(variant.method, variant.target, key, variant.headers ?? [], variant.host),
        );
        if (handlerOf(r) === 'admin')
          reached.push(`proxy → ${kind}: ${variant.label} ${JSON.stringify(variant.target)}`);
      }
    });
    // Forward auth: on 2xx the proxy sends the same raw request to the upstream.
    const viaForwardAuth = FORWARD_AUTH_DOORS.map(async (door) => {
      for (const variant of variants) {
        const auth = door.request(variant, key);
        if (auth === undefined) continue; // the proxy itself refuses this target
        const answer = await send(authzValidator.port, auth);
        if (answer.status < 200 || answer.status > 299) continue;
        for (const u of upstreams.values()) {
          const r = await send(
            u.port,
            head(
              variant.method,
              door.upstreamTarget(variant),
              undefined,
              variant.headers ?? [],
              variant.host,
            ),
          );
          if (handlerOf(r) === 'admin')
            reached.push(`${door.name} → ${u.kind}: ${variant.label} ${JSON.stringify(variant.target)}`);
        }
      }
    });
    await Promise.all([...viaProxy, ...viaForwardAuth]);
    expect(reached).toEqual([]);
    // What the upstreams printed is the ground truth (an answer can be lost; a HIT line cannot).
    for (const u of upstreams.values()) expect(adminHits(u), `${u.kind} ran the admin handler`).toEqual([]);
  }, 600_000);

  it('the corpus does reach the admin handler of each upstream when sent to it directly', async () => {
    // Without this the test above could pass on a corpus no upstream reads as the admin path.
    for (const u of upstreams.values()) {
      const before = adminHits(u).length;
      for (const variant of variants) {
        if (variant.target === '/v1/admin/users') continue;
        await send(
          u.port,
          head(variant.method, variant.target, undefined, variant.headers ?? [], variant.host),
        );
      }
      expect(adminHits(u).length - before, `${u.kind}: variants read as the admin path`).toBeGreaterThan(5);
    }
  }, 300_000);
});
