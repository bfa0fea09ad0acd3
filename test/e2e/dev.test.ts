import { execFileSync } from 'node:child_process';
import { basename } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEV_SUCCESS_LINE } from '../../src/cli/commands/dev.ts';
import { NETNS_PREFIX } from '../../src/localcluster/node/network.ts';
import { RUN_DIR_PREFIX } from '../../src/localcluster/processes.ts';
import {
  endpoints,
  expectStoryThenTeardown,
  expectTryItWorks,
  startDevScript,
  tryItLines,
} from '../support/processes/dev-script.ts';

// The README's first command in its default mode: as root, a node of its own with our image and chart.
// It brings up a second node next to the suite's (each in its own network namespace), so it runs here,
// not in the integration project; on kind (scripts/kind-e2e.sh) there is no local node to bring up.
describe.skipIf(Boolean(process.env.KEYWARDEN_E2E_KUBECONFIG))(
  'scripts/dev.sh, node-backed by default',
  () => {
    it('installs the chart on a local node, shows the requests through the injected sidecar, prints how to reach the demo API (it answers), and tears down', async () => {
      const dev = await startDevScript([]);
      let runDir = '';
      try {
        const out = dev.output();
        expect(out, out.slice(-3000)).toContain(DEV_SUCCESS_LINE);
        expect(out).not.toMatch(/running the process-only mode/);
        expect(out).toMatch(
          /\$ helm upgrade --install keywarden charts\/keywarden .*-f examples\/values-local-node\.yaml/,
        );
        expect(out).toMatch(/containers api, keywarden-validator/);
        runDir = /^ {2}logs: (\S+)\/\*\.log$/m.exec(out)?.[1] ?? '';

        const found = endpoints(out);
        // The demo API from this machine, through the NodePort: the injected validator answers first.
        const demo = found.get('demo API') as string;
        expect(demo).toMatch(/^http:\/\/10\.\d+\.\d+\.\d+:3\d{4}$/);
        expect((await fetch(`${demo}/v1/sessions`, { method: 'POST' })).status).toBe(401);
        for (const [what, family] of [
          ['validator metrics', 'keywarden_validator_decisions_total'],
          ['controller metrics', 'workqueue_depth'],
          ['webhook metrics', 'keywarden_webhook_admissions_total'],
        ] as const) {
          const page = await fetch(found.get(what) as string);
          expect(page.status, what).toBe(200);
          expect(await page.text(), what).toContain(`# TYPE ${family} `);
        }
        expect((await fetch(found.get('console') as string, { redirect: 'manual' })).status).toBeLessThan(
          400,
        );

        // The printed "try it" lines work as printed: reveal the unseen key, call the demo API with curl.
        const lines = tryItLines(out);
        expect(lines).toHaveLength(2);
        expectTryItWorks(out);
      } finally {
        await dev.stop();
      }
      const out = await expectStoryThenTeardown(dev);
      expect(out).toMatch(/the key after `disabled: true`\s+401\s+401/);
      expect(out).not.toMatch(/kw[ps]k_(prod|stg|dev)_[0-9A-Za-z]{12}_[0-9A-Za-z]{39}/);
      // The node is gone with it: its network namespace (named after the run) no longer exists.
      const runId = basename(runDir).slice(RUN_DIR_PREFIX.length);
      expect(runId).toMatch(/^\w+$/);
      expect(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })).not.toContain(
        `${NETNS_PREFIX}${runId}`,
      );
    }, 900_000);
  },
);
