import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatProblem } from '../../../../src/rules/index.ts';
import { loadConfigFile, parseConfig } from '../../../../src/validator/config/load.ts';
import { UNSIGNED_RECORDS_WARNING } from '../../../../src/validator/config/warnings.ts';

// `keywarden validator --check` warns about configurations that are valid but re-open a hole
// (issue 12, finding 12): a broad range of pod addresses trusted as proxies, and routes that
// `unmappedRoutes: allow` or an earlier route undercut.

const RECORD_KEYS =
  'keyStore: {recordKeys: {configMap: {namespace: keywarden, name: keywarden-record-keys}}}';
const warnings = (lines: string[]) => {
  const r = parseConfig(['environment: production', ...lines, RECORD_KEYS].join('\n'));
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.warnings.map((p) => formatProblem('f.yaml', p));
};

describe('configuration warnings', () => {
  it('the shipped example trusts no broad range and has no warnings', () => {
    const r = loadConfigFile('examples/validator-config.yaml');
    if (!r.ok) throw new Error('example does not load');
    expect(r.value.trustedProxies).not.toContain('10.0.0.0/8');
    expect(r.warnings).toEqual([]);
  });

  it('warns when hash records are believed unsigned (no keyStore.recordKeys)', () => {
    const r = parseConfig('environment: production\n');
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    expect(r.warnings.map((p) => p.message)).toContain(UNSIGNED_RECORDS_WARNING);
    expect(warnings([])).toEqual([]);
  });

  it('warns about trusted proxy ranges broader than /24 (IPv4) or /64 (IPv6), naming the line', () => {
    const w = warnings([
      'trustedProxies:',
      '  - 10.0.0.0/8', // line 3
      '  - 10.1.2.0/24',
      '  - 192.0.2.10',
      '  - 0.0.0.0/0', // line 6
      '  - 2001:db8::/64',
      '  - 2001:db8::/48', // line 8
      '  - ::/0', // line 9
      '  - 172.16.0.0/23', // line 10
    ]);
    expect(w).toHaveLength(5);
    expect(w[0]).toMatch(/^f\.yaml:3:\d+: trustedProxies\[0\]: 10\.0\.0\.0\/8 trusts 16,777,216 addresses/);
    expect(w[0]).toContain('any of them can claim any client address');
    expect(w[1]).toMatch(/^f\.yaml:6:\d+: trustedProxies\[3\]: 0\.0\.0\.0\/0/);
    expect(w[2]).toMatch(/^f\.yaml:8:\d+: trustedProxies\[5\]: 2001:db8::\/48/);
    expect(w[3]).toMatch(/^f\.yaml:9:\d+: trustedProxies\[6\]: ::\/0/);
    expect(w[4]).toMatch(/^f\.yaml:10:\d+: trustedProxies\[7\]: 172\.16\.0\.0\/23/);
  });

  it('with unmappedRoutes: allow, warns about routes whose other methods or deeper paths fall to "any valid key"', () => {
    const w = warnings([
      'unmappedRoutes: allow',
      'routes:',
      '  - { path: /v1/admin/**, methods: [DELETE], permission: admin:write }', // 4
      '  - { path: /v1/users/*, permission: users:read }', // 5
      '  - { path: /v1/billing/**, permission: billing:read }', // 6: whole subtree, every method: fine
      '  - { path: /v1/reports, methods: [GET], permission: reports:read }', // 7: both
    ]);
    expect(w).toHaveLength(4);
    expect(w[0]).toMatch(/^f\.yaml:4:\d+: routes\[0\]: .*methods other than DELETE .* any valid key/);
    expect(w[1]).toMatch(/^f\.yaml:5:\d+: routes\[1\]: .*paths below \/v1\/users\/\* .* any valid key/);
    expect(w[2]).toMatch(/^f\.yaml:7:\d+: routes\[3\]: .*methods other than GET/);
    expect(w[3]).toMatch(/^f\.yaml:7:\d+: routes\[3\]: .*paths below \/v1\/reports/);
    expect(
      warnings([
        'unmappedRoutes: deny',
        'routes:',
        '  - { path: /v1/admin/**, methods: [DELETE], permission: admin:write }',
      ]),
    ).toEqual([]);
  });

  it('warns about a route that an earlier route always matches first', () => {
    const w = warnings([
      'routes:',
      '  - { path: /v1/**, methods: [GET], permission: devices:read }',
      '  - { path: /v1/admin/**, methods: [GET, DELETE], permission: admin:write }', // 4: GET shadowed
      '  - { path: /v1/users/*, methods: [GET], permission: users:read }', // 5: shadowed
      '  - { path: /v2/a, permission: a:read }',
      '  - { path: /v2/*, permission: b:read }', // 7: not shadowed (/v2/b still reaches it)
      '  - { path: /v2/a, methods: [POST], permission: c:write }', // 8: shadowed by routes[3]
    ]);
    expect(w).toHaveLength(3);
    expect(w[0]).toMatch(
      /^f\.yaml:4:\d+: routes\[1\]: GET requests never reach this route: routes\[0\] \(\/v1\/\*\*\)/,
    );
    expect(w[1]).toMatch(/^f\.yaml:5:\d+: routes\[2\]: .*never reach this route: routes\[0\]/);
    expect(w[2]).toMatch(/^f\.yaml:8:\d+: routes\[5\]: .*never reach this route: routes\[3\] \(\/v2\/a\)/);
  });

  it('warns when a reverse proxy turns on forward auth or the verify API without an internal port', () => {
    const w = warnings(['upstream: { url: "http://127.0.0.1:3000" }', 'forwardAuth: { enabled: true }']);
    expect(w).toHaveLength(1);
    expect(w[0]).toContain('server.internalPort');
    expect(warnings(['upstream: { url: "http://127.0.0.1:3000" }'])).toEqual([]);
  });
});

describe('keywarden validator --check', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kw-check-'));
  const check = (text: string) => {
    const file = join(dir, `c${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(file, text);
    const r = spawnSync(process.execPath, ['src/cli/main.ts', 'validator', '--config', file, '--check'], {
      encoding: 'utf8',
    });
    return { status: r.status, out: `${r.stdout}${r.stderr}`, file };
  };

  // Three cold starts of the CLI: slow on a loaded machine.
  it('exits 0 for a clean file, 1 with every warning listed, 2 for problems', { timeout: 180_000 }, () => {
    expect(check(`environment: production\n${RECORD_KEYS}\n`).status).toBe(0);
    const w = check(`environment: production\ntrustedProxies: [10.0.0.0/8]\n${RECORD_KEYS}\n`);
    expect(w.status).toBe(1);
    expect(w.out).toContain(`${w.file}:2:`);
    expect(w.out).toContain('warning');
    expect(w.out).toContain('10.0.0.0/8');
    expect(check('environment: prod\n').status).toBe(2);
  });
});
