import { once } from 'node:events';
import { createServer, get } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../../src/observability/logger.ts';
import { createCa, issueCert } from '../../../../src/pki/index.ts';
import { UpstreamForwarder, upstreamTarget } from '../../../../src/validator/http/forward.ts';
import { KeyStore } from '../../../../src/validator/key-store.ts';
import { ValidatorMetrics } from '../../../../src/validator/metrics.ts';
import { runs } from '../../../support/fuzz/runs.ts';

// The reverse proxy passes a plain request target on byte for byte and reads any other as WHATWG URL
// does (what the proxy library did before): both must give the upstream the same target, or the
// upstream could read a path the validator never decided on.

/** The proxy library's reading: pathname + search of the target against a dummy base. */
function whatwgReading(target: string): string {
  if (target === '' || target.startsWith('?')) return target;
  const u = new URL(target.startsWith('//') ? `http://base.invalid${target}` : target, 'http://base.invalid');
  return `${u.pathname}${u.search}`;
}

/** The reading, or how it failed (a target no URL can hold fails both ways alike). */
function outcome(read: (t: string) => string, t: string): string {
  try {
    return read(t);
  } catch (err) {
    return `throws ${(err as Error).name}`;
  }
}
const same = (t: string) =>
  expect(
    outcome((x) => upstreamTarget('', x), t),
    t,
  ).toBe(outcome(whatwgReading, t));

const TRICKY = [
  '/',
  '/v1/devices/42',
  '/v1/devices?',
  '/v1/devices??',
  '/v1/devices?a=1&b=/./x',
  '/v1/./admin',
  '/v1/../admin',
  '/v1/%2e%2e/admin',
  '/v1/%2E/admin',
  '/v1/.%2e/admin',
  '/v1/devices/..',
  '/.well-known/x',
  "/v1/devices?q='x'",
  "/v1/it's",
  '/v1/a"b?c<d>',
  '/v1\\admin',
  '//evil.example/v1',
  '/v1/%zz/%',
  '/v1/a;b=c,d@e:f',
  '/v1/{x}/`y`/^z|',
];

describe('the upstream target', () => {
  it('is the WHATWG reading of every tricky target', () => {
    for (const t of TRICKY) same(t);
  });

  it('is the WHATWG reading of any target (fuzz)', () => {
    const chars = fc.constantFrom(...'/.%2eE?#\'"\\abc:@;=&-_~!$()*+,[]{}^`| \t'.split(''));
    fc.assert(
      fc.property(fc.array(chars, { maxLength: 24 }), (cs) => {
        same(`/${cs.join('')}`);
      }),
      { numRuns: runs(5000) },
    );
  });

  it('goes after the upstream URL path, joined by one slash', () => {
    expect(upstreamTarget('/base', '/v1/x?a=1')).toBe('/base/v1/x?a=1');
    expect(upstreamTarget('/base', '/')).toBe('/base/');
    expect(upstreamTarget('', '/v1')).toBe('/v1');
  });
});

describe('an https upstream', () => {
  it('is reached over TLS (an https agent), so an untrusted certificate is a 502, not a thrown request', async () => {
    const ca = await createCa('test-ca', new Date(Date.now() + 3600_000));
    const pair = await issueCert(ca, {
      commonName: 'upstream',
      ipAddresses: ['127.0.0.1'],
      usage: 'server',
      notAfter: new Date(Date.now() + 3600_000),
    });
    const upstream = createHttpsServer({ cert: pair.certPem, key: pair.keyPem }, (_req, res) =>
      res.end('ok'),
    );
    upstream.listen(0, '127.0.0.1');
    await once(upstream, 'listening');
    const forwarder = new UpstreamForwarder({
      url: `https://127.0.0.1:${(upstream.address() as AddressInfo).port}`,
      timeoutMs: 5000,
      metrics: new ValidatorMetrics(new KeyStore(), { perKey: { enabled: false, maxKeys: 0 } }),
      log: createLogger('test', 'error'),
    });
    const front = createServer((req, res) => forwarder.forward(req, res));
    front.listen(0, '127.0.0.1');
    await once(front, 'listening');
    try {
      const status = await new Promise<number | undefined>((resolve, reject) => {
        get({ port: (front.address() as AddressInfo).port, host: '127.0.0.1', path: '/x' }, (res) => {
          res.resume();
          resolve(res.statusCode);
        }).on('error', reject);
      });
      // The test CA is not trusted: the TLS handshake fails, and that is answered as the upstream's failure.
      expect(status).toBe(502);
    } finally {
      await forwarder.close();
      front.close();
      upstream.close();
    }
  });
});
