import { randomBytes, randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RevealError, revealKey } from '../../src/client/reveal.ts';
import { hashKey, keyMatchesHash, parseKey } from '../../src/rules/index.ts';
import {
  apiKeyPath,
  createApiKey,
  ensureNamespace,
  getRecord,
  OPERATOR_NS,
  patchSpec,
  secretExists,
} from '../support/kube/apikeys.ts';
import { adminRest } from '../support/kube/client.ts';
import { applyCrds } from '../support/kube/kubectl.ts';
import {
  eventually,
  type KeywardenProcess,
  startControllerProcess,
} from '../support/processes/keywarden-process.ts';

const rest = adminRest();
const KEYS = 200;
let ns = '';
const running: KeywardenProcess[] = [];

/**
 * A controller process. The chaos test kills one before starting the next, so it runs them without
 * the Lease (a killed leader's Lease would hold its successor off for 15 s); failover has its own test.
 */
function startController(lease: string | undefined): KeywardenProcess {
  const p = startControllerProcess(ns, [
    ...(lease ? ['--lease-name', lease] : ['--no-leader-elect']),
    '--concurrency',
    '8',
  ]);
  running.push(p);
  return p;
}

async function inBatches<T>(items: T[], size: number, fn: (t: T) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}

/**
 * Reveals once; undefined when someone else already has it, or when the race lost to a concurrent
 * write (a 409 on the reveal request while the controller or the other reader changed the ApiKey).
 * Every refusal is counted by kind and printed if too few copies were won.
 */
const refusals = new Map<string, number>();
async function tryReveal(name: string): Promise<string | undefined> {
  try {
    return await revealKey(rest, ns, name, { timeoutMs: 15_000 });
  } catch (err) {
    const kind =
      err instanceof RevealError
        ? err.code
        : `${(err as { code?: number }).code ?? ''} ${(err as Error).message ?? err}`.slice(0, 60);
    refusals.set(kind, (refusals.get(kind) ?? 0) + 1);
    return undefined;
  }
}

beforeAll(async () => {
  await applyCrds();
  await ensureNamespace(rest, OPERATOR_NS);
  ns = `crash-${randomBytes(3).toString('hex')}`;
  await ensureNamespace(rest, ns);
});

afterAll(async () => {
  await Promise.all(running.map((p) => p.stop()));
});

describe('crash safety', () => {
  it('survives SIGKILL at random points while 200 keys are created, regenerated and revealed', async () => {
    const lease = undefined;
    const names = Array.from({ length: KEYS }, (_, i) => `key-${i}`);
    const revealed = new Map<string, string[]>(); // name -> plaintexts revealed, in order
    let doubleReveals = 0;
    let stop = false;
    let stopReaders = false;

    // Readers race each other for every key, all along: at most one may ever win a copy. A reveal is
    // answered by the controller (it seals the key to the reader's one-time public key), so while the
    // chaos kills it every second or so few reveals complete: the readers go on racing while the last
    // controller brings everything to rest, and copies are won in both phases.
    const readers = (async () => {
      while (!stopReaders) {
        const name = names[randomInt(names.length)] as string;
        const results = await Promise.all([tryReveal(name), tryReveal(name)]);
        const won = results.filter((r): r is string => r !== undefined);
        if (won.length > 1) doubleReveals++;
        for (const k of won) revealed.set(name, [...(revealed.get(name) ?? []), k]);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();

    let controller = startController(lease);
    let kills = 0;
    const chaos = (async () => {
      while (!stop) {
        // Kill at a random moment of real work: after the caches synced, while keys are being minted.
        await controller.waitForLog('controller started', 60_000).catch(() => undefined);
        await new Promise((r) => setTimeout(r, 100 + randomInt(1500)));
        if (stop) break;
        await controller.kill();
        kills++;
        controller = startController(lease);
      }
    })();

    await inBatches(names, 25, (n) => createApiKey(rest, ns, n, { rotation: { generation: 0 } }));
    await new Promise((r) => setTimeout(r, 2_000));
    await inBatches(names, 25, (n) => patchSpec(rest, ns, n, { rotation: { generation: 1 } }));
    await new Promise((r) => setTimeout(r, 2_000));
    await inBatches(
      names.filter((_, i) => i % 2 === 0),
      25,
      (n) => patchSpec(rest, ns, n, { rotation: { generation: 2 } }),
    );
    await new Promise((r) => setTimeout(r, 3_000));
    // Keep killing for a while after the last write, at random moments of the controller's work.
    const chaosUntil = Date.now() + 20_000;
    while (kills < 3 || Date.now() < chaosUntil) await new Promise((r) => setTimeout(r, 500));
    stop = true;
    await chaos;
    expect(kills).toBeGreaterThanOrEqual(3);

    // A last controller that is left alone brings everything to rest.
    const want = (i: number) => (i % 2 === 0 ? 2 : 1);
    await eventually(
      async () => {
        const list = await rest.get<{
          items: { metadata: { name: string }; status?: { state?: string; rotationGeneration?: number } }[];
        }>(apiKeyPath(ns));
        const done = list.items.filter((k) => {
          const i = Number(k.metadata.name.split('-')[1]);
          return k.status?.state === 'Active' && k.status.rotationGeneration === want(i);
        });
        return done.length === KEYS ? true : undefined;
      },
      180_000,
      500,
    );
    // Let the readers race against the settled controller until they have won a fair number of copies.
    const deadline = Date.now() + 90_000;
    while ([...revealed.values()].flat().length <= 10 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
    }
    stopReaders = true;
    await readers;

    expect(doubleReveals).toBe(0);
    const allRevealed = [...revealed.values()].flat();
    expect(
      allRevealed.length,
      `the readers should have won some copies during and after the chaos; refusals: ${JSON.stringify([...refusals])}`,
    ).toBeGreaterThan(10);
    expect(new Set(allRevealed).size).toBe(allRevealed.length);

    const keyIds = new Set<string>();
    for (const [i, name] of names.entries()) {
      const record = await getRecord(rest, ns, name);
      expect(record, name).toBeDefined();
      if (!record) continue;
      // One live secret per generation: no previous hash (no grace period), the generation asked for.
      expect(record.rotationGeneration).toBe(want(i));
      expect(record.previous).toBeUndefined();
      keyIds.add(record.keyId);
      // Every revealed key belongs to this key id; a key revealed earlier never matches a newer generation.
      for (const k of revealed.get(name) ?? []) {
        const p = parseKey(k);
        expect(p.ok && p.key.keyId).toBe(record.keyId);
      }
      // The current secret was not lost: either it is still waiting to be revealed (and matches the
      // hash), or a reader got it.
      // The settled controller answers one reveal after another: give it time, and let any other
      // failure than "already revealed" fail the test with its own message.
      let refusedWith = '';
      const fresh = await revealKey(rest, ns, name, { timeoutMs: 60_000 }).catch((err: unknown) => {
        // A refusal (already revealed, no copy staged) leaves the check below to find the reader's copy;
        // a controller that does not answer in time is a failure of its own.
        if (err instanceof RevealError && err.code !== 'no_answer') {
          refusedWith = err.message;
          return undefined;
        }
        throw err;
      });
      const current = fresh ?? (revealed.get(name) ?? []).find((k) => keyMatchesHash(k, record.hash));
      if (current === undefined) {
        // Say what the controller left, so a failure here is a bug report.
        const ak = await rest.get<{ status?: unknown }>(apiKeyPath(ns, name));
        const copy = await secretExists(rest, OPERATOR_NS, `${ns}.${name}.delivery`);
        expect.fail(
          `${name}: no plaintext exists for the live hash (generation ${record.rotationGeneration}); the final ` +
            `reveal said: ${refusedWith}; delivery Secret present: ${copy}; readers won ${(revealed.get(name) ?? []).length} ` +
            `copies of it; status: ${JSON.stringify(ak.status)}; refusals: ${JSON.stringify([...refusals])}`,
        );
      }
      expect(hashKey(current as string)).toBe(record.hash);
    }
    expect(keyIds.size).toBe(KEYS);
  }, 600_000);

  it('two controllers: one leads; when it is killed the other takes over pending work', async () => {
    const lease = `leader-${ns}`;
    const a = startController(lease);
    const b = startController(lease);
    const first = await Promise.race([
      a.waitForLog('became leader', 30_000).then(() => a),
      b.waitForLog('became leader', 30_000).then(() => b),
    ]);
    const other = first === a ? b : a;
    await new Promise((r) => setTimeout(r, 3_000));
    expect(other.lines.some((l) => l.includes('became leader'))).toBe(false);
    await first.kill();
    await createApiKey(rest, ns, 'after-failover');
    await other.waitForLog('became leader', 30_000);
    await eventually(async () => {
      const ak = await rest.get<{ status?: { state?: string } }>(apiKeyPath(ns, 'after-failover'));
      return ak.status?.state === 'Active' ? true : undefined;
    }, 30_000);
  });
});
