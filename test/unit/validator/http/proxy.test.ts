import { createServer as createHttpServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { type AddressInfo, createServer, type Server as NetServer, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Validator } from '../../../../src/validator/server.ts';
import { RawConnection } from '../../../support/http/raw-connection.ts';
import { startValidator } from '../../../support/validator/in-process.ts';
import { makeKey } from '../../../support/validator/keys.ts';

// The reverse proxy keeps connections open on both sides: a client's connection serves many answers,
// and the upstream sees few connections for many requests. Hop-by-hop headers stay on their side. An
// upstream that closes idle connections never turns into a 502 for a request that could be sent again.

const good = makeKey({ permissions: ['devices:read'] });

interface Seen {
  socket: number;
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

const get = (path: string, headers: string[] = []) =>
  `GET ${path} HTTP/1.1\r\nHost: app\r\nX-API-Key: ${good.key}\r\n${headers.map((h) => `${h}\r\n`).join('')}\r\n`;

async function proxyTo(upstreamPort: number): Promise<Validator> {
  return startValidator(
    [
      'environment: production',
      `upstream: { url: "http://127.0.0.1:${upstreamPort}" }`,
      'routes:',
      '  - { path: /v1/devices/**, methods: [GET, POST, PUT], permission: devices:read }',
    ],
    [good],
  );
}

describe('keep-alive through the reverse proxy', () => {
  let upstream: Server;
  let v: Validator;
  const seen: Seen[] = [];
  const sockets = new Map<Socket, number>();

  beforeAll(async () => {
    upstream = createHttpServer((req, res) => {
      let id = sockets.get(req.socket);
      if (id === undefined) {
        id = sockets.size + 1;
        sockets.set(req.socket, id);
      }
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString();
        seen.push({ socket: id, method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
        if (req.url === '/v1/devices/cut') {
          // Promises 100 bytes, sends 5, and dies.
          res.writeHead(200, { 'content-length': '100' });
          res.write('hello');
          setTimeout(() => req.socket.destroy(), 50);
          return;
        }
        if (req.url === '/v1/devices/hop') {
          // Hop-by-hop headers of the upstream's own connection: never the client's business.
          res.writeHead(200, {
            'content-length': '2',
            connection: 'x-upstream-private',
            'x-upstream-private': 'secret',
            'keep-alive': 'timeout=30',
          });
          res.end('ok');
          return;
        }
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(body.length + 2) });
        res.end(`ok${body}`);
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    v = await proxyTo((upstream.address() as AddressInfo).port);
  });
  afterAll(async () => {
    await v?.stop();
    upstream?.close();
  });

  it('one client connection serves 50 requests, and the upstream sees them on one connection', async () => {
    const before = seen.length;
    const conn = await RawConnection.open(v.port);
    for (let i = 0; i < 50; i++) {
      conn.write(get(`/v1/devices/${i}`));
      const a = await conn.next();
      expect(a?.status).toBe(200);
      expect(a?.headers.connection ?? 'keep-alive').toBe('keep-alive');
    }
    expect(conn.closed).toBe(false);
    conn.close();
    const got = seen.slice(before);
    expect(got.map((s) => s.url)).toEqual(Array.from({ length: 50 }, (_, i) => `/v1/devices/${i}`));
    expect(new Set(got.map((s) => s.socket)).size).toBe(1);
  });

  it('8 clients at once: the upstream connections are reused (a few per client at most, never one per request)', async () => {
    const before = seen.length;
    const conns = await Promise.all(Array.from({ length: 8 }, () => RawConnection.open(v.port)));
    for (let round = 0; round < 20; round++) {
      await Promise.all(
        conns.map(async (c, i) => {
          c.write(get(`/v1/devices/${round}-${i}`));
          expect((await c.next())?.status).toBe(200);
        }),
      );
    }
    for (const c of conns) c.close();
    const got = seen.slice(before);
    expect(got).toHaveLength(160);
    // undici checks an idle socket before reusing it (a turn of the event loop), so under load the pool
    // may open a few more than there are clients; each still serves many requests.
    expect(new Set(got.map((s) => s.socket)).size).toBeLessThanOrEqual(32);
  });

  it("a client's Connection header cannot remove our headers, and its hop-by-hop headers stay with it", async () => {
    const before = seen.length;
    const conn = await RawConnection.open(v.port);
    conn.write(
      get('/v1/devices/1', [
        'Connection: keep-alive, X-Keywarden-Jwt, X-Keywarden-Key-Id, X-Forwarded-For, X-Private',
        'X-Private: 1',
        'Keep-Alive: timeout=1',
        'Proxy-Connection: keep-alive',
        'TE: trailers',
      ]),
    );
    expect((await conn.next())?.status).toBe(200);
    // The same client connection and the same upstream connection serve the next one.
    conn.write(get('/v1/devices/2', ['Connection: close']));
    expect((await conn.next())?.status).toBe(200);
    await conn.waitClosed();
    const [first, second] = seen.slice(before);
    expect(first?.headers['x-keywarden-key-id']).toBe(good.keyId);
    expect(first?.headers['x-forwarded-for']).toBe('127.0.0.1');
    for (const h of ['x-private', 'keep-alive', 'proxy-connection', 'te'])
      expect(first?.headers[h], h).toBeUndefined();
    expect(first?.headers.connection ?? 'keep-alive').toBe('keep-alive');
    // The client's `Connection: close` closed the client's connection, not the upstream's.
    expect(second?.headers.connection ?? 'keep-alive').toBe('keep-alive');
    expect(second?.socket).toBe(first?.socket);
  });

  it("the upstream's hop-by-hop headers never reach the client", async () => {
    const conn = await RawConnection.open(v.port);
    conn.write(get('/v1/devices/hop'));
    const a = await conn.next();
    expect(a?.status).toBe(200);
    expect(a?.body).toBe('ok');
    expect(a?.headers['x-upstream-private']).toBeUndefined();
    expect(a?.headers['keep-alive']).not.toBe('timeout=30');
    conn.write(get('/v1/devices/after'));
    expect((await conn.next())?.status).toBe(200);
    conn.close();
  });

  it('an upstream that dies mid-answer: the client connection is closed, never left waiting or reused', async () => {
    const conn = await RawConnection.open(v.port);
    conn.write(get('/v1/devices/cut'));
    await conn.waitClosed();
    conn.close();
    const next = await RawConnection.open(v.port);
    next.write(get('/v1/devices/fine'));
    expect((await next.next())?.status).toBe(200);
    next.close();
  });

  it('a request body and a pipelined request after it each arrive whole, in order', async () => {
    const before = seen.length;
    const conn = await RawConnection.open(v.port);
    const body = 'x'.repeat(5000);
    conn.write(
      `POST /v1/devices/1 HTTP/1.1\r\nHost: app\r\nX-API-Key: ${good.key}\r\nContent-Length: ${body.length}\r\n\r\n${body}${get('/v1/devices/2')}`,
    );
    expect((await conn.next())?.body).toBe(`ok${body}`);
    expect((await conn.next())?.status).toBe(200);
    conn.close();
    expect(seen.slice(before).map((s) => [s.method, s.url, s.body.length])).toEqual([
      ['POST', '/v1/devices/1', 5000],
      ['GET', '/v1/devices/2', 0],
    ]);
  });

  it('a chunked body sent after Expect: 100-continue arrives whole (the proxy answers the 100 itself)', async () => {
    const before = seen.length;
    const conn = await RawConnection.open(v.port);
    conn.write(
      `POST /v1/devices/9 HTTP/1.1\r\nHost: app\r\nX-API-Key: ${good.key}\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n`,
    );
    expect((await conn.next())?.status).toBe(100);
    conn.write('5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n');
    expect((await conn.next())?.body).toBe('okhello world');
    conn.close();
    const got = seen.slice(before);
    expect(got.map((s) => [s.method, s.url, s.body])).toEqual([['POST', '/v1/devices/9', 'hello world']]);
    expect(got[0]?.headers.expect).toBeUndefined();
  });
});

/**
 * A minimal HTTP/1.1 upstream that answers every request with 200 and then behaves as told: `close`
 * closes each connection after it has been idle for `idleMs` (no Keep-Alive hint); `drop-second`
 * closes a connection without answering when a second request arrives on it (its idle close crossed
 * our request).
 */
async function rawUpstream(
  mode: { close: number } | 'drop-second' | { answer: string },
): Promise<{ server: NetServer; port: number; connections: () => number; requests: string[] }> {
  let connections = 0;
  const requests: string[] = [];
  const server = createServer((socket) => {
    connections++;
    let served = 0;
    let buffer = '';
    let idle: NodeJS.Timeout | undefined;
    socket.on('error', () => {});
    socket.on('data', (c: Buffer) => {
      buffer += c.toString('latin1');
      for (let end = buffer.indexOf('\r\n\r\n'); end >= 0; end = buffer.indexOf('\r\n\r\n')) {
        const head = buffer.slice(0, end);
        const len = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        if (buffer.length < end + 4 + len) return;
        buffer = buffer.slice(end + 4 + len);
        requests.push(head.split('\r\n')[0] ?? '');
        served++;
        if (mode === 'drop-second' && served === 2) {
          socket.destroy();
          return;
        }
        socket.write(
          typeof mode === 'object' && 'answer' in mode
            ? mode.answer
            : 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
        );
        if (typeof mode === 'object' && 'close' in mode) {
          clearTimeout(idle);
          idle = setTimeout(() => socket.end(), mode.close);
        }
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    server,
    port: (server.address() as AddressInfo).port,
    connections: () => connections,
    requests,
  };
}

/** Sends one request with Connection: close and returns the whole raw answer (headers as sent). */
async function rawExchange(port: number, request: string): Promise<string> {
  const { connect } = await import('node:net');
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(request));
    let text = '';
    socket.on('data', (c: Buffer) => {
      text += c.toString('latin1');
    });
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
  });
}

describe('what the upstream answers, as the client gets it', () => {
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await cleanup?.();
    cleanup = undefined;
  });
  const through = async (answer: string) => {
    const up = await rawUpstream({ answer });
    const v = await proxyTo(up.port);
    cleanup = async () => {
      await v.stop();
      up.server.close();
    };
    return rawExchange(v.port, get('/v1/devices/1', ['Connection: close']));
  };

  it('a header the upstream repeats reaches the client as Node read it: the first Content-Type and Location, lists joined, cookies each', async () => {
    const text = await through(
      'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Type: text/html\r\nLocation: /a\r\nLocation: //evil.example/\r\n' +
        'X-Multi: a\r\nX-Multi: b\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 2\r\n\r\nok',
    );
    const head = text.slice(0, text.indexOf('\r\n\r\n')).toLowerCase().split('\r\n');
    expect(text.startsWith('HTTP/1.1 200')).toBe(true);
    expect(head.filter((h) => h.startsWith('content-type:'))).toEqual(['content-type: text/plain']);
    expect(head.filter((h) => h.startsWith('location:'))).toEqual(['location: /a']);
    expect(head.filter((h) => h.startsWith('x-multi:'))).toEqual(['x-multi: a, b']);
    expect(head.filter((h) => h.startsWith('set-cookie:'))).toEqual(['set-cookie: a=1', 'set-cookie: b=2']);
  });

  it('attack: an upstream answer framed twice (two Content-Lengths) is a 502, never passed on', async () => {
    const text = await through('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok');
    expect(text.startsWith('HTTP/1.1 502')).toBe(true);
    expect(text.toLowerCase().match(/\r\ncontent-length:/g)).toHaveLength(1);
  });
});

describe('an upstream that closes idle connections', () => {
  let cleanup: (() => Promise<void>) | undefined;
  /** A validator in front of a raw upstream of this behaviour, both closed after the test. */
  const proxied = async (behaviour: Parameters<typeof rawUpstream>[0]) => {
    const up = await rawUpstream(behaviour);
    const v = await proxyTo(up.port);
    cleanup = async () => {
      await v.stop();
      up.server.close();
    };
    return { up, v };
  };
  afterEach(async () => {
    await cleanup?.();
    cleanup = undefined;
  });

  it('closed while idle (no Keep-Alive hint): the next request opens a new connection, no 502', async () => {
    const { up, v } = await proxied({ close: 150 });
    const conn = await RawConnection.open(v.port);
    for (let i = 0; i < 3; i++) {
      conn.write(get(`/v1/devices/${i}`));
      expect((await conn.next())?.status).toBe(200);
      await new Promise((r) => setTimeout(r, 400));
    }
    conn.close();
    expect(up.connections()).toBe(3);
    expect((await v.metrics.upstreamErrors.get()).values[0]?.value ?? 0).toBe(0);
  });

  it('closed under a request on a reused connection: a GET is sent once more on a new connection', async () => {
    const { up, v } = await proxied('drop-second');
    const conn = await RawConnection.open(v.port);
    for (let i = 0; i < 4; i++) {
      conn.write(get(`/v1/devices/${i}`));
      expect((await conn.next())?.status, `request ${i}`).toBe(200);
    }
    conn.close();
    expect((await v.metrics.upstreamErrors.get()).values[0]?.value ?? 0).toBe(0);
    // Each new connection serves one request; the second dies, and that GET goes again on a new one.
    expect(up.connections()).toBeGreaterThan(1);
  });

  it('a request with a body is never sent twice: 502 when its reused connection is closed under it', async () => {
    const { up, v } = await proxied('drop-second');
    const conn = await RawConnection.open(v.port);
    conn.write(get('/v1/devices/1'));
    expect((await conn.next())?.status).toBe(200);
    conn.write(
      `POST /v1/devices/2 HTTP/1.1\r\nHost: app\r\nX-API-Key: ${good.key}\r\nContent-Length: 4\r\n\r\nbody`,
    );
    expect((await conn.next())?.status).toBe(502);
    conn.close();
    expect(up.requests.filter((r) => r.startsWith('POST'))).toHaveLength(1);
  });
});
