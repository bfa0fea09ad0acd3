import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DEV_SUCCESS_LINE } from '../../src/cli/commands/dev.ts';

const DEV = fileURLToPath(new URL('../../scripts/dev.sh', import.meta.url));

describe("the README's first command", () => {
  it('scripts/dev.sh brings the whole system up, shows allowed and denied requests, and tears down', async () => {
    const child = spawn('bash', [DEV, '--exit'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      out += c.toString();
    });
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    expect(code, out.slice(-3000)).toBe(0);
    expect(out).toContain(DEV_SUCCESS_LINE);
    expect(out).toMatch(/public staging key, POST \/v1\/sessions\s+200\s+200/);
    expect(out).toMatch(/a burst over 10 requests\/s\s+429\s+429/);
    expect(out).toContain('==> tearing down');
    // The audit trail outlives the teardown: decisions per key and lifecycle events with their actor.
    expect(out).toMatch(/demo\/webapp-public\s+\d+\s+\d+/);
    expect(out).toMatch(/created\s+\S+\s+demo\/billing-admin/);
    // The revealed key is shown shortened, never whole.
    expect(out).not.toMatch(/kw[ps]k_(prod|stg|dev)_[0-9A-Za-z]{12}_[0-9A-Za-z]{39}/);
  }, 300_000);
});
