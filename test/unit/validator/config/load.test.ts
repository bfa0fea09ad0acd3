import { describe, expect, it } from 'vitest';
import { formatProblem } from '../../../../src/rules/index.ts';
import { loadConfigFile, parseConfig } from '../../../../src/validator/config/load.ts';

const problems = (text: string) => {
  const r = parseConfig(text);
  if (r.ok) throw new Error('expected problems');
  return r.problems.map((p) => formatProblem('f.yaml', p));
};

describe('validator configuration', () => {
  it('loads the shipped example with its defaults filled in', () => {
    const r = loadConfigFile('examples/validator-config.yaml');
    if (!r.ok) throw new Error(r.problems.map((p) => formatProblem('example', p)).join('\n'));
    expect(r.value.environment).toBe('production');
    expect(r.value.routes[0]).toEqual({
      path: '/v1/sessions',
      methods: ['POST'],
      permission: 'sessions:create',
    });
    expect(r.value.identity.jwt).toMatchObject({
      ttlMs: 60_000,
      signingKey: {
        secret: { namespace: 'keywarden-system', name: 'validator-jwt', key: 'signing-key.pem' },
      },
    });
    expect(r.value.lastUsed.intervalMs).toBe(60_000);
  });

  it('needs only the environment; everything else has a safe default', () => {
    const r = parseConfig('environment: staging\n');
    expect(r.ok && r.value).toMatchObject({
      environment: 'staging',
      unmappedRoutes: 'deny',
      trustedProxies: [],
      routes: [],
      server: { port: 8080, adminPort: 9090 },
      keyStore: { namespaces: [], labelSelector: 'keywarden.dev/component=key-hash' },
    });
  });

  it('names line, column and field for every problem, in file order, all at once', () => {
    const text = [
      'environment: prod', // 1
      'server:', // 2
      '  port: "80"', // 3
      'rotues: []', // 4
      'trustedProxies: [10.0.0.0/33]', // 5
      'routes:', // 6
      '  - path: /v1/a*', // 7
      '    permission: Devices:read', // 8
      '  - path: /v1/b', // 9
      '    permision: x:y', // 10
      'lastUsed: { interval: 5d }', // 11
    ].join('\n');
    expect(problems(text)).toEqual([
      'f.yaml:1:14: environment: must be one of: production, staging, development',
      'f.yaml:3:9: server.port: must be an integer',
      expect.stringMatching(
        /^f\.yaml:4:1: rotues: unknown field; known fields here: environment, server, .*routes/,
      ),
      'f.yaml:5:18: trustedProxies[0]: "10.0.0.0/33" has an invalid prefix length: expected a whole number from 0 to 32',
      'f.yaml:7:11: routes[0].path: pattern "/v1/a*" * must be a whole segment (e.g. /v1/devices/*)',
      expect.stringMatching(/^f\.yaml:8:17: routes\[0\]\.permission: "Devices:read" is not a permission/),
      'f.yaml:9:5: routes[1].permission: is required',
      expect.stringMatching(
        /^f\.yaml:10:5: routes\[1\]\.permision: unknown field; known fields here: path, methods, permission$/,
      ),
      expect.stringMatching(/^f\.yaml:11:23: lastUsed\.interval: "5d" is not a valid duration.*24h/),
    ]);
  });

  it('reports YAML syntax errors with their line', () => {
    const p = problems('environment: production\nroutes:\n  - path: /a\n   permission: [x\n');
    expect(p[0]).toMatch(/^f\.yaml:4:\d+: /);
  });

  it('refuses duplicate keys, an empty file, and a route permission with a wildcard', () => {
    expect(problems('environment: production\nenvironment: staging\n')[0]).toMatch(/^f\.yaml:2:1: .*unique/i);
    expect(problems('')).toEqual(['f.yaml: the file is empty; at least `environment` is required']);
    expect(problems('environment: production\nroutes: [{path: /a, permission: "devices:*"}]\n')[0]).toMatch(
      /^f\.yaml:2:33: routes\[0\]\.permission: .*no wildcard/,
    );
  });

  it('checks upstream URLs, signing key sources and duration ranges', () => {
    const p = problems(
      [
        'environment: production',
        'upstream: { url: "ftp://x" }',
        'identity:',
        '  jwt:',
        '    ttl: 2h',
        '    signingKey: { file: a, secret: {namespace: n, name: m} }',
      ].join('\n'),
    );
    expect(p).toEqual([
      expect.stringMatching(/^f\.yaml:2:18: upstream\.url: must be an http\(s\) URL/),
      'f.yaml:5:10: identity.jwt.ttl: must be between 1s and 3600s',
      'f.yaml:6:17: identity.jwt.signingKey: must set exactly one of: secret, file',
    ]);
  });

  it('upper-cases methods and accepts a signing key file', () => {
    const r = parseConfig(
      'environment: production\nroutes: [{path: /a, methods: [get], permission: a:b}]\nidentity: {jwt: {signingKey: {file: /k.pem}, algorithm: ES256}}\n',
    );
    expect(r.ok && r.value.routes[0]?.methods).toEqual(['GET']);
    expect(r.ok && r.value.identity.jwt?.signingKey).toEqual({ file: '/k.pem' });
  });
});

describe('the audit section', () => {
  it('turns the audit trail on with a directory, and refuses bad values naming the field and line', () => {
    const ok = parseConfig(
      'environment: staging\naudit:\n  directory: /var/lib/keywarden/audit\n  flushInterval: 5s\n',
    );
    expect(ok.ok && ok.value.audit).toEqual({ directory: '/var/lib/keywarden/audit', flushInterval: '5s' });
    expect(
      parseConfig('environment: staging\n').ok && parseConfig('environment: staging\n'),
    ).not.toHaveProperty('value.audit');
    const bad = problems('environment: staging\naudit:\n  directory: /tmp/a\n  flushInterval: soon\n');
    expect(bad.join('\n')).toMatch(/^f\.yaml:\d+:\d+: audit.*flushInterval/m);
    expect(problems('environment: staging\naudit:\n  compression: ZIP\n').join('\n')).toMatch(/audit/);
  });
});
