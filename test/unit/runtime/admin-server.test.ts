import type { Server } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAdminServer } from '../../../src/runtime/admin-server.ts';
import { closeServer, listeningPort } from '../../../src/runtime/listen.ts';
import { call } from '../../support/http/client.ts';

// The admin port answers /healthz, /readyz and /metrics and nothing else: it is often reachable by
// anything in the cluster (probes, Prometheus), so it must not become a way in.

let server: Server;
let port: number;
let scrapes = 0;

beforeAll(async () => {
  server = await startAdminServer({
    port: 0,
    host: '127.0.0.1',
    endpoints: {
      health: () => ({ ok: true }),
      ready: () => ({ ok: false, reason: 'key store not synced' }),
      metrics: async () => {
        scrapes++;
        return { contentType: 'text/plain; version=0.0.4; charset=utf-8', body: 'up 1\n' };
      },
    },
  });
  port = listeningPort(server);
});

afterAll(() => closeServer(server));

/** Writes raw bytes and reads until the server closes or answers the first response completely. */
function raw(bytes: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (d) => {
      text += d.toString('latin1');
    });
    socket.on('close', () => resolve(text));
    socket.on('error', (err: NodeJS.ErrnoException) =>
      err.code === 'EPIPE' || err.code === 'ECONNRESET' ? resolve(text) : reject(err),
    );
    socket.write(bytes);
    setTimeout(() => socket.end(), 300).unref();
  });
}

describe('admin server', () => {
  it('answers the three paths (a query string does not matter), HEAD without a body', async () => {
    expect(await call(port, { path: '/healthz' })).toMatchObject({ status: 200, body: 'ok\n' });
    expect(await call(port, { path: '/readyz' })).toMatchObject({
      status: 503,
      body: 'not ok: key store not synced\n',
    });
    expect(await call(port, { path: '/metrics?name[]=up' })).toMatchObject({ status: 200, body: 'up 1\n' });
    const head = await call(port, { method: 'HEAD', path: '/healthz' });
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
  });

  it.each([
    '/',
    '/index.html',
    '/healthz/',
    '/HEALTHZ',
    '/healthz/../metrics',
    '/../../etc/passwd',
    '/%2e%2e/metrics',
    '/metrics%00',
    '/debug/pprof',
    '//metrics',
    '/readyz;x',
  ])('%s is a 404 with nothing about the server in it', async (path) => {
    const r = await call(port, { path });
    expect(r.status).toBe(404);
    expect(r.body).toBe('not found\n');
    expect(r.headers['x-powered-by']).toBeUndefined();
  });

  it('an absolute-form request target is not a way around the paths', async () => {
    const text = await raw(
      'GET http://evil.example/etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    expect(text).toMatch(/^HTTP\/1\.1 404/);
  });

  it('other methods on the three paths: 405 with Allow, and /metrics is not collected', async () => {
    const before = scrapes;
    for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS', 'TRACE']) {
      // Node's client frames a body only for POST and PUT; the others go without one.
      const body = method === 'POST' || method === 'PUT' ? 'x' : undefined;
      const r = await call(port, { method, path: '/metrics', body });
      expect(r.status).toBe(405);
      expect(r.headers.allow).toBe('GET, HEAD');
    }
    expect(scrapes).toBe(before);
  });

  it('a huge body is not read: answered, the connection closed, the server still up', async () => {
    const huge = Buffer.alloc(32 * 1024 * 1024, 'a');
    const r = await call(port, { method: 'POST', path: '/healthz', body: huge }).catch(
      (err: NodeJS.ErrnoException) => ({ status: err.code }),
    );
    expect([405, 'EPIPE', 'ECONNRESET']).toContain(r.status);
    expect((await call(port, { path: '/healthz' })).status).toBe(200);
  });

  it('huge headers and a huge URL: 431, the server still up', async () => {
    const r = await call(port, { path: '/healthz', headers: { 'x-big': 'a'.repeat(64 * 1024) } });
    expect(r.status).toBe(431);
    const url = await call(port, { path: `/healthz?${'a'.repeat(64 * 1024)}` });
    expect(url.status).toBe(431);
    expect((await call(port, { path: '/healthz' })).status).toBe(200);
  });

  it('malformed HTTP gets a 400 and the server stays up', async () => {
    expect(await raw('GARBAGE\r\n\r\n')).toMatch(/^HTTP\/1\.1 400/);
    expect(await raw('GET /healthz HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello')).toMatch(
      /^HTTP\/1\.1 400/,
    );
    expect((await call(port, { path: '/healthz' })).status).toBe(200);
  });
});
