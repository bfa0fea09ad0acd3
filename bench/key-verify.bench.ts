// In-process key verifications per second: parse (shape + CRC32 checksum) + SHA-256 + constant-time
// compare, against a bare SHA-256 of the same strings.
import { ENVIRONMENTS, generateKey, hashesEqual, hashKey, KEY_TYPES, parseKey } from '../src/rules/index.ts';
import { BARE_SHA256, type Bench, bareSha256, compareThroughput, figure } from './lib.ts';

const KEYS = 10_000;

const bench: Bench = {
  name: 'key-verify',
  async run() {
    const keys: string[] = [];
    for (let i = 0; i < KEYS; i++) {
      keys.push(
        generateKey({
          type: KEY_TYPES[i % 2] ?? 'private',
          environment: ENVIRONMENTS[i % 3] ?? 'production',
        }),
      );
    }
    const stored = keys.map(hashKey);

    const verifyAll = () => {
      let ok = 0;
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i] ?? '';
        if (parseKey(key).ok && hashesEqual(hashKey(key), stored[i] ?? '')) ok++;
      }
      if (ok !== keys.length) throw new Error('a key failed verification');
      return ok;
    };
    const parseAll = () => {
      let ok = 0;
      for (const key of keys) if (parseKey(key).ok) ok++;
      return ok;
    };
    const bareHash = () => bareSha256(keys);

    const options = { opsPerBatch: keys.length };
    const verify = compareThroughput(verifyAll, bareHash, options);
    const parse = compareThroughput(parseAll, bareHash, options);
    return {
      name: 'key-verify',
      description: 'in-process verifications per second (parse + checksum + SHA-256 + constant-time compare)',
      figures: [
        figure('verify', 'ops/s', verify.value, verify.baseline, BARE_SHA256),
        figure('parse + checksum only', 'ops/s', parse.value, parse.baseline, BARE_SHA256),
      ],
      params: { keys: KEYS, rounds: 7, roundMs: 300, warmupMs: 500 },
    };
  },
};

export default bench;
