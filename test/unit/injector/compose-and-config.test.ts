import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import {
  composeValidatorConfig,
  INJECTOR_DEFAULTS,
  parseInjectorConfig,
  SETTINGS_ENV,
  validatorSettings,
} from '../../../src/injector/index.ts';
import { formatProblem, type Problem } from '../../../src/rules/index.ts';
import { CONFIG, ROUTES_YAML } from './support.ts';

const SETTINGS = stringify(
  validatorSettings(
    {
      environment: 'staging',
      upstreamPort: 3000,
      routesConfigMap: 'r',
      routesKey: 'routes.yaml',
      port: 8180,
      adminPort: 9180,
      keyNamespaces: ['web'],
      trustedProxies: [],
      unmappedRoutes: 'deny',
      image: 'x',
      resources: {},
    },
    CONFIG,
  ),
);
const SOURCE = 'ConfigMap web-routes, key routes.yaml';
/** Problems as `field: message`, the way the webhook's refusal and `--injector-config` name them. */
const texts = (r: { ok: boolean; problems?: Problem[] }) =>
  (r.problems ?? []).map((p) => formatProblem('', { ...p, line: 0 }));

describe('composeValidatorConfig', () => {
  it('accepts the routes section and the bare list of routes', () => {
    const a = composeValidatorConfig(SETTINGS, ROUTES_YAML, SOURCE);
    const b = composeValidatorConfig(
      SETTINGS,
      '- path: /v1/sessions\n  permission: sessions:create\n',
      SOURCE,
    );
    expect(a.ok && b.ok).toBe(true);
    if (a.ok) expect(a.text.startsWith(ROUTES_YAML.trimEnd())).toBe(true);
  });

  it('reports a bad route at its line in the ConfigMap', () => {
    const routes = 'routes:\n  - path: /v1/x\n    permission: Devices-Read\n';
    const r = composeValidatorConfig(SETTINGS, routes, SOURCE);
    expect(r).toEqual({
      ok: false,
      problems: [
        expect.stringMatching(
          /^ConfigMap web-routes, key routes\.yaml:3:\d+: routes\[0\]\.permission: "Devices-Read" is not a permission/,
        ),
      ],
    });
    const list = composeValidatorConfig(SETTINGS, '- path: /v1/x\n  permission: nope\n', SOURCE);
    expect(list.ok ? [] : list.problems).toEqual([
      expect.stringMatching(/key routes\.yaml:2:\d+: routes\[0\]\.permission/),
    ]);
  });

  it('refuses settings that belong to the annotations, and broken YAML', () => {
    expect(composeValidatorConfig(SETTINGS, `environment: production\n${ROUTES_YAML}`, SOURCE)).toEqual({
      ok: false,
      problems: [
        `${SOURCE}: only "routes" belongs here, found "environment"; the rest of the validator configuration comes from the pod's keywarden.dev/* annotations`,
      ],
    });
    const broken = composeValidatorConfig(SETTINGS, 'routes:\n  - path: [\n', SOURCE);
    expect(broken.ok).toBe(false);
    if (!broken.ok) expect(broken.problems[0]).toMatch(/^ConfigMap web-routes, key routes\.yaml:\d+:\d+: /);
    expect(composeValidatorConfig(SETTINGS, 'just text', SOURCE)).toMatchObject({ ok: false });
  });
});

describe('compose-main (the init container)', () => {
  const main = fileURLToPath(new URL('../../../src/injector/compose-main.ts', import.meta.url));
  const run = (args: string[], env: Record<string, string>) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [main, ...args],
        { env: { ...process.env, ...env } },
        (err, stdout, stderr) =>
          resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });

  it('writes the configuration file, or explains on stderr and exits 1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kw-compose-'));
    writeFileSync(join(dir, 'routes.yaml'), ROUTES_YAML);
    const out = join(dir, 'validator.yaml');
    const ok = await run(['--routes', join(dir, 'routes.yaml'), '--routes-source', SOURCE, '--out', out], {
      [SETTINGS_ENV]: SETTINGS,
    });
    expect(ok).toMatchObject({ code: 0, stdout: `keywarden: wrote ${out}\n` });
    expect(readFileSync(out, 'utf8')).toContain('environment: staging');

    const missing = await run(
      ['--routes', join(dir, 'api.yaml'), '--routes-source', 'ConfigMap r, key api.yaml', '--out', out],
      {
        [SETTINGS_ENV]: SETTINGS,
      },
    );
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(
      'ConfigMap r, key api.yaml: not found in the mounted ConfigMap (its keys: routes.yaml',
    );
    const noEnv = await run(['--routes', join(dir, 'routes.yaml'), '--out', out], { [SETTINGS_ENV]: '' });
    expect(noEnv.code).toBe(1);
    expect(noEnv.stderr).toContain(`$${SETTINGS_ENV} is empty`);
  });
});

describe('parseInjectorConfig', () => {
  it('defaults everything but the image', () => {
    expect(parseInjectorConfig('image: kw:1\n')).toEqual({
      ok: true,
      value: { ...INJECTOR_DEFAULTS, image: 'kw:1' },
    });
  });

  it('reports every problem', () => {
    const r = parseInjectorConfig(
      [
        'imagePullPolicy: Sometimes',
        'port: 70000',
        'adminPort: 9180',
        'resources: {requests: {cpu: lots}, limits: {gpu: "1"}}',
        'trustedProxies: [not-an-ip]',
        'validatorSettings: {environment: production}',
        'unmappedRoutes: maybe',
        'logLevel: loud',
        'imagePulPolicy: Always',
      ].join('\n'),
    );
    expect(texts(r)).toEqual([
      expect.stringMatching(/^imagePulPolicy: unknown field/),
      expect.stringMatching(/^image: is required/),
      'imagePullPolicy: must be one of: Always, IfNotPresent, Never',
      'port: must be a port number from 1 to 65535',
      'resources.requests.cpu: "lots" is not a quantity such as 100m or 64Mi',
      'resources.limits.gpu: unknown resource; known: cpu, memory',
      expect.stringMatching(/^trustedProxies\[0\]: /),
      'unmappedRoutes: must be one of: deny, allow',
      'validatorSettings.environment: is set by the injector from pod annotations; remove it',
      'logLevel: must be one of: fatal, error, warn, info, debug, trace, silent',
    ]);
    expect(parseInjectorConfig('a: [')).toMatchObject({
      ok: false,
      problems: [{ line: 1, message: expect.stringMatching(/^Flow sequence/) }],
    });
  });
  it('internalPort: off by default (an injected validator is a reverse proxy), on loopback when set', () => {
    const settings = (internalPort: unknown) => {
      const r = parseInjectorConfig(stringify({ image: 'kw:1', internalPort }));
      if (!r.ok) return texts(r);
      const s = validatorSettings(
        {
          environment: 'staging',
          upstreamPort: 3000,
          routesConfigMap: 'r',
          routesKey: 'routes.yaml',
          port: 8180,
          adminPort: 9180,
          keyNamespaces: ['web'],
          trustedProxies: [],
          unmappedRoutes: 'deny',
          image: 'x',
          resources: {},
        },
        r.value,
      );
      return s.server;
    };
    expect(settings(null)).toEqual({ host: '0.0.0.0', port: 8180, adminPort: 9180 });
    expect(settings(8181)).toEqual({
      host: '0.0.0.0',
      port: 8180,
      adminPort: 9180,
      internalPort: 8181,
      internalHost: '127.0.0.1',
    });
    expect(settings(8180)).toEqual(['internalPort: must differ from port and adminPort']);
    expect(settings('x')).toEqual(['internalPort: must be a port number from 1 to 65535, or null']);
  });

  it('refuses a signing key or an audience in validatorSettings, and bad credential settings', () => {
    const r = parseInjectorConfig(
      [
        'image: kw:1',
        'validatorSettings: {identity: {jwt: {issuer: kw, audience: anyone, signingKey: {secret: {namespace: kw, name: jwt}}}}}',
        'credentialsSecret: Not_A_Name',
        'jwtSigningKeySecret: {key: x}',
        'jwtAudiences: {payments: [""], Bad_NS: [x]}',
        'namespaces: [ok, Not_OK]',
      ].join('\n'),
    );
    expect(texts(r)).toEqual([
      "validatorSettings.identity.jwt.signingKey: is set by the injector: the Secret injection.jwt.signingKeySecret in the pod's namespace, mounted into the sidecar only; remove it",
      "validatorSettings.identity.jwt.audience: is set by the injector: the pod's namespace, or keywarden.dev/jwt-audience when injection.jwt.audiences allows it; remove it",
      'credentialsSecret: must be a Secret name',
      'jwtSigningKeySecret: must be {name: a Secret name, key: a key in it (default signing-key.pem)}',
      'jwtAudiences.payments: must be a list of audiences (non-empty strings)',
      'jwtAudiences.Bad_NS: not a namespace name',
      'namespaces: must be a list of namespace names',
    ]);
    const ok = parseInjectorConfig(
      'image: kw:1\njwtSigningKeySecret: {name: jwt}\njwtAudiences: {payments: [payments-api]}\nnamespaces: [payments]\n',
    );
    expect(ok).toMatchObject({
      ok: true,
      value: {
        credentialsSecret: 'keywarden-validator-token',
        jwtSigningKeySecret: { name: 'jwt', key: 'signing-key.pem' },
        jwtAudiences: { payments: ['payments-api'] },
        namespaces: ['payments'],
      },
    });
  });
});
