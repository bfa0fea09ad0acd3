import { request } from 'node:https';
import { describe, expect, it } from 'vitest';
import { DEV_SUCCESS_LINE } from '../../src/cli/commands/dev.ts';
import {
  endpoints,
  expectStoryThenTeardown,
  expectTryItWorks,
  startDevScript,
} from '../support/processes/dev-script.ts';

/** Any HTTP answer over TLS from the webhook (its CA is its own, so it is not checked here). */
function tlsAnswers(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/healthz`, { rejectUnauthorized: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

// The node-backed default of scripts/dev.sh needs root and builds images: test/e2e/dev.test.ts runs it.
describe("the README's first command, process-only mode", () => {
  it('scripts/dev.sh --processes brings the whole system up, prints every endpoint (they answer), shows allowed and denied requests, and tears down', async () => {
    // Without --exit: the endpoints are checked while it waits for Ctrl-C, then it gets SIGINT.
    const dev = await startDevScript(['--processes']);
    try {
      const out = dev.output();
      expect(out).toContain(DEV_SUCCESS_LINE);
      expect(out).not.toContain('the node-backed mode needs');

      const found = endpoints(out);
      expect([...found.keys()]).toEqual(
        expect.arrayContaining([
          'kube-apiserver',
          'validator',
          'validator metrics',
          'controller metrics',
          'webhook',
          'webhook metrics',
          'demo API',
        ]),
      );
      // Each part's /metrics page is its own (not one port printed three times), and health answers.
      for (const [what, family] of [
        ['validator metrics', 'keywarden_validator_decisions_total'],
        ['controller metrics', 'workqueue_depth'],
        ['webhook metrics', 'keywarden_webhook_admissions_total'],
      ] as const) {
        const url = found.get(what) as string;
        expect(url, what).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
        const page = await fetch(url);
        expect(page.status, what).toBe(200);
        expect(await page.text(), what).toContain(`# TYPE ${family} `);
        for (const path of ['/healthz', '/readyz'])
          expect((await fetch(url.replace('/metrics', path))).status, `${what} ${path}`).toBe(200);
      }
      expect(await tlsAnswers(found.get('webhook') as string)).toBeGreaterThan(0);
      // The validator (its reverse proxy): no key, 401.
      expect((await fetch(`${found.get('validator')}/v1/sessions`, { method: 'POST' })).status).toBe(401);
      expect((await fetch(`${found.get('demo API')}/`)).status).toBeLessThan(500);
      // The printed "try it" lines work as printed: reveal the unseen key, call through the validator.
      expectTryItWorks(out);
    } finally {
      await dev.stop();
    }
    const out = await expectStoryThenTeardown(dev);
    // The audit trail outlives the teardown: decisions per key and lifecycle events with their actor.
    expect(out).toMatch(/demo\/webapp-public\s+\d+\s+\d+/);
    expect(out).toMatch(/created\s+\S+\s+demo\/billing-admin/);
    // The revealed key is shown shortened, never whole.
    expect(out).not.toMatch(/kw[ps]k_(prod|stg|dev)_[0-9A-Za-z]{12}_[0-9A-Za-z]{39}/);
  }, 400_000);
});
