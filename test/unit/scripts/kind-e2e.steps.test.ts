import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { E2E_STEPS } from '../../e2e/steps.ts';

// The local node (scripts/test.sh) and kind (scripts/kind-e2e.sh) run one suite; the script's header
// tells users what it runs, so it must list the suite's steps exactly, in order.
describe('scripts/kind-e2e.sh and the e2e suite', () => {
  const script = readFileSync(new URL('../../../scripts/kind-e2e.sh', import.meta.url), 'utf8');

  test('the script lists the same steps as test/e2e/steps.ts, in the same order', () => {
    const header = script.slice(0, script.indexOf('\nset -euo pipefail'));
    const listed = [...header.matchAll(/^#\s+(\d+)\.\s+(.+)$/gm)].map((m) => ({
      n: Number(m[1]),
      text: m[2],
    }));
    expect(listed.map((s) => s.n)).toEqual(E2E_STEPS.map((_, i) => i + 1));
    expect(listed.map((s) => s.text)).toEqual([...E2E_STEPS]);
  });

  test('the script runs that suite, not steps of its own', () => {
    expect(script).toMatch(/npx vitest run --project e2e/);
    const body = script.slice(script.indexOf('\nset -euo pipefail'));
    expect(body).not.toMatch(/kubectl (apply|run)|helm (install|upgrade)/);
  });

  test('the suite runs every step as a test, by the same names', () => {
    const suite = readFileSync(new URL('../../e2e/suite.test.ts', import.meta.url), 'utf8');
    const declared =
      suite
        .match(/const \[([^\]]+)\] =\s*E2E_STEPS/)?.[1]
        ?.split(',')
        .map((s) => s.trim())
        .filter(Boolean) ?? [];
    expect(declared).toHaveLength(E2E_STEPS.length);
    for (const name of declared) expect(suite).toContain(`test(${name},`);
  });
});
