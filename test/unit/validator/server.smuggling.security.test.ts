import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Validator } from '../../../src/validator/server.ts';
import { RawConnection } from '../../support/http/raw-connection.ts';
import { startValidator } from '../../support/validator/in-process.ts';
import { makeKey } from '../../support/validator/keys.ts';

// Request smuggling and desync through the kept-alive reverse proxy. Actor: a client without a valid
// key (or with a low-privilege one) on a connection the proxy keeps open. Must never: get a request
// to the upstream that the validator did not decide on (one hidden in a refused request's body, or
// behind conflicting framing), or have anything of a refused request (its headers, its body) show up
// in the next request the upstream receives on a pooled connection.

const good = makeKey({ permissions: ['devices:read'] });
const SMUGGLED_PATH = '/v1/admin/smuggled';

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

let upstream: Server;
let v: Validator;
const seen: Seen[] = [];

beforeAll(async () => {
  upstream = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('latin1'),
      });
      res.writeHead(200, { 'content-length': '2' });
      res.end('ok');
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  v = await startValidator(
    [
      'environment: production',
      `upstream: { url: "http://127.0.0.1:${(upstream.address() as AddressInfo).port}" }`,
      'unmappedRoutes: allow',
      'routes:',
      '  - { path: /v1/devices/**, methods: [GET, POST], permission: devices:read }',
      '  - { path: /v1/admin/**, permission: admin:write }',
    ],
    [good],
  );
});
afterAll(async () => {
  await v?.stop();
  upstream?.close();
});

/** A complete request for the admin route with the (low-privilege) key: it must never arrive. */
const smuggled = `GET ${SMUGGLED_PATH} HTTP/1.1\r\nHost: app\r\nX-API-Key: ${good.key}\r\n\r\n`;
const withKey = (path: string, extra = '') =>
  `GET ${path} HTTP/1.1\r\nHost: app\r\nX-API-Key: ${good.key}\r\n${extra}\r\n`;

/** What the upstream received during `f`, once the connection is done with. */
async function upstreamSaw(f: () => Promise<void>): Promise<Seen[]> {
  const before = seen.length;
  await f();
  await new Promise((r) => setTimeout(r, 100));
  const got = seen.slice(before);
  expect(got.map((s) => s.url)).not.toContain(SMUGGLED_PATH);
  expect(got.some((s) => s.body.includes('HTTP/1.1') && s.url !== '/v1/devices/echo')).toBe(false);
  return got;
}

describe('request smuggling through the kept-alive reverse proxy', () => {
  it('pipelined: a refused request, then an allowed one, on one connection: each decided on its own', async () => {
    const got = await upstreamSaw(async () => {
      const c = await RawConnection.open(v.port);
      c.write(
        `GET /v1/devices/1 HTTP/1.1\r\nHost: app\r\nX-Marker: refused\r\nX-API-Key: kwsk_prod_nope\r\n\r\n${withKey('/v1/devices/2')}`,
      );
      expect((await c.next())?.status).toBe(401);
      expect((await c.next())?.status).toBe(200);
      c.close();
    });
    expect(got.map((s) => s.url)).toEqual(['/v1/devices/2']);
    expect(got[0]?.headers['x-marker']).toBeUndefined();
    expect(got[0]?.headers['x-keywarden-key-id']).toBe(good.keyId);
  });

  it('a 401, then another request on the same connection: nothing of the first reaches the upstream', async () => {
    const got = await upstreamSaw(async () => {
      const c = await RawConnection.open(v.port);
      c.write(
        `GET /v1/devices/1 HTTP/1.1\r\nHost: app\r\nX-Marker: first\r\nX-Keywarden-Key-Id: forged\r\n\r\n`,
      );
      const refused = await c.next();
      expect(refused?.status).toBe(401);
      expect(refused?.headers.connection ?? 'keep-alive').toBe('keep-alive');
      c.write(withKey('/v1/devices/2'));
      expect((await c.next())?.status).toBe(200);
      c.close();
    });
    expect(got).toHaveLength(1);
    expect(got[0]?.headers['x-marker']).toBeUndefined();
    expect(got[0]?.headers['x-keywarden-key-id']).toBe(good.keyId);
  });

  it('a refused request with a body: the body is never read as a request, and the connection closes', async () => {
    for (const framing of [`Content-Length: ${smuggled.length}\r\n`, 'Transfer-Encoding: chunked\r\n']) {
      const body = framing.startsWith('Content-Length')
        ? smuggled
        : `${smuggled.length.toString(16)}\r\n${smuggled}\r\n0\r\n\r\n`;
      const got = await upstreamSaw(async () => {
        const c = await RawConnection.open(v.port);
        c.write(`POST /v1/devices/1 HTTP/1.1\r\nHost: app\r\n${framing}\r\n${body}${smuggled}`);
        const a = await c.next();
        expect(a?.status).toBe(401);
        expect(a?.headers.connection).toBe('close');
        expect(await c.next()).toBeUndefined();
        c.close();
      });
      expect(got).toEqual([]);
    }
  });

  it('a route refusal (403) with a body closes the connection too; nothing of it reaches the upstream', async () => {
    const got = await upstreamSaw(async () => {
      const c = await RawConnection.open(v.port);
      c.write(
        `POST /v1/admin/x HTTP/1.1\r\nHost: app\r\nX-API-Key: ${good.key}\r\nContent-Length: 5\r\n\r\nhello${withKey('/v1/devices/3')}`,
      );
      const a = await c.next();
      expect(a?.status).toBe(403);
      expect(a?.headers.connection).toBe('close');
      expect(await c.next()).toBeUndefined();
      c.close();
    });
    // Node parses a pipelined request ahead of the first answer: it may be decided (on its own) and
    // proxied, though its answer is never sent. The refused request itself never arrives.
    expect(got.map((s) => s.url).filter((u) => u !== '/v1/devices/3')).toEqual([]);
    for (const s of got) {
      expect(s.body).toBe('');
      expect(s.headers['x-keywarden-key-id']).toBe(good.keyId);
    }
  });

  it.each([
    [
      'Content-Length and Transfer-Encoding together (CL.TE)',
      'Content-Length: 4\r\nTransfer-Encoding: chunked\r\n',
    ],
    [
      'Transfer-Encoding and Content-Length together (TE.CL)',
      'Transfer-Encoding: chunked\r\nContent-Length: 4\r\n',
    ],
    ['two different Content-Lengths', 'Content-Length: 0\r\nContent-Length: 60\r\n'],
    ['an obfuscated Transfer-Encoding', 'Transfer-Encoding: xchunked\r\n'],
    ['Transfer-Encoding with a space before the colon', 'Transfer-Encoding : chunked\r\n'],
    ['chunked, then identity', 'Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n'],
  ])(
    '%s: refused with 400 and the connection closed, nothing reaches the upstream',
    async (_name, framing) => {
      const got = await upstreamSaw(async () => {
        const c = await RawConnection.open(v.port);
        c.write(
          `POST /v1/devices/1 HTTP/1.1\r\nHost: app\r\nX-API-Key: ${good.key}\r\n${framing}\r\n0\r\n\r\n${smuggled}`,
        );
        const a = await c.next();
        expect(a?.status).toBe(400);
        expect(await c.next()).toBeUndefined();
        await c.waitClosed();
      });
      expect(got).toEqual([]);
    },
  );

  it('an allowed request whose body holds a request: the upstream gets it as a body, never as a request', async () => {
    const got = await upstreamSaw(async () => {
      const c = await RawConnection.open(v.port);
      c.write(
        `POST /v1/devices/echo HTTP/1.1\r\nHost: app\r\nX-API-Key: ${good.key}\r\nContent-Length: ${smuggled.length}\r\n\r\n${smuggled}`,
      );
      expect((await c.next())?.status).toBe(200);
      // The pooled upstream connection is used again: it must be in step.
      c.write(withKey('/v1/devices/after'));
      expect((await c.next())?.status).toBe(200);
      c.close();
    });
    expect(got.map((s) => [s.method, s.url, s.body])).toEqual([
      ['POST', '/v1/devices/echo', smuggled],
      ['GET', '/v1/devices/after', ''],
    ]);
  });

  it('a refused Expect: 100-continue request is answered without reading its body', async () => {
    const got = await upstreamSaw(async () => {
      const c = await RawConnection.open(v.port);
      c.write(
        `POST /v1/devices/1 HTTP/1.1\r\nHost: app\r\nExpect: 100-continue\r\nContent-Length: ${smuggled.length}\r\n\r\n`,
      );
      let a = await c.next();
      if (a?.status === 100) a = await c.next();
      expect(a?.status).toBe(401);
      c.write(smuggled);
      expect(await c.next()).toBeUndefined();
      c.close();
    });
    expect(got).toEqual([]);
  });
});
