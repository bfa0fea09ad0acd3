import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { REVEAL_ANNOTATIONS } from '../../src/api/metadata.ts';
import { applyCrds, createNamespace, kubectl, kubectlOk } from '../support/kube/kubectl.ts';
import {
  createSelectedNamespace,
  deleteConfigurations,
  installConfigurations,
  rfc3339,
  startWebhookProcess,
  type WebhookProcess,
  waitUntilWebhookActive,
} from '../support/webhook/harness.ts';

// The mutating webhook's matchConditions (src/webhook/match-conditions.ts) on the real API server.
// Skipping the webhook must never change an outcome: every probe (a create, or an update of a stored
// key, as a tenant who can edit ApiKeys in their namespace could send it) runs in a namespace whose
// configuration has the conditions and in one whose configuration calls the webhook for every object;
// the answers must be the same. One webhook process serves both, so its admission counter tells whether
// the API server called it: the plain case must be skipped, every attack must be called.

const RUN = randomBytes(3).toString('hex');
const WITH = {
  config: `keywarden-test-match-${RUN}`,
  selector: { 'keywarden.dev/webhook-test': `match-${RUN}` },
};
const WITHOUT = {
  config: `keywarden-test-always-${RUN}`,
  selector: { 'keywarden.dev/webhook-test': `always-${RUN}` },
};
const { request: REQ, requestedBy: BY } = REVEAL_ANNOTATIONS;
const EXPIRES = rfc3339(Date.now() + 30 * 86_400_000);

let system = '';
let nsWith = '';
let nsWithout = '';
let webhook: WebhookProcess;
let me = '';

type Spec = Record<string, unknown>;
interface Probe {
  name: string;
  /** Called (the webhook may have to patch) or skipped (CEL proved it would not). */
  expect: 'called' | 'skipped';
  /** A create of this object... */
  create?: { spec: Spec; metadata?: Record<string, unknown> };
  /** ...or this patch of a stored key (created first, through the webhook, from `base`). */
  update?: {
    base: { spec: Spec; annotations?: Record<string, string> };
    type: 'merge' | 'json';
    patch: unknown;
  };
}

const normal = { environment: 'staging', expiresAt: EXPIRES, permissions: ['devices:*', 'tickets:read'] };
const withSources = (allowedSources: unknown) => ({ create: { spec: { ...normal, allowedSources } } });
const withPermissions = (permissions: unknown) => ({ create: { spec: { ...normal, permissions } } });
const revealed = { spec: normal, annotations: { [REQ]: '{"keyId":"k1"}' } };
const annotate = (annotations: Record<string, string | null>) => ({ metadata: { annotations } });

const PROBES: Probe[] = [
  // What a manifest of a finished key looks like: nothing to default, nothing to normalise.
  {
    name: 'create: expiresAt set, normal permissions and sources',
    expect: 'skipped',
    ...withSources(['10.0.0.0/8', '10.1.0.0/16', '10.1.2.0/24', '192.0.2.1/32', '0.0.0.0/0']),
  },
  {
    name: 'create: expiresAt set, no permissions',
    expect: 'skipped',
    create: { spec: { environment: 'staging', expiresAt: EXPIRES } },
  },
  {
    name: 'create: empty permissions and sources',
    expect: 'skipped',
    create: { spec: { ...normal, permissions: [], allowedSources: [] } },
  },
  {
    name: 'create: other annotations and labels',
    expect: 'skipped',
    create: { spec: normal, metadata: { labels: { team: 'a' }, annotations: { note: 'x' } } },
  },
  {
    name: 'create: no expiresAt (defaulted)',
    expect: 'called',
    create: { spec: { environment: 'staging' } },
  },
  // Forged reveal attribution.
  {
    name: 'attack: create with a forged reveal-requested-by',
    expect: 'called',
    create: { spec: normal, metadata: { annotations: { [BY]: 'alice' } } },
  },
  {
    name: 'attack: create with a reveal request and a forged requester',
    expect: 'called',
    create: { spec: normal, metadata: { annotations: { [REQ]: 'r', [BY]: 'alice' } } },
  },
  {
    name: 'attack: create with a forged requester and a deletionTimestamp',
    expect: 'called',
    create: {
      spec: normal,
      metadata: { annotations: { [BY]: 'alice' }, deletionTimestamp: '2026-01-01T00:00:00Z' },
    },
  },
  // Permissions that are not in normal form.
  {
    name: 'attack: permissions unsorted',
    expect: 'called',
    ...withPermissions(['tickets:read', 'devices:*']),
  },
  {
    name: 'attack: permissions duplicated',
    expect: 'called',
    ...withPermissions(['tickets:read', 'tickets:read']),
  },
  {
    name: 'attack: permissions non-ASCII',
    expect: 'called',
    ...withPermissions(['devices:*', 'tickets:réad']),
  },
  {
    name: 'attack: permissions sorted differently by UTF-8 and UTF-16',
    expect: 'called',
    ...withPermissions(['a:\uff61', 'a:\u{1f600}']),
  },
  {
    name: 'attack: 65 permissions (over maxItems)',
    expect: 'called',
    ...withPermissions(Array.from({ length: 65 }, (_, i) => `p${String(i).padStart(2, '0')}:read`)),
  },
  {
    name: 'attack: a 100 000-character permission',
    expect: 'called',
    ...withPermissions([`a:${'b'.repeat(100_000)}`]),
  },
  // Allowed sources that are not canonical.
  { name: 'attack: IPv4 without a prefix', expect: 'called', ...withSources(['192.0.2.1']) },
  { name: 'attack: IPv4 with host bits set', expect: 'called', ...withSources(['10.1.2.3/8']) },
  { name: 'attack: IPv4 /16 with host bits set', expect: 'called', ...withSources(['10.1.2.0/16']) },
  {
    name: 'IPv4 canonical at a prefix the regex does not prove (/12: called)',
    expect: 'called',
    ...withSources(['172.16.0.0/12']),
  },
  { name: 'attack: IPv4 with leading zeros', expect: 'called', ...withSources(['010.0.0.0/8']) },
  { name: 'attack: IPv6 in upper case', expect: 'called', ...withSources(['2001:DB8::/32']) },
  {
    name: 'attack: IPv6 already canonical (not proved by CEL: called)',
    expect: 'called',
    ...withSources(['2001:db8::/32']),
  },
  { name: 'attack: IPv4-mapped IPv6', expect: 'called', ...withSources(['::ffff:1.2.3.4']) },
  { name: 'attack: duplicate sources', expect: 'called', ...withSources(['10.0.0.0/8', '10.0.0.0/8']) },
  {
    name: 'attack: 65 sources (over maxItems)',
    expect: 'called',
    ...withSources(Array.from({ length: 65 }, (_, i) => `10.0.${i}.0/24`)),
  },
  // Wrong types: the schema's own error, never a CEL error.
  { name: 'attack: permissions a string', expect: 'called', ...withPermissions('tickets:read') },
  { name: 'attack: permissions holding a number', expect: 'called', ...withPermissions([1]) },
  { name: 'attack: allowedSources a string', expect: 'called', ...withSources('10.0.0.0/8') },
  {
    // (An object in the list is refused before admission: strict decoding, unknown field.)
    name: 'attack: allowedSources holding a number',
    expect: 'called',
    ...withSources([10]),
  },
  {
    name: 'attack: expiresAt a number',
    expect: 'called',
    create: { spec: { ...normal, expiresAt: 1767225600 } },
  },
  { name: 'attack: spec a string', expect: 'called', create: { spec: 'x' as unknown as Spec } },
  // Updates of a stored key.
  {
    name: 'update: description only',
    expect: 'skipped',
    update: { base: revealed, type: 'merge', patch: { spec: { description: 'new' } } },
  },
  {
    name: 'update: reveal request removed, requester kept',
    expect: 'skipped',
    update: { base: revealed, type: 'merge', patch: annotate({ [REQ]: null }) },
  },
  {
    name: 'update: another annotation and a label, reveal annotations untouched',
    expect: 'skipped',
    update: {
      base: revealed,
      type: 'merge',
      patch: { metadata: { labels: { team: 'b' }, annotations: { note: 'y' } } },
    },
  },
  {
    name: 'attack: update changing only reveal-requested-by',
    expect: 'called',
    update: { base: revealed, type: 'merge', patch: annotate({ [BY]: 'alice' }) },
  },
  {
    name: 'attack: update removing reveal-requested-by',
    expect: 'called',
    update: { base: revealed, type: 'merge', patch: annotate({ [BY]: null }) },
  },
  {
    name: 'attack: update adding reveal-requested-by to a key never revealed',
    expect: 'called',
    update: { base: { spec: normal }, type: 'merge', patch: annotate({ [BY]: 'alice' }) },
  },
  {
    name: 'attack: update with a changed reveal request and a forged requester',
    expect: 'called',
    update: { base: revealed, type: 'merge', patch: annotate({ [REQ]: '{"keyId":"k2"}', [BY]: 'alice' }) },
  },
  {
    name: 'attack: update with a changed reveal request only',
    expect: 'called',
    update: { base: revealed, type: 'merge', patch: annotate({ [REQ]: '{"keyId":"k3"}' }) },
  },
  {
    name: 'attack: update with a forged requester and a deletionTimestamp',
    expect: 'called',
    update: {
      base: revealed,
      type: 'merge',
      patch: { metadata: { deletionTimestamp: '2026-01-01T00:00:00Z', annotations: { [BY]: 'alice' } } },
    },
  },
  {
    name: 'attack: update dropping expiresAt (the old one is kept)',
    expect: 'called',
    update: { base: revealed, type: 'json', patch: [{ op: 'remove', path: '/spec/expiresAt' }] },
  },
  {
    name: 'attack: update unsorting permissions',
    expect: 'called',
    update: {
      base: revealed,
      type: 'merge',
      patch: { spec: { permissions: ['tickets:read', 'devices:*'] } },
    },
  },
  {
    name: 'attack: update setting permissions to a string',
    expect: 'called',
    update: { base: revealed, type: 'merge', patch: { spec: { permissions: 'x' } } },
  },
];

const manifest = (name: string, namespace: string, spec: Spec, metadata: Record<string, unknown> = {}) =>
  stringify({
    apiVersion: 'keywarden.dev/v1alpha1',
    kind: 'ApiKey',
    metadata: { name, namespace, ...metadata },
    spec,
  });

/** Admission calls the webhook process answered so far, by webhook. */
async function calls(): Promise<{ mutate: number; validate: number }> {
  const text = await webhook.metrics();
  const sum = (w: string) =>
    [
      ...text.matchAll(
        new RegExp(`^keywarden_webhook_admissions_total\\{webhook="${w}"[^}]*\\} (\\S+)$`, 'gm'),
      ),
    ]
      .map((m) => Number(m[1]))
      .reduce((a, b) => a + b, 0);
  return { mutate: sum('mutate'), validate: sum('validate') };
}

interface Outcome {
  code: number;
  /** What the API server answered: the object's metadata and spec that a client could set, or the error. */
  answer: unknown;
  mutateCalls: number;
  validateCalls: number;
}

async function run(probe: Probe, index: number, namespace: string): Promise<Outcome> {
  const name = `p${index}`;
  let args: string[];
  let input: string | undefined;
  if (probe.update) {
    const { base } = probe.update;
    await kubectlOk(
      ['create', '-f', '-'],
      manifest(name, namespace, base.spec, base.annotations ? { annotations: base.annotations } : {}),
    );
    args = [
      'patch',
      'apikey',
      name,
      '-n',
      namespace,
      `--type=${probe.update.type}`,
      '-p',
      JSON.stringify(probe.update.patch),
    ];
  } else {
    args = ['create', '-f', '-'];
    input = manifest(name, namespace, probe.create?.spec ?? {}, probe.create?.metadata);
  }
  const before = await calls();
  const r = await kubectl([...args, '--dry-run=server', '-o', 'json'], input);
  const after = await calls();
  const scrub = (s: string) => s.replaceAll(namespace, '<ns>');
  let answer: unknown = scrub(r.stderr);
  if (r.code === 0) {
    const o = JSON.parse(r.stdout) as { metadata: Record<string, unknown>; spec: unknown };
    const { labels, annotations, finalizers, deletionTimestamp } = o.metadata;
    answer = { labels, annotations, finalizers, deletionTimestamp, spec: o.spec };
  }
  return {
    code: r.code,
    answer,
    mutateCalls: after.mutate - before.mutate,
    validateCalls: after.validate - before.validate,
  };
}

/** A defaulted expiry is "now plus the lifetime": the two runs may be a second apart. */
function sameExpiry(a: Outcome, b: Outcome): void {
  const spec = (o: Outcome) => (o.answer as { spec?: { expiresAt?: unknown } }).spec;
  const x = spec(a)?.expiresAt;
  const y = spec(b)?.expiresAt;
  if (typeof x === 'string' && typeof y === 'string' && x !== y && x !== EXPIRES) {
    expect(Math.abs(Date.parse(x) - Date.parse(y))).toBeLessThanOrEqual(5_000);
    (spec(a) as { expiresAt: string }).expiresAt = y;
  }
}

beforeAll(async () => {
  await applyCrds();
  me = (
    JSON.parse(await kubectlOk(['auth', 'whoami', '-o', 'json'])) as {
      status: { userInfo: { username: string } };
    }
  ).status.userInfo.username;
  system = await createNamespace('kw-match-sys');
  nsWith = await createSelectedNamespace('kw-match', WITH.selector);
  nsWithout = await createSelectedNamespace('kw-always', WITHOUT.selector);
  webhook = await startWebhookProcess({
    operatorNamespace: system,
    secretName: 'keywarden-webhook-tls',
    // The process keeps the caBundle of both configurations.
    configurationName: `${WITH.config},${WITHOUT.config}`,
  });
  await installConfigurations(WITH.config, webhook.port, WITH.selector);
  await installConfigurations(WITHOUT.config, webhook.port, WITHOUT.selector, { mutateEveryObject: true });
  await waitUntilWebhookActive(nsWith);
  await waitUntilWebhookActive(nsWithout);
}, 180_000);

afterAll(async () => {
  await deleteConfigurations(WITH.config);
  await deleteConfigurations(WITHOUT.config);
  await webhook?.stop();
  await kubectl(['delete', 'namespace', nsWith, nsWithout, system, '--wait=false', '--ignore-not-found']);
});

describe('mutating webhook matchConditions on the real API server', () => {
  it.each(PROBES.map((p, i) => [p.name, p, i] as const))('%s', async (_name, probe, i) => {
    const skipping = await run(probe, i, nsWith);
    const calling = await run(probe, i, nsWithout);
    // The reference configuration called the webhook; with the conditions it was called or not, as the
    // probe says.
    expect(calling.mutateCalls).toBe(1);
    expect(skipping.mutateCalls).toBe(probe.expect === 'called' ? 1 : 0);
    // Skipping never changes the answer (an error in the condition would show here as another message).
    sameExpiry(skipping, calling);
    expect(skipping.code).toBe(calling.code);
    expect(skipping.answer).toEqual(calling.answer);
    expect(JSON.stringify(skipping.answer)).not.toMatch(/matchCondition|expression|CEL/i);
    // The validating webhook is called for every object that reaches it.
    expect(skipping.validateCalls).toBe(calling.validateCalls);
    if (probe.expect === 'skipped') expect(skipping.validateCalls).toBe(1);
  });

  it('the attacks end as the webhook decides: names stamped from userInfo, the old expiry kept', async () => {
    const answer = async (name: string) => {
      const i = PROBES.findIndex((p) => p.name === name);
      const probe = PROBES[i] as Probe;
      const o = await run(probe, 100 + i, nsWith);
      expect(o.code, JSON.stringify(o.answer)).toBe(0);
      return o.answer as { annotations?: Record<string, string>; spec: Spec };
    };
    expect(
      (await answer('attack: create with a forged reveal-requested-by')).annotations?.[BY],
    ).toBeUndefined();
    expect(
      (await answer('attack: create with a reveal request and a forged requester')).annotations?.[BY],
    ).toBe(me);
    expect((await answer('attack: update changing only reveal-requested-by')).annotations?.[BY]).toBe(me);
    expect((await answer('attack: update removing reveal-requested-by')).annotations?.[BY]).toBe(me);
    expect(
      (await answer('attack: update adding reveal-requested-by to a key never revealed')).annotations?.[BY],
    ).toBeUndefined();
    expect(
      (await answer('attack: update with a changed reveal request and a forged requester')).annotations?.[BY],
    ).toBe(me);
    expect((await answer('attack: update dropping expiresAt (the old one is kept)')).spec.expiresAt).toBe(
      EXPIRES,
    );
    // A deletionTimestamp is wiped before admission on create (and is immutable on update: refused).
    expect(
      (await answer('attack: create with a forged requester and a deletionTimestamp')).annotations?.[BY],
    ).toBeUndefined();
    expect((await answer('attack: update unsorting permissions')).spec.permissions).toEqual([
      'devices:*',
      'tickets:read',
    ]);
  });
});
