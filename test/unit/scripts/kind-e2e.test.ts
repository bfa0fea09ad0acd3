import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { demoApiManifests, forwardAuthValidatorManifests } from '../../../src/cli/dev/demo.ts';
import { composeValidatorConfig, computeInjection, SETTINGS_ENV } from '../../../src/injector/index.ts';
import { parseConfig } from '../../../src/validator/config/load.ts';
import { applyPatch, CONFIG } from '../../support/injector/fixtures.ts';

// scripts/kind-e2e.sh cannot run here (no Docker): check that it is valid bash, that it runs the e2e
// suite (test/e2e, the same steps as on the local node), and that the suite's demo app is injected into
// a working validator and its standalone forward-auth validator has a valid configuration.

// biome-ignore lint/suspicious/noExplicitAny: manifests are walked freely in assertions
type Json = Record<string, any>;

const SCRIPT = 'scripts/kind-e2e.sh';
const text = readFileSync(SCRIPT, 'utf8');

const demoManifests = () => demoApiManifests('development') as Json[];

describe('scripts/kind-e2e.sh', () => {
  it('is valid bash', () => {
    execFileSync('bash', ['-n', SCRIPT]);
  });

  it('runs the e2e vitest project, as scripts/test.sh does on the local node', () => {
    expect(text).toContain('npx vitest run --project e2e');
  });

  it('the forward-auth validator nginx asks serves development keys of the demo namespace, no upstream', () => {
    const configMap = forwardAuthValidatorManifests('keywarden-system', 'demo').find(
      (d) => (d as Json).kind === 'ConfigMap',
    ) as Json;
    const loaded = parseConfig(configMap.data['validator.yaml']);
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
    expect(loaded.value).toMatchObject({ environment: 'development', keyStore: { namespaces: ['demo'] } });
    expect(loaded.value.upstream).toBeUndefined();
    expect(loaded.value.routes).toEqual(parse(readFileSync('examples/validator-config.yaml', 'utf8')).routes);
  });

  it("the demo's routes are those of examples/validator-config.yaml", () => {
    const configMap = demoManifests().find((d) => d.kind === 'ConfigMap');
    const routes = parse(configMap?.data['routes.yaml']).routes;
    expect(routes).toEqual(parse(readFileSync('examples/validator-config.yaml', 'utf8')).routes);
  });

  it('the demo pod is injected into a validator that serves development keys in front of the app', () => {
    const all = demoManifests();
    const deployment = all.find((d) => d.kind === 'Deployment');
    const configMap = all.find((d) => d.kind === 'ConfigMap');
    const service = all.find((d) => d.kind === 'Service');
    const pod = { apiVersion: 'v1', kind: 'Pod', ...deployment?.spec.template };
    const outcome = computeInjection(pod, 'demo', CONFIG);
    if (outcome.action !== 'inject') throw new Error(JSON.stringify(outcome));
    const patched = applyPatch(pod, outcome.patch) as Json;
    expect(patched.spec.containers.map((c: { name: string }) => c.name)).toEqual([
      'api',
      'keywarden-validator',
    ]);
    // The Service sends traffic to the validator's named port, never to the app directly.
    expect(service?.spec.ports[0].targetPort).toBe('keywarden');
    expect(patched.spec.containers[1].ports[0].name).toBe('keywarden');
    const settings = patched.spec.initContainers[0].env.find(
      (e: { name: string }) => e.name === SETTINGS_ENV,
    ).value;
    const composed = composeValidatorConfig(
      settings,
      configMap?.data['routes.yaml'],
      'ConfigMap demo-api-routes',
    );
    if (!composed.ok) throw new Error(composed.problems.join('\n'));
    const loaded = parseConfig(composed.text);
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
    expect(loaded.value).toMatchObject({
      environment: 'development',
      keyStore: { namespaces: ['demo'] },
      upstream: { url: 'http://127.0.0.1:3000' },
    });
    expect(loaded.value.routes).toHaveLength(5);
  });
});
