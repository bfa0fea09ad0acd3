import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../../src/observability/logger.ts';
import { parseConfig } from '../../../src/validator/config/load.ts';
import { generateSigningKeyPem } from '../../../src/validator/identity/signer.ts';
import { KeyStore } from '../../../src/validator/key-store.ts';
import { Validator } from '../../../src/validator/server.ts';
import type { TestKey } from './keys.ts';

// An in-process validator over real sockets, with a recording upstream, for the security tests.

export interface Harness {
  validator: Validator;
  upstream: Server;
  seen: IncomingHttpHeaders[];
  jwtFile: string;
  close(): Promise<void>;
}

/** An in-process validator with `lines` as its configuration and `keys` in its store, ready. */
export async function startValidator(
  lines: string[],
  keys: TestKey[],
  overrides: { internalPort?: number } = {},
): Promise<Validator> {
  const cfg = parseConfig(lines.join('\n'));
  if (!cfg.ok) throw new Error(JSON.stringify(cfg.problems));
  const store = new KeyStore();
  for (const k of keys) store.upsert(structuredClone(k.secret));
  const validator = new Validator(cfg.value, { rest: undefined, log: createLogger('sec', 'silent'), store });
  await validator.start({ port: 0, host: '127.0.0.1', ...overrides });
  for (let i = 0; i < 100 && !validator.ready().ok; i++) await new Promise((r) => setTimeout(r, 20));
  if (!validator.ready().ok) throw new Error('validator not ready');
  return validator;
}

export async function startHarness(keys: TestKey[], extraConfig: string[] = []): Promise<Harness> {
  const seen: IncomingHttpHeaders[] = [];
  const upstream = createServer((req, res) => {
    seen.push(req.headers);
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('upstream ok');
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const dir = mkdtempSync(join(tmpdir(), 'kw-sec-'));
  const jwtFile = join(dir, 'jwt.pem');
  writeFileSync(jwtFile, generateSigningKeyPem('EdDSA'));
  const validator = await startValidator(
    [
      'environment: production',
      `upstream: { url: "http://127.0.0.1:${(upstream.address() as AddressInfo).port}" }`,
      'routes:',
      '  - { path: /v1/devices/**, methods: [GET, POST], permission: devices:read }',
      `identity: { jwt: { issuer: kw-sec, ttl: 30s, signingKey: { file: ${jwtFile} } } }`,
      ...extraConfig,
    ],
    keys,
    { internalPort: 0 },
  );
  return {
    validator,
    upstream,
    seen,
    jwtFile,
    close: async () => {
      await validator.stop();
      upstream.close();
    },
  };
}
