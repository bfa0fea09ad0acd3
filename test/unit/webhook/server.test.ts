import { request } from 'node:https';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/observability/logger.ts';
import { type CertificateAuthority, createCa, issueCert } from '../../../src/pki/index.ts';
import { MUTATE_PATH, VALIDATE_PATH } from '../../../src/webhook/configurations.ts';
import { WebhookMetrics } from '../../../src/webhook/metrics.ts';
import { type RunningWebhookServer, startWebhookServer } from '../../../src/webhook/server.ts';
import { CertificateHolder } from '../../../src/webhook/tls/holder.ts';
import { apiKey, inDays, NOW, POLICY, review } from '../../support/webhook/reviews.ts';

interface Reply {
  status: number;
  json: Record<string, unknown>;
  text: string;
  serial: string;
}

let ca: CertificateAuthority;
let holder: CertificateHolder;
let running: RunningWebhookServer;
const metrics = new WebhookMetrics({ defaultMetrics: false });
const MAX_BODY = 64 * 1024;

const serving = () =>
  issueCert(ca, {
    commonName: 'webhook',
    ipAddresses: ['127.0.0.1'],
    usage: 'server',
    notAfter: new Date(Date.now() + 3600_000),
  });

/**
 * One HTTPS request to the webhook. A body given as chunks goes out without a Content-Length (chunked),
 * and then the server may answer (413) and close before the whole body is out: that is not an error.
 */
function call(
  method: string,
  path: string,
  body?: string | Buffer | Buffer[],
  headers: Record<string, string> = {},
): Promise<Reply> {
  const chunked = Array.isArray(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: running.port,
        method,
        path,
        ca: ca.certPem,
        agent: false,
        headers: {
          'content-type': 'application/json',
          ...(chunked ? { 'transfer-encoding': 'chunked' } : {}),
          ...headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          let json: Record<string, unknown> = {};
          try {
            json = JSON.parse(text);
          } catch {}
          const serial =
            (res.socket as import('node:tls').TLSSocket).getPeerCertificate?.().serialNumber ?? '';
          resolve({ status: res.statusCode ?? 0, json, text, serial });
        });
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) =>
      chunked && (err.code === 'EPIPE' || err.code === 'ECONNRESET') ? undefined : reject(err),
    );
    if (!chunked) return void req.end(body);
    for (const c of body) req.write(c);
    req.end();
  });
}

beforeAll(async () => {
  ca = await createCa('test-ca', new Date(Date.now() + 24 * 3600_000));
  holder = new CertificateHolder();
  holder.set(await serving());
  running = await startWebhookServer({
    host: '127.0.0.1',
    port: 0,
    holder,
    metrics,
    policy: () => POLICY,
    ready: () => ({ ok: true }),
    log: createLogger('test', 'silent'),
    maxBodyBytes: MAX_BODY,
    now: () => NOW,
  });
});

afterAll(async () => {
  await running.close();
});

describe('the webhook HTTPS server', () => {
  it('answers an AdmissionReview on both paths', async () => {
    // Unsorted permissions: the mutating answer carries a patch (sorting them).
    const body = JSON.stringify(
      review(
        'CREATE',
        apiKey({ spec: { expiresAt: inDays(400), permissions: ['tickets:read', 'devices:read'] } }),
      ),
    );
    const v = await call('POST', VALIDATE_PATH, body);
    expect(v.status).toBe(200);
    expect(v.json.response).toMatchObject({
      allowed: false,
      status: { code: 403, message: /more than one year ahead/ },
    });
    const m = await call('POST', MUTATE_PATH, body);
    expect(m.json.response).toMatchObject({ allowed: true, patchType: 'JSONPatch' });
  });

  it('answers malformed JSON with a 400 Status and a message', async () => {
    const r = await call('POST', VALIDATE_PATH, '{"kind":');
    expect(r.status).toBe(400);
    expect(r.json).toMatchObject({ kind: 'Status', code: 400, message: /not valid JSON/ });
  });

  it('refuses an oversized body with 413 and says the limit', async () => {
    const r = await call('POST', VALIDATE_PATH, Buffer.alloc(MAX_BODY + 1, 'a'));
    expect(r.status).toBe(413);
    expect(r.json).toMatchObject({
      code: 413,
      message: `the request body is larger than the limit of ${MAX_BODY} bytes`,
    });
  });

  it('answers a review whatever query the API server appends (?timeout=10s), and a gzip-compressed one', async () => {
    // Unsorted permissions: the mutating answer carries a patch (sorting them).
    const body = JSON.stringify(
      review(
        'CREATE',
        apiKey({ spec: { expiresAt: inDays(400), permissions: ['tickets:read', 'devices:read'] } }),
      ),
    );
    const plain = await call('POST', `${VALIDATE_PATH}?timeout=10s`, body);
    expect(plain.json.response).toMatchObject({ allowed: false, status: { code: 403 } });
    const zipped = await call('POST', `${MUTATE_PATH}?timeout=10s`, [gzipSync(body)], {
      'content-encoding': 'gzip',
    });
    expect(zipped.json.response).toMatchObject({ allowed: true, patchType: 'JSONPatch' });
  });

  it('refuses a body over the limit sent in chunks (no length given) with 413, and keeps serving', async () => {
    const r = await call('POST', VALIDATE_PATH, [
      Buffer.alloc(MAX_BODY / 2, 'a'),
      Buffer.alloc(MAX_BODY, 'a'),
    ]);
    expect(r.status).toBe(413);
    expect(r.json).toMatchObject({ code: 413, message: /larger than the limit/ });
    expect((await call('GET', '/healthz')).text).toBe('ok\n');
  });

  it('answers unknown paths with a 404 Status, and health endpoints', async () => {
    expect((await call('GET', '/nope')).json).toMatchObject({ code: 404, message: /use POST/ });
    expect((await call('GET', VALIDATE_PATH)).status).toBe(404);
    expect((await call('GET', '/healthz')).text).toBe('ok\n');
    expect((await call('GET', '/readyz')).status).toBe(200);
  });

  it('sets server timeouts so a slow client cannot hold it', () => {
    expect(running.server.headersTimeout).toBe(10_000);
    expect(running.server.requestTimeout).toBe(30_000);
    expect(running.server.keepAliveTimeout).toBeGreaterThan(90_000);
  });

  it('swaps the certificate for new connections without a restart', async () => {
    const before = (await call('GET', '/healthz')).serial;
    const next = holder.set(await serving());
    const after = (await call('GET', '/healthz')).serial;
    expect(after).not.toBe(before);
    expect(after.toLowerCase()).toBe(next.serialNumber.toLowerCase());
  });

  it('counts requests by webhook, operation and result, and observes latency', async () => {
    const text = await metrics.registry.metrics();
    expect(text).toMatch(
      /keywarden_webhook_admissions_total\{webhook="validate",operation="CREATE",result="denied"\} [1-9]/,
    );
    expect(text).toMatch(
      /keywarden_webhook_admissions_total\{webhook="validate",operation="unknown",result="bad_request"\} [1-9]/,
    );
    expect(text).toMatch(/controller_runtime_webhook_latency_seconds_count\{webhook="mutate"\} [1-9]/);
    expect(text).toMatch(/controller_runtime_webhook_requests_total\{webhook="validate",code="413"\} 2/);
  });

  it('never gives an empty answer to junk over HTTP (fast-check)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string({ maxLength: 200 }),
          fc.jsonValue().map((v) => JSON.stringify(v)),
        ),
        fc.constantFrom(MUTATE_PATH, VALIDATE_PATH),
        async (body, path) => {
          const r = await call('POST', path, body);
          expect([200, 400]).toContain(r.status);
          if (r.status === 400) expect(String(r.json.message).length).toBeGreaterThan(0);
          else expect(r.json.kind).toBe('AdmissionReview');
        },
      ),
      { numRuns: 60 },
    );
  });
});
