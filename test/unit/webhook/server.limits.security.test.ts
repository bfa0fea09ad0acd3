import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILT_IN_POLICY } from '../../../src/api/policy.ts';
import { answerClientErrors } from '../../../src/observability/client-error.ts';
import { createLogger } from '../../../src/observability/logger.ts';
import { WebhookMetrics } from '../../../src/webhook/metrics.ts';
import { createWebhookApp } from '../../../src/webhook/server.ts';
import { rawRequest } from '../../support/http/raw-http.ts';

// Request size and header limits on the webhook: an oversized body or header block gets a 4xx with a
// body that says why, and the process keeps serving (the validator's are in
// test/unit/validator/server.limits.security.test.ts).

let webhook: Server;
let webhookPort = 0;

beforeAll(async () => {
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

afterAll(() => {
  webhook?.close();
});

const get = (path: string) => `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`;

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
