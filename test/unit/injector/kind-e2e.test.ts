import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { composeValidatorConfig, computeInjection, SETTINGS_ENV } from '../../../src/injector/index.ts';
import { parseConfig } from '../../../src/validator/config/load.ts';
import { applyPatch, CONFIG } from './support.ts';

// scripts/kind-e2e.sh cannot run here (no Docker): check that it is valid bash, that it applies the
// same example files as `keywarden dev`, and that its demo app is injected into a working validator.

// biome-ignore lint/suspicious/noExplicitAny: manifests are walked freely in assertions
type Json = Record<string, any>;

const SCRIPT = 'scripts/kind-e2e.sh';
const text = readFileSync(SCRIPT, 'utf8');

function demoManifests(): Json[] {
  const start = text.indexOf("<<'YAML'\n", text.indexOf('# DEMO_APP_BEGIN'));
  const end = text.indexOf('\nYAML\n', start);
  expect(start).toBeGreaterThan(0);
  return parseAllDocuments(text.slice(start + "<<'YAML'\n".length, end)).map((d) => d.toJS());
}

describe('scripts/kind-e2e.sh', () => {
  it('is valid bash', () => {
    execFileSync('bash', ['-n', SCRIPT]);
  });

  it('applies every Kubernetes manifest in examples/, the policy first', () => {
    const manifests = readdirSync('examples')
      .filter((f) => f.endsWith('.yaml'))
      .filter((f) => {
        const doc = parse(readFileSync(`examples/${f}`, 'utf8')) as { apiVersion?: unknown; kind?: unknown };
        return typeof doc?.apiVersion === 'string' && typeof doc.kind === 'string';
      })
      .sort();
    const applied = [...text.matchAll(/"\$root\/examples\/([\w.-]+\.yaml)"/g)].map((m) => m[1]);
    expect([...applied].sort()).toEqual(manifests);
    expect(applied[0]).toBe('apikeypolicy.yaml');
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
    expect(loaded.config).toMatchObject({
      environment: 'development',
      keyStore: { namespaces: ['demo'] },
      upstream: { url: 'http://127.0.0.1:3000' },
    });
    expect(loaded.config.routes).toHaveLength(5);
  });
});
