import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILT_IN_POLICY } from '../../../src/api/policy.ts';
import { answerClientErrors } from '../../../src/observability/client-error.ts';
import { createLogger } from '../../../src/observability/logger.ts';
import { WebhookMetrics } from '../../../src/webhook/metrics.ts';
import { createWebhookApp } from '../../../src/webhook/server.ts';
import { rawRequest } from '../fuzz/raw-http.ts';
import { makeKey } from '../validator/fixtures.ts';
import { type Harness, startHarness } from './support.ts';

// Request size and header limits: an oversized header block, URL, key or body gets a 4xx (431, 413,
// 414 or 401) with a body that says why, and the process keeps serving.
//
// `it.fails` marks an open bug found here in code owned elsewhere (reported, not fixed): the test states
// the wanted behaviour and turns red once the bug is fixed; then change it back to `it`.

const good = makeKey({ permissions: ['devices:read'] });
let h: Harness;
let webhook: Server;
let webhookPort = 0;

beforeAll(async () => {
  h = await startHarness([good]);
  const app = createWebhookApp({
    metrics: new WebhookMetrics(),
    policy: () => BUILT_IN_POLICY,
    ready: () => ({ ok: true }),
    log: createLogger('sec', 'silent'),
    maxBodyBytes: 64 * 1024,
  });
  // Plain HTTP here (no certificate needed); startWebhookServer attaches the same clientError answer.
  webhook = createServer(app);
  answerClientErrors(webhook);
  await new Promise<void>((r) => webhook.listen(0, '127.0.0.1', r));
  webhookPort = (webhook.address() as AddressInfo).port;
});

afterAll(async () => {
  await h?.close();
  webhook?.close();
});

const get = (path: string, headers: string[] = []) =>
  `GET ${path} HTTP/1.1\r\nHost: x\r\n${headers.map((l) => `${l}\r\n`).join('')}Connection: close\r\n\r\n`;

async function validatorStillServes(): Promise<void> {
  const r = await rawRequest(h.validator.port, get('/v1/devices/1', [`X-API-Key: ${good.key}`]));
  expect(r.status).toBe(200);
}

describe('validator limits', () => {
  it('an oversized header block is refused (431) and the validator keeps serving', async () => {
    const r = await rawRequest(
      h.validator.port,
      get('/v1/devices/1', [`X-API-Key: ${good.key}`, `X-Filler: ${'a'.repeat(20_000)}`]),
    );
    expect(r.status).toBe(431);
    await validatorStillServes();
  });

  it('an oversized verify body is not accepted, and the validator keeps serving', async () => {
    const body = JSON.stringify({ key: good.key, pad: 'x'.repeat(20_000) });
    const r = await rawRequest(
      h.validator.internalPort,
      `POST /v1/keys/verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
      body,
    );
    expect(r.status === 0 || r.status === 413).toBe(true);
    await validatorStillServes();
  });

  it('a 10 KB key is refused with 401 and a message, before any regular expression runs', async () => {
    const r = await rawRequest(
      h.validator.port,
      get('/v1/devices/1', [`X-API-Key: kwsk_prod_${'A'.repeat(10_000)}`]),
    );
    expect(r.status).toBe(401);
    expect(JSON.parse(r.body).error.code).toBe('key_malformed');
    expect(r.body).not.toContain('AAAAAAAA');
    await validatorStillServes();
  });

  // Was: src/validator/http/verify.ts readBody called req.destroy() on the oversized body, which
  // destroys the socket before handleVerify's sendError(413) can be written: the client sees the
  // connection drop with no answer.
  it('a 16 KB verify body is refused with 413 and a message', async () => {
    const body = JSON.stringify({ key: good.key, pad: 'x'.repeat(20_000) });
    const r = await rawRequest(
      h.validator.internalPort,
      `POST /v1/keys/verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
      body,
    );
    expect(r.status).toBe(413);
    expect(r.body).toContain('larger than');
    await validatorStillServes();
  });

  it('a very long URL gets a 4xx with a body', async () => {
    const r = await rawRequest(
      h.validator.port,
      get(`/v1/devices/${'a'.repeat(12_000)}`, [`X-API-Key: ${good.key}`]),
    );
    expect(r.status).toBeGreaterThanOrEqual(200);
    expect(r.status).toBeLessThan(500);
    await validatorStillServes();
  });

  // Was: src/validator/server.ts start() installed no clientError handler, so node:http default
  // answers `431 Request Header Fields Too Large` with no body (and a malformed request a bare 400).
  it('an oversized header block gets 431 with a body', async () => {
    const r = await rawRequest(
      h.validator.port,
      get('/v1/devices/1', [`X-API-Key: ${good.key}`, `X-Filler: ${'a'.repeat(20_000)}`]),
    );
    expect(r.status).toBe(431);
    expect(r.body.length, 'the 431 carries a message').toBeGreaterThan(0);
    await validatorStillServes();
  });
});

describe('webhook limits', () => {
  it('a body over maxBodyBytes gets 413 with a Status message', async () => {
    const body = `{"pad":"${'x'.repeat(70 * 1024)}"}`;
    const r = await rawRequest(
      webhookPort,
      `POST /apikeys/validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
      body,
    );
    expect(r.status).toBe(413);
    expect(JSON.parse(r.body)).toMatchObject({ kind: 'Status', code: 413 });
  });

  // Was a bare 431 without a body (no 'clientError' handler); fixed with answerClientErrors.
  it('an oversized header block gets 431 with a body', async () => {
    const r = await rawRequest(
      webhookPort,
      `POST /apikeys/validate HTTP/1.1\r\nHost: x\r\nX-Filler: ${'a'.repeat(20_000)}\r\nContent-Length: 2\r\nConnection: close\r\n\r\n`,
      '{}',
    );
    expect(r.status).toBe(431);
    expect(r.body.length, 'the 431 carries a message').toBeGreaterThan(0);
    const ok = await rawRequest(webhookPort, get('/healthz'));
    expect(ok.status).toBe(200);
  });
});
