import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HASH_RECORD_KEY, type HashRecord } from '../../src/api/hash-record.ts';
import { AuditFileReader } from '../../src/audit/reader.ts';
import { listAuditFiles } from '../../src/audit/retention.ts';
import { readableRowsOf } from '../../src/audit/scan.ts';
import { loadKubeConfig } from '../../src/kube/config.ts';
import { KubeRest } from '../../src/kube/rest.ts';
import { LocalControlPlane } from '../../src/localcluster/cluster.ts';
import { freePort } from '../../src/localcluster/ports.ts';
import { buildWebhookConfigurations } from '../../src/webhook/configurations.ts';
import { call } from '../support/http/client.ts';
import {
  apiKeyPath,
  createApiKey,
  ensureNamespace,
  OPERATOR_NS,
  patchSpec,
} from '../support/kube/apikeys.ts';
import {
  eventually,
  type KeywardenProcess,
  startControllerProcess,
} from '../support/processes/keywarden-process.ts';
import { type RunningValidator, startValidator, writeConfig } from '../support/validator/cluster.ts';
import { startWebhookProcess, type WebhookProcess } from '../support/webhook/harness.ts';

// The fault suite, on a control plane of its own (the shared one is never stopped): continuous churn of
// ApiKeys (through the real TLS admission webhook) and validator traffic while the controller, the
// webhook and the validator are SIGKILLed at random moments and restarted, the API server is
// restarted, etcd is restarted, and the validator is cut off from the API server.
// Invariants asserted afterwards:
//   - no key lost or duplicated: one hash Secret per ApiKey, its keyId = status.keyId, keyIds unique,
//     no hash Secret left for a deleted ApiKey, no ApiKey admitted while the webhook was dead;
//   - no plaintext delivered twice: each key reveals exactly once, and what it revealed is the key
//     the validator accepts;
//   - no valid key refused while the validator had it cached: a stable key is never 401/403 (only
//     refused connections while the validator is down, or 503 while a restarted one syncs);
//   - no disabled key accepted: what the validator answers for a churned key only ever moves forward
//     through that key's sequence of disable/enable writes (it may lag, it never goes back to an
//     older state), and at the end every disabled key is refused; no expired key accepted after its
//     expiresAt;
//   - no corrupt audit file: every finished file reads back, the tails left by SIGKILLed validators
//     were recovered by the next start (no temp file left), and no answered request is missing beyond
//     what the flush interval allows a SIGKILL to lose.

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const ns = `faults-${randomBytes(3).toString('hex')}`;
const auditDir = mkdtempSync(join(tmpdir(), 'kw-faults-audit-'));
let plane: LocalControlPlane;
let rest: KubeRest;
let env: Record<string, string>;
let controller: KeywardenProcess;
let v: RunningValidator | undefined;
let webhook: WebhookProcess | undefined;
let webhookPort = 0;
let validatorConfig = '';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The status a forward-auth check of `key` for GET /v1/devices/1 gets from the validator on `port`. */
async function authz(port: number, key: string): Promise<number> {
  const headers = { 'x-api-key': key, 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/v1/devices/1' };
  return (await call(port, { path: '/authz/traefik', headers })).status;
}
/** A random moment: faults land anywhere in the churn's and the traffic's cycles. */
const jitter = () => sleep(Math.floor(Math.random() * 1_500));
const WEBHOOK_CONFIG = 'keywarden-faults';

const startWebhook = () =>
  startWebhookProcess({
    operatorNamespace: OPERATOR_NS,
    secretName: 'keywarden-webhook-tls',
    configurationName: WEBHOOK_CONFIG,
    port: webhookPort,
    kubeconfig: plane.kubeconfigPath,
    runDir: plane.runDir,
  });

/** True once the API server calls the webhook for `ns` (its defaulting shows in a dry-run create). */
async function webhookServes(): Promise<true | undefined> {
  const probe = await rest.request<{ spec?: { expiresAt?: string } }>('POST', apiKeyPath(ns), {
    query: { dryRun: 'All' },
    body: {
      apiVersion: 'keywarden.dev/v1alpha1',
      kind: 'ApiKey',
      metadata: { name: 'probe' },
      spec: { environment: 'production', permissions: ['devices:read'] },
    },
  });
  return probe.spec?.expiresAt ? true : undefined;
}

function reveal(name: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [MAIN, 'reveal', name, '-n', ns, '--operator-namespace', OPERATOR_NS],
      { env: { ...process.env, ...env } },
      (err, stdout, stderr) => {
        const code = err ? ((err as { code?: number }).code ?? 1) : 0;
        resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
      },
    );
  });
}

const startController = () => startControllerProcess(ns, [], env);

async function waitApiServer(): Promise<void> {
  await eventually(async () => ((await rest.get<string>('/readyz')) ? true : undefined), 90_000, 250);
}

beforeAll(async () => {
  plane = await LocalControlPlane.start({ log: () => {} });
  env = { KUBECONFIG: plane.kubeconfigPath };
  rest = new KubeRest(loadKubeConfig(plane.kubeconfigPath));
  await waitApiServer();
  const kubectl = (args: string[]) =>
    new Promise<void>((resolve, reject) =>
      execFile(plane.kubectlPath, args, { env: { ...process.env, ...env } }, (err, _o, stderr) =>
        err ? reject(new Error(stderr)) : resolve(),
      ),
    );
  await kubectl(['apply', '--server-side', '-f', 'crds/']);
  await kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/apikeys.keywarden.dev']);
  await ensureNamespace(rest, OPERATOR_NS);
  await ensureNamespace(rest, ns);
  // The admission webhook over real TLS (it bootstraps its CA and patches the caBundle), for `ns` only.
  webhookPort = await freePort();
  webhook = await startWebhook();
  const { mutating, validating } = buildWebhookConfigurations({
    name: WEBHOOK_CONFIG,
    target: { url: `https://127.0.0.1:${webhookPort}` },
    namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } },
  });
  await rest.create('/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations', mutating);
  await rest.create('/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations', validating);
  await eventually(webhookServes, 90_000, 250);
  controller = startController();
  await controller.waitForLog('became leader', 120_000);
  validatorConfig = writeConfig(`
environment: production
keyStore: { namespaces: [${ns}] }
routes:
  - { path: /v1/devices/**, methods: [GET], permission: devices:read }
lastUsed: { enabled: true, interval: 2s }
audit: { directory: ${auditDir}, flushInterval: 1s }
`);
  v = await startValidator(validatorConfig, env);
}, 300_000);

afterAll(async () => {
  await v?.proc.stop();
  await webhook?.stop();
  await controller?.stop();
  await plane?.stop();
  rmSync(auditDir, { recursive: true, force: true });
});

type Outcome = { t: number; name: string; status: number | 'down' };

describe('fault suite', () => {
  it('keeps every invariant through SIGKILLs, API server and etcd restarts, and a cut-off', {
    timeout: 600_000,
  }, async () => {
    const plaintext = new Map<string, string>();
    const revealOnce = async (name: string) => {
      const r = await eventually(
        async () => {
          const out = await reveal(name);
          return out.code === 0 ? out : undefined;
        },
        90_000,
        200,
      );
      plaintext.set(name, r.stdout.trim());
    };
    const waitActive = (name: string) =>
      eventually(
        async () =>
          (await rest.get<{ status?: { state?: string } }>(apiKeyPath(ns, name))).status?.state === 'Active'
            ? true
            : undefined,
        90_000,
        100,
      );

    // Stable keys (never touched) and churn keys (disabled and enabled, deleted, created).
    const stable = ['stable-a', 'stable-b', 'stable-c'];
    const churn = ['churn-a', 'churn-b', 'churn-c', 'churn-d'];
    for (const name of [...stable, ...churn]) await createApiKey(rest, ns, name);
    // A key that expires during the faults: the validator must refuse it by itself from then on.
    const expiresAtMs = Date.now() + 60_000;
    await createApiKey(rest, ns, 'expiring', { expiresAt: new Date(expiresAtMs).toISOString() });
    for (const name of [...stable, ...churn, 'expiring']) {
      await waitActive(name);
      await revealOnce(name);
    }

    // Traffic: one request every 10 ms to a random key, against whichever validator runs now.
    const outcomes: Outcome[] = [];
    let trafficOn = true;
    const traffic = (async () => {
      let i = 0;
      while (trafficOn) {
        const names = [...plaintext.keys()];
        const name = names[i++ % names.length] ?? '';
        const key = plaintext.get(name) ?? '';
        const port = v?.port;
        let status: number | 'down' = 'down';
        if (port) {
          try {
            status = await authz(port, key);
          } catch {
            status = 'down';
          }
        }
        outcomes.push({ t: Date.now(), name, status });
        await sleep(10);
      }
    })();

    // Churn: flip churn keys' disabled flag, delete one and create new ones, all through the faults.
    const disabled = new Map<string, boolean>();
    /**
     * Disable/enable writes: `sentAt` when the request went out, `t` when it was acknowledged;
     * `uncertain` when it failed (it may or may not have landed).
     */
    const toggles: { name: string; sentAt: number; t: number; disabled: boolean; uncertain: boolean }[] = [];
    const deleted = new Map<string, number>(); // name -> when the delete was sent
    const created: string[] = [];
    /** Creates that failed: refused by a dead webhook (must not exist), or of unknown outcome. */
    const failedCreates: { name: string; t: number; message: string }[] = [];
    let churnOn = true;
    const churnErrors: { t: number; message: string }[] = [];
    const churning = (async () => {
      let n = 0;
      while (churnOn) {
        const name = churn[n % churn.length] ?? '';
        try {
          if (name === 'churn-d' && n > 8 && !deleted.has(name)) {
            deleted.set(name, Date.now());
            plaintext.delete(name);
            await rest.delete(apiKeyPath(ns, name));
          } else if (!deleted.has(name)) {
            const next = !(disabled.get(name) ?? false);
            // Enabling again needs a fresh expiresAt within the year (the webhook rule; no webhook here).
            const sentAt = Date.now();
            try {
              await patchSpec(rest, ns, name, {
                disabled: next,
                ...(next ? {} : { expiresAt: new Date(Date.now() + 30 * 86_400_000).toISOString() }),
              });
            } catch (err) {
              toggles.push({ name, sentAt, t: Date.now(), disabled: next, uncertain: true });
              throw err;
            }
            toggles.push({ name, sentAt, t: Date.now(), disabled: next, uncertain: false });
            disabled.set(name, next);
          }
          if (n % 5 === 4) {
            const fresh = `new-${n}`;
            try {
              await createApiKey(rest, ns, fresh);
            } catch (err) {
              failedCreates.push({ name: fresh, t: Date.now(), message: (err as Error).message });
              throw err;
            }
            created.push(fresh);
          }
        } catch (err) {
          // API server or webhook away: expected, retried next round.
          churnErrors.push({ t: Date.now(), message: (err as Error).message });
        }
        n++;
        await sleep(300);
      }
    })();

    /** When each validator was SIGKILLed, and what each restarted one recovered from the trail. */
    const validatorKills: number[] = [];
    const recovered = { files: 0, events: 0 };
    const restartValidator = async () => {
      const old = v;
      v = undefined;
      validatorKills.push(Date.now());
      await old?.proc.kill();
      v = await startValidator(validatorConfig, env);
      const metrics = (await call(v.adminPort, { path: '/metrics' })).body;
      const metric = (re: RegExp) => Number(re.exec(metrics)?.[1] ?? Number.NaN);
      recovered.files += metric(/^keywarden_audit_recovered_files_total\{result="recovered"\} (\S+)$/m);
      recovered.events += metric(/^keywarden_audit_recovered_events_total (\S+)$/m);
    };
    const phases: { name: string; from: number; to: number }[] = [];
    const phase = async (name: string, f: () => Promise<void>) => {
      const from = Date.now();
      await f();
      phases.push({ name, from, to: Date.now() });
      console.log(`phase ${name}: ${from}..${Date.now()}`);
      await sleep(3_000);
    };

    // A steady stretch first (and one at the end): every part up, to measure write-to-answer lag.
    await sleep(15_000);
    await phase('SIGKILL controller', async () => {
      await jitter();
      await controller.kill();
      await sleep(2_000);
      controller = startController();
      await controller.waitForLog('became leader', 120_000);
    });
    await phase('SIGKILL validator', async () => {
      await jitter();
      await restartValidator();
    });
    let webhookDown = { from: 0, to: 0 };
    await phase('SIGKILL webhook', async () => {
      await jitter();
      webhookDown = { from: Date.now(), to: 0 };
      await webhook?.proc.kill();
      webhook = undefined;
      await sleep(4_000); // the churn meets failurePolicy Fail meanwhile
      webhookDown.to = Date.now();
      webhook = await startWebhook();
      await eventually(webhookServes, 60_000, 100);
    });
    await phase('restart kube-apiserver', () => plane.restartProcess('kube-apiserver'));
    await phase('restart etcd', async () => {
      await plane.restartProcess('etcd');
      await waitApiServer();
    });
    await phase('validator cut off from the API server', async () => {
      await plane.stopProcess('kube-apiserver');
      await sleep(6_000);
      await plane.startProcess('kube-apiserver');
      await waitApiServer();
    });
    await phase('SIGKILL controller and validator together', async () => {
      await jitter();
      await controller.kill();
      await restartValidator();
      controller = startController();
      await controller.waitForLog('became leader', 120_000);
    });
    await sleep(12_000);

    churnOn = false;
    await churning;
    // Settle: the last churn writes reach the validator.
    await sleep(5_000);
    trafficOn = false;
    await traffic;

    // Invariant: a stable key was never refused (401/403/429) by a validator.
    const refusedStable = outcomes.filter(
      (o) => stable.includes(o.name) && o.status !== 'down' && o.status !== 200 && o.status !== 503,
    );
    expect(refusedStable, JSON.stringify(refusedStable.slice(0, 5))).toEqual([]);
    expect(outcomes.filter((o) => stable.includes(o.name) && o.status === 200).length).toBeGreaterThan(100);

    // Invariant: no expired key accepted (with a second of clock slack).
    const expiredAccepted = outcomes.filter(
      (o) => o.name === 'expiring' && o.t > expiresAtMs + 1_000 && o.status === 200,
    );
    expect(expiredAccepted).toEqual([]);
    expect(outcomes.some((o) => o.name === 'expiring' && o.t > expiresAtMs + 1_000 && o.status === 401)).toBe(
      true,
    );

    // Invariant: no disabled key accepted. Each churn key goes through a sequence of states (enabled at
    // creation, then each disable/enable write in order). The validator may lag behind that sequence
    // (propagation, a dead controller, a cut-off), but what it answers must only ever move forward: an
    // answer matching an older state than one already shown is a disabled key accepted (or an enabled
    // key refused) from a stale cache. A write of unknown outcome is a state that may be skipped; a
    // write cannot show before it was sent.
    // While every part runs, a write shows within STEADY_LAG_MS: the lag from sending a write to the
    // first answer that matches it is measured for writes that no fault phase (nor the 3 s after one)
    // comes near. (Writes alternate, so the answer before the write shows the opposite.)
    const STEADY_LAG_MS = 5_000;
    const lastAnswer = outcomes.at(-1)?.t ?? 0;
    const steady = (t: number) =>
      phases.every((p) => t + STEADY_LAG_MS < p.from || t > p.to + 3_000) && t < lastAnswer - STEADY_LAG_MS;
    const lags: number[] = [];
    const violations: string[] = [];
    for (const name of churn) {
      const states = [
        { disabled: false, sentAt: 0, uncertain: false },
        ...toggles
          .filter((x) => x.name === name)
          .map((x) => ({ disabled: x.disabled, sentAt: x.sentAt, uncertain: x.uncertain })),
      ];
      const until = deleted.get(name) ?? Number.POSITIVE_INFINITY;
      const answers = outcomes.filter((o) => o.name === name && o.t < until);
      let at = 0; // the earliest state the validator can still be showing
      for (const o of answers) {
        if (o.status !== 200 && o.status !== 401) continue;
        const shownDisabled = o.status === 401;
        let k = at;
        while (k < states.length && (states[k]?.disabled !== shownDisabled || (states[k]?.sentAt ?? 0) > o.t))
          k++;
        if (k >= states.length) {
          violations.push(
            `${name} ${shownDisabled ? 'refused' : 'accepted'} at ${o.t}, a state older than state ${at} (sent ${states[at]?.sentAt})`,
          );
          continue;
        }
        at = k;
      }
      states.forEach((st, j) => {
        if (j === 0 || st.uncertain || !steady(st.sentAt) || st.sentAt + STEADY_LAG_MS >= until) return;
        const want = st.disabled ? 401 : 200;
        const lag =
          (answers.find((o) => o.t >= st.sentAt && o.status === want)?.t ?? Number.POSITIVE_INFINITY) -
          st.sentAt;
        lags.push(lag);
        if (lag > STEADY_LAG_MS)
          violations.push(
            `${name} ${st.disabled ? 'disable' : 'enable'} sent at ${st.sentAt} showed after ${lag} ms`,
          );
      });
    }
    if (violations.length > 0) {
      // The timeline around the first violation, to tell a lost write from a stale cache.
      const name = violations[0]?.split(' ')[0] ?? '';
      console.log(
        JSON.stringify({
          phases,
          toggles: toggles.filter((x) => x.name === name),
          outcomes: outcomes.filter((o) => o.name === name).map((o) => `${o.t}:${o.status}`),
          controllerLog: controller.lines.filter((l) => l.includes(name)).slice(-40),
        }),
      );
    }
    expect(violations).toEqual([]);
    expect(toggles.filter((x) => x.disabled && !x.uncertain).length).toBeGreaterThan(5);
    expect(lags.length).toBeGreaterThan(20);
    lags.sort((a, b) => a - b);
    // And at the end, every disabled churn key is refused and every enabled one accepted.
    let finalCalls = 0;
    const final = async (name: string) => {
      finalCalls++;
      return authz(v?.port ?? 0, plaintext.get(name) ?? '');
    };
    for (const name of churn.filter((n) => !deleted.has(n))) {
      const want = disabled.get(name) ? 401 : 200;
      await eventually(async () => ((await final(name)) === want ? true : undefined), 30_000, 200);
    }

    // Invariant: with the webhook dead, failurePolicy Fail refused every write, and no create landed.
    const refusedByDeadWebhook = churnErrors.filter(
      (e) => e.t >= webhookDown.from && /failed calling webhook/.test(e.message),
    );
    expect(refusedByDeadWebhook.length, JSON.stringify(churnErrors.slice(-5))).toBeGreaterThan(0);
    const mustNotExist = failedCreates.filter((f) => /failed calling webhook/.test(f.message));
    for (const f of failedCreates.filter((x) => !mustNotExist.includes(x))) {
      // A create of unknown outcome (the API server went away mid-request) may have landed.
      const exists = await rest.get(apiKeyPath(ns, f.name)).then(
        () => true,
        () => false,
      );
      if (exists) created.push(f.name);
    }

    // Invariant: no key lost or duplicated.
    for (const name of created) {
      await waitActive(name);
      await revealOnce(name);
    }
    const items = (
      await rest.get<{
        items: {
          metadata: { name: string };
          spec: { expiresAt?: string };
          status?: { keyId?: string; state?: string };
        }[];
      }>(apiKeyPath(ns))
    ).items;
    // Every ApiKey went through the mutating webhook (it defaults expiresAt; nothing else does).
    expect(items.filter((i) => !i.spec.expiresAt).map((i) => i.metadata.name)).toEqual([]);
    const secrets = (
      await rest.get<{
        items: {
          metadata: { name: string; ownerReferences?: { name: string }[] };
          data?: Record<string, string>;
        }[];
      }>(`/api/v1/namespaces/${ns}/secrets`, { labelSelector: 'keywarden.dev/component=key-hash' })
    ).items;
    expect(items.map((i) => i.metadata.name).sort()).toEqual(
      [...stable, ...churn.filter((n) => !deleted.has(n)), 'expiring', ...created].sort(),
    );
    for (const f of mustNotExist)
      expect(
        items.map((i) => i.metadata.name),
        `${f.name} was refused by the dead webhook`,
      ).not.toContain(f.name);
    const keyIds = items.map((i) => i.status?.keyId);
    expect(new Set(keyIds).size).toBe(items.length);
    await eventually(
      async () => {
        const live = (
          await rest.get<{ items: { metadata: { ownerReferences?: { name: string }[] } }[] }>(
            `/api/v1/namespaces/${ns}/secrets`,
            { labelSelector: 'keywarden.dev/component=key-hash' },
          )
        ).items;
        return live.length === items.length ? true : undefined;
      },
      60_000,
      500,
    );
    for (const item of items) {
      const own = secrets.filter((s) =>
        s.metadata.ownerReferences?.some((o) => o.name === item.metadata.name),
      );
      expect(own, `hash Secrets of ${item.metadata.name}`).toHaveLength(1);
      const record = JSON.parse(
        Buffer.from(own[0]?.data?.[HASH_RECORD_KEY] ?? '', 'base64').toString('utf8'),
      ) as HashRecord;
      expect(record.keyId).toBe(item.status?.keyId);
    }

    // Invariant: no plaintext delivered twice; the one delivered is the one that works.
    for (const name of plaintext.keys()) {
      const again = await reveal(name);
      expect(again.code, `second reveal of ${name}`).not.toBe(0);
      if (!disabled.get(name) && name !== 'expiring')
        expect(await final(name), `revealed key of ${name} works`).toBe(200);
    }

    // Invariant: no corrupt audit file (stop the validator so its last file is finished), the tails of
    // SIGKILLed validators recovered at the next start, and nothing lost beyond what a SIGKILL may lose:
    // events not yet committed, at most one flush interval (1 s) plus a batch in flight.
    await v?.proc.stop();
    v = undefined;
    const audit = await readableRowsOf(auditDir);
    expect(audit.files).toBeGreaterThan(0);
    expect(audit.unreadable).toEqual([]);
    expect(audit.leftovers).toEqual([]);
    expect(recovered.files).toBeGreaterThanOrEqual(validatorKills.length);
    expect(recovered.events).toBeGreaterThan(0);
    let recoveredFilesOnDisk = 0;
    for (const f of await listAuditFiles(auditDir)) {
      const reader = await AuditFileReader.open(f.path);
      if (reader.keyValue['keywarden.audit.recovered'] === 'true') recoveredFilesOnDisk++;
      await reader.close();
    }
    expect(recoveredFilesOnDisk).toBe(recovered.files);
    const decided = outcomes.filter((o) => o.status === 200 || o.status === 401);
    const mayLose = validatorKills
      .map((k) => decided.filter((o) => o.t > k - 2_500 && o.t <= k).length)
      .reduce((a, b) => a + b, 0);
    expect(audit.rows).toBeGreaterThanOrEqual(decided.length - mayLose);
    expect(audit.rows).toBeLessThanOrEqual(outcomes.length + finalCalls);
    console.log(
      JSON.stringify({
        requests: outcomes.length,
        byStatus: outcomes.reduce<Record<string, number>>((m, o) => {
          m[String(o.status)] = (m[String(o.status)] ?? 0) + 1;
          return m;
        }, {}),
        phases: phases.map((p) => `${p.name}: ${p.to - p.from} ms`),
        churnErrors: churnErrors.length,
        steadyWriteToAnswerMs: {
          writes: lags.length,
          p50: lags[Math.floor(lags.length / 2)],
          max: lags.at(-1),
        },
        toggles: toggles.length,
        auditFiles: audit.files,
        auditRows: audit.rows,
        leftovers: audit.leftovers.length,
      }),
    );
  });
});
