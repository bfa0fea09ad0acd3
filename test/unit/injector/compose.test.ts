import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { composeValidatorConfig, SETTINGS_ENV, validatorSettings } from '../../../src/injector/index.ts';
import { CONFIG, POD_SETTINGS, ROUTES_YAML } from '../../support/injector/fixtures.ts';

const SETTINGS = stringify(validatorSettings(POD_SETTINGS, CONFIG));
const SOURCE = 'ConfigMap web-routes, key routes.yaml';

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
