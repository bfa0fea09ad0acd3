import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditSink } from '../../src/audit/index.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { generateKey } from '../../src/rules/index.ts';
import { parseConfig } from '../../src/validator/config/load.ts';
import { KeyStore } from '../../src/validator/key-store.ts';
import { Validator } from '../../src/validator/server.ts';
import { Duck, expectNoPlaintextKeys, REPO } from '../support/audit/trail.ts';
import { makeKey } from '../support/validator/keys.ts';

// Audit attribution. A client who knows a key's id (it is not a secret: it is in logs, hints, the
// audit trail) sends it with a secret of their own. A real validator writes the real Parquet trail;
// DuckDB reads the rows back; `keywarden audit usage` must not count those attempts as the key's use.

const run = promisify(execFile);
let dir: string;
let v: Validator;
let duck: Duck;
const store = new KeyStore();
const owner = makeKey({ namespace: 'payments', name: 'checkout', permissions: ['orders:read'] });
// The same id, a secret that is not the key's, a valid checksum: it reaches the hash comparison.
const forged = generateKey({ type: 'private', environment: 'production', keyId: owner.keyId });
// An id no key has.
const stranger = generateKey({ type: 'private', environment: 'production' });

async function send(key: string): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${v.port}/authz/traefik`, {
    headers: {
      'x-forwarded-method': 'GET',
      'x-forwarded-uri': '/v1/orders/1',
      authorization: `Bearer ${key}`,
    },
  });
  await res.arrayBuffer();
  return res.status;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kw-audit-attribution-'));
  const sink = await createAuditSink({ directory: dir, source: 'validator/test', fsync: false });
  const cfg = parseConfig(
    [
      'environment: production',
      'routes:',
      '  - { path: /v1/orders/**, methods: [GET], permission: orders:read }',
      'lastUsed: { enabled: false }',
    ].join('\n'),
  );
  if (!cfg.ok) throw new Error(JSON.stringify(cfg.problems));
  store.upsert(structuredClone(owner.secret));
  v = new Validator(cfg.value, { rest: undefined, log: createLogger('test', 'silent'), store, audit: sink });
  await v.start({ port: 0, host: '127.0.0.1' });
  for (let i = 0; i < 100 && !v.ready().ok; i++) await new Promise((r) => setTimeout(r, 20));
  duck = await Duck.open();

  for (let i = 0; i < 3; i++) expect(await send(owner.key)).toBe(200);
  for (let i = 0; i < 5; i++) expect(await send(forged)).toBe(401);
  expect(await send(stranger)).toBe(401);
  await v.stop(); // flushes the trail
});

afterAll(async () => {
  await v?.stop();
  if (dir) await expectNoPlaintextKeys(dir);
  duck?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('a key id sent with a wrong secret', () => {
  it('is recorded with the real key_id, no ApiKey and key_unknown (DuckDB reads the rows back)', async () => {
    const rows = await duck.all(
      `SELECT key_id, api_key_namespace, api_key_name, status, reason, count(*) AS n FROM ${Duck.files(dir)}
       GROUP BY ALL ORDER BY n DESC, key_id`,
    );
    expect(rows).toEqual([
      {
        key_id: owner.keyId,
        api_key_namespace: null,
        api_key_name: null,
        status: 401,
        reason: 'key_unknown',
        n: '5',
      },
      {
        key_id: owner.keyId,
        api_key_namespace: 'payments',
        api_key_name: 'checkout',
        status: 200,
        reason: 'ok',
        n: '3',
      },
      {
        key_id: stranger.split('_')[2],
        api_key_namespace: null,
        api_key_name: null,
        status: 401,
        reason: 'key_unknown',
        n: '1',
      },
    ]);
  });

  it("keywarden audit usage counts it apart: attempts that failed the secret check, not the key's requests", async () => {
    const { stdout } = await run(
      process.execPath,
      [join(REPO, 'src/cli/main.ts'), 'audit', 'usage', '--dir', dir, '-o', 'json'],
      {
        cwd: REPO,
      },
    );
    const got = (JSON.parse(stdout) as Record<string, unknown>[]).map(({ first: _f, last: _l, ...r }) => r);
    expect(got).toEqual([
      {
        key_id: owner.keyId,
        api_key: 'payments/checkout',
        requests: 3,
        allowed: 3,
        denied: 0,
        rate_limited: 0,
        other: 0,
        failed_secret: 5,
      },
      {
        key_id: stranger.split('_')[2],
        api_key: null,
        requests: 0,
        allowed: 0,
        denied: 0,
        rate_limited: 0,
        other: 0,
        failed_secret: 1,
      },
    ]);
    // The same answer from the trail in SQL.
    const [sql] = await duck.all(
      `SELECT count(*) FILTER (WHERE api_key_name IS NOT NULL) AS requests,
              count(*) FILTER (WHERE api_key_name IS NULL) AS failed_secret
       FROM ${Duck.files(dir)} WHERE key_id = '${owner.keyId}'`,
    );
    expect(sql).toEqual({ requests: '3', failed_secret: '5' });
  });
});
