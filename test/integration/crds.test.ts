import { readdirSync, readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { applyCrds, createNamespace, kubectl, kubectlOk } from '../support/kube/kubectl.ts';

const FUTURE = new Date(Date.now() + 30 * 24 * 3600_000).toISOString().replace(/\.\d+Z$/, 'Z');

function apiKey(name: string, spec: Record<string, unknown>): string {
  return stringify({
    apiVersion: 'keywarden.dev/v1alpha1',
    kind: 'ApiKey',
    metadata: { name },
    spec: { environment: 'production', expiresAt: FUTURE, ...spec },
  });
}

let ns = '';

beforeAll(async () => {
  await applyCrds();
  ns = await createNamespace('crds');
});

describe('the control plane', () => {
  it('reports the real Kubernetes version it was built from', async () => {
    const out = JSON.parse(await kubectlOk(['version', '-o', 'json'])) as {
      clientVersion: { gitVersion: string };
      serverVersion: { gitVersion: string; minor: string };
    };
    expect(out.serverVersion.gitVersion).toMatch(/^v1\.(3[3-9]|[4-9]\d)\.\d+$/);
    expect(out.clientVersion.gitVersion).toBe(out.serverVersion.gitVersion);
  });

  it('enforces RBAC: a service account without a role cannot list ApiKeys', async () => {
    await kubectlOk(['-n', ns, 'create', 'serviceaccount', 'nobody']);
    const res = await kubectl([
      'auth',
      'can-i',
      'list',
      'apikeys',
      '-n',
      ns,
      `--as=system:serviceaccount:${ns}:nobody`,
    ]);
    expect(res.stdout.trim()).toBe('no');
  });
});

describe('examples and printer columns', () => {
  it('applies every manifest in examples/ with kubectl apply', async () => {
    // Every Kubernetes manifest (examples/ also holds a validator configuration, which is not one).
    const manifests = readdirSync('examples').filter(
      (f) => f.endsWith('.yaml') && /^apiVersion:/m.test(readFileSync(`examples/${f}`, 'utf8')),
    );
    expect(manifests.length).toBeGreaterThanOrEqual(4);
    for (const file of manifests) {
      // Give keys an expiry: the webhook that defaults it is not installed in this test.
      const out = await kubectlOk(['apply', '-n', ns, '-f', `examples/${file}`]);
      expect(out).toMatch(/(created|configured|unchanged)/);
    }
    const names = (await kubectlOk(['get', 'apikeys', '-n', ns, '-o', 'name'])).trim().split('\n');
    expect(names.sort()).toEqual([
      'apikey.keywarden.dev/billing-admin',
      'apikey.keywarden.dev/dev-laptop',
      'apikey.keywarden.dev/webapp-public',
    ]);
    const policy = await kubectlOk([
      'get',
      'apikeypolicy',
      'default',
      '-o',
      'jsonpath={.spec.strictCatalogue}',
    ]);
    expect(policy).toBe('true');
  });

  it('prints environment, type, state, expiry, last use and age, and answers to the short name', async () => {
    await kubectlOk(['apply', '-n', ns, '-f', '-'], apiKey('columns', { type: 'public' }));
    const out = await kubectlOk(['get', 'ak', 'columns', '-n', ns]);
    const [header, row] = out.trim().split('\n');
    expect(header?.split(/\s{2,}/)).toEqual([
      'NAME',
      'ENVIRONMENT',
      'TYPE',
      'STATE',
      'EXPIRES',
      'LAST USED',
      'AGE',
    ]);
    expect(row).toMatch(/^columns\s+production\s+public\s+/);
  });

  it('defaults type to private', async () => {
    await kubectlOk(['apply', '-n', ns, '-f', '-'], apiKey('typeless', {}));
    expect(await kubectlOk(['get', 'ak', 'typeless', '-n', ns, '-o', 'jsonpath={.spec.type}'])).toBe(
      'private',
    );
  });

  it('describes its fields for kubectl explain', async () => {
    // kubectl wraps descriptions: compare with whitespace folded.
    const fold = (s: string) => s.replace(/\s+/g, ' ');
    const out = fold(await kubectlOk(['explain', 'apikey.spec.expiresAt']));
    expect(out).toContain('FIELD: expiresAt <string>');
    expect(out).toContain('Never more than one calendar year ahead of the moment it is set');
    const policy = fold(await kubectlOk(['explain', 'apikeypolicy.spec.permissions.publicSafe']));
    expect(policy).toContain('true if a public key may hold it');
  });
});

describe('CEL validation in the API server', () => {
  async function refused(manifest: string): Promise<string> {
    const res = await kubectl(['apply', '-n', ns, '-f', '-'], manifest);
    expect(res.code, `expected the API server to refuse:\n${manifest}`).not.toBe(0);
    return res.stderr;
  }

  it('refuses changing the environment on update', async () => {
    await kubectlOk(['apply', '-n', ns, '-f', '-'], apiKey('env-fixed', {}));
    const err = await refused(apiKey('env-fixed', { environment: 'staging' }));
    expect(err).toContain('spec.environment is immutable');
  });

  it('refuses changing the type on update', async () => {
    await kubectlOk(['apply', '-n', ns, '-f', '-'], apiKey('type-fixed', { type: 'public' }));
    const err = await refused(apiKey('type-fixed', { type: 'private' }));
    expect(err).toContain('spec.type is immutable');
  });

  it('refuses a bad CIDR and a bad address, and accepts IPv4, IPv6 and CIDRs', async () => {
    expect(await refused(apiKey('bad-cidr', { allowedSources: ['10.0.0.0/33'] }))).toContain(
      'must be an IPv4 or IPv6 address or CIDR',
    );
    expect(await refused(apiKey('bad-ip', { allowedSources: ['300.1.2.3'] }))).toContain(
      'spec.allowedSources[0]',
    );
    await kubectlOk(
      ['apply', '-n', ns, '-f', '-'],
      apiKey('good-sources', { allowedSources: ['203.0.113.7', '10.0.0.0/8', '2001:db8::/32', '::1'] }),
    );
  });

  it('refuses a bad permission', async () => {
    for (const permission of ['Sessions:create', 'sessions', '*:read', 'sessions:cre ate']) {
      const err = await refused(apiKey('bad-permission', { permissions: ['tickets:read', permission] }));
      expect(err).toContain('spec.permissions[1]');
      expect(err).toContain('must be resource:action');
    }
  });

  it('refuses unknown enum values', async () => {
    expect(await refused(apiKey('bad-env', { environment: 'prod' }))).toMatch(
      /spec.environment: Unsupported value: "prod"/,
    );
    expect(await refused(apiKey('bad-type', { type: 'secret' }))).toMatch(
      /spec.type: Unsupported value: "secret"/,
    );
  });

  it('refuses a negative or zero rate and an out-of-range period', async () => {
    expect(await refused(apiKey('neg-rate', { rateLimit: { requests: -5, period: '1m' } }))).toContain(
      'spec.rateLimit.requests',
    );
    expect(
      await refused(apiKey('zero-burst', { rateLimit: { requests: 5, period: '1m', burst: 0 } })),
    ).toContain('spec.rateLimit.burst');
    expect(await refused(apiKey('long-period', { rateLimit: { requests: 5, period: '48h' } }))).toContain(
      'must be a duration from 1s to 24h',
    );
    expect(await refused(apiKey('day-period', { rateLimit: { requests: 5, period: '1d' } }))).toContain(
      'must be a duration from 1s to 24h',
    );
  });

  it('refuses a description over 256 characters', async () => {
    expect(await refused(apiKey('long-desc', { description: 'x'.repeat(257) }))).toContain(
      'spec.description',
    );
  });

  it('refuses lowering the rotation generation, and accepts raising it', async () => {
    await kubectlOk(['apply', '-n', ns, '-f', '-'], apiKey('rotating', { rotation: { generation: 3 } }));
    const err = await refused(apiKey('rotating', { rotation: { generation: 2 } }));
    expect(err).toContain('spec.rotation.generation may only go up');
    expect(await refused(apiKey('rotating', {}))).toContain('spec.rotation.generation may only go up');
    await kubectlOk(['apply', '-n', ns, '-f', '-'], apiKey('rotating', { rotation: { generation: 4 } }));
  });

  it('refuses adding, changing or removing spec.delivery after create (where the plaintext goes is fixed)', async () => {
    const ref = { secretRef: { name: 'consumer', namespace: 'elsewhere' } };
    await kubectlOk(['apply', '-n', ns, '-f', '-'], apiKey('delivered', { delivery: ref }));
    const moved = { secretRef: { name: 'consumer', namespace: 'kube-system' } };
    expect(await refused(apiKey('delivered', { delivery: moved }))).toContain('spec.delivery is immutable');
    expect(await refused(apiKey('delivered', {}))).toContain('spec.delivery is immutable');
    await kubectlOk(['apply', '-n', ns, '-f', '-'], apiKey('undelivered', {}));
    expect(await refused(apiKey('undelivered', { delivery: moved }))).toContain('spec.delivery is immutable');
    await kubectlOk(['apply', '-n', ns, '-f', '-'], apiKey('delivered', { delivery: ref, description: 'x' }));
  });

  it('refuses a grace period beyond 720h', async () => {
    expect(await refused(apiKey('grace', { rotation: { generation: 1, gracePeriod: '1000h' } }))).toContain(
      'spec.rotation.gracePeriod',
    );
  });

  it('refuses an ApiKeyPolicy not named default, or with a default lifetime above the maximum', async () => {
    const policy = (name: string, spec: Record<string, unknown>) =>
      stringify({ apiVersion: 'keywarden.dev/v1alpha1', kind: 'ApiKeyPolicy', metadata: { name }, spec });
    expect(await refused(policy('other', {}))).toContain('must be named default');
    expect(await refused(policy('default', { maxLifetimeDays: 30, defaultLifetimeDays: 60 }))).toContain(
      'defaultLifetimeDays may not exceed',
    );
    expect(await refused(policy('default', { maxLifetimeDays: 400 }))).toContain('spec.maxLifetimeDays');
    expect(await refused(policy('default', { consumerSecretNamespaces: ['Team_A'] }))).toContain(
      'must be a namespace name, optionally ending in *',
    );
  });
});
