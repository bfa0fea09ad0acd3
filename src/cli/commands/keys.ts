import { type Command, Option } from 'commander';
import { APIKEY_RESOURCE } from '../../api/index.ts';
import { LABELS } from '../../api/metadata.ts';
import { matchesSearch } from '../../api/search.ts';
import type { LiveApiKey } from '../../controller/reconcile.ts';
import { loadKubeConfig } from '../../kube/config.ts';
import { isNotFound, KubeRest, resourcePath } from '../../kube/rest.ts';
import {
  formatRfc3339,
  KeywardenError,
  latestAllowedExpiry,
  parseRfc3339,
  UsageError,
} from '../../rules/index.ts';
import { durationTextOption } from '../options.ts';
import { printTable } from '../output.ts';

// People's commands on ApiKeys: list, regenerate, disable, enable, extend. They change the spec only;
// the webhook checks every change and the controller does the work, exactly as with kubectl.

const apiKeysPath = (ns?: string, name?: string) => resourcePath(APIKEY_RESOURCE, ns, name);

function client(kubeconfig?: string): KubeRest {
  return new KubeRest(loadKubeConfig(kubeconfig));
}

async function getKey(rest: KubeRest, ns: string, name: string): Promise<LiveApiKey> {
  try {
    return await rest.get<LiveApiKey>(apiKeysPath(ns, name));
  } catch (err) {
    if (isNotFound(err))
      throw new KeywardenError(
        'not_found',
        `ApiKey ${ns}/${name} not found. List keys with: kubectl keywarden list -n ${ns}`,
      );
    throw err;
  }
}

/** A merge patch guarded by the resourceVersion just read, so two people never overwrite each other. */
async function patchKey(rest: KubeRest, ak: LiveApiKey, spec: Record<string, unknown>): Promise<LiveApiKey> {
  return rest.patch<LiveApiKey>(
    apiKeysPath(ak.metadata.namespace, ak.metadata.name),
    { metadata: { resourceVersion: ak.metadata.resourceVersion }, spec },
    'merge',
  );
}

const ago = (iso?: string) => {
  if (!iso) return '-';
  const s = Math.round((Date.now() - Date.parse(iso)) / 1000);
  if (s < 0) return `in ${human(-s)}`;
  return `${human(s)} ago`;
};
const human = (s: number) =>
  s < 120
    ? `${s}s`
    : s < 7200
      ? `${Math.round(s / 60)}m`
      : s < 172800
        ? `${Math.round(s / 3600)}h`
        : `${Math.round(s / 86400)}d`;

export function registerKeyCommands(program: Command): void {
  registerList(program);
  registerRegenerate(program);
  registerDisable(program);
  registerEnable(program);
  registerExtend(program);
}

interface ListOptions {
  namespace?: string;
  environment?: string;
  type?: string;
  state?: string;
  search?: string;
  kubeconfig?: string;
  output: 'table' | 'json';
}

function registerList(program: Command): void {
  program
    .command('list')
    .description(
      'list ApiKeys, filtered by environment, type and state, searching key id, hint, description and sources',
    )
    .option('-n, --namespace <ns>', 'namespace (default: all namespaces)')
    .option('-e, --environment <env>', 'production, staging or development')
    .option('-t, --type <type>', 'public or private')
    .option('-s, --state <state>', 'Pending, Active, Inactive, Expired or Failed')
    .option('-q, --search <text>', 'text to find in key id, hint, description, name or allowed sources')
    .option('--kubeconfig <file>', 'kubeconfig file')
    .addOption(
      new Option('-o, --output <format>', 'table or json').choices(['table', 'json']).default('table'),
    )
    .action(async (o: ListOptions) => {
      const items = await listKeys(o);
      if (o.output === 'json') {
        process.stdout.write(`${JSON.stringify(items.map(summary), null, 2)}\n`);
        return;
      }
      if (items.length === 0) {
        process.stderr.write('No ApiKeys found.\n');
        return;
      }
      printTable(
        ['NAMESPACE', 'NAME', 'ENVIRONMENT', 'TYPE', 'STATE', 'KEY', 'EXPIRES', 'LAST USED', 'DESCRIPTION'],
        items
          .map(summary)
          .map((k) => [
            k.namespace,
            k.name,
            k.environment,
            k.type,
            k.state,
            k.keyHint ?? '-',
            ago(k.expiresAt),
            ago(k.lastUsedAt),
            (k.description ?? '').slice(0, 40),
          ]),
      );
    });
}

async function listKeys(o: ListOptions): Promise<LiveApiKey[]> {
  // Environment and type are read from the spec below (the labels of the same name come with the
  // controller's first reconcile, so a label selector would miss a key created a moment ago).
  const list = await client(o.kubeconfig).get<{ items: LiveApiKey[] }>(apiKeysPath(o.namespace), {
    labelSelector: o.state ? `${LABELS.state}=${o.state}` : undefined,
  });
  // The state label narrows the list on the server; the status is checked too (a label can lag it).
  return list.items.filter(
    (k) =>
      (!o.environment || k.spec.environment === o.environment) &&
      (!o.type || (k.spec.type ?? 'private') === o.type) &&
      (!o.state || k.status?.state === o.state) &&
      (!o.search || matchesSearch(k, o.search)),
  );
}

interface KeyOptions {
  namespace: string;
  kubeconfig?: string;
}

/** A command on one named ApiKey: `<name>`, `-n`, its own options, `--kubeconfig`. */
function keyCommand(program: Command, name: string, description: string, options: Option[] = []): Command {
  const command = program
    .command(name)
    .description(description)
    .argument('<name>', 'ApiKey name')
    .option('-n, --namespace <ns>', 'namespace', 'default');
  for (const option of options) command.addOption(option);
  return command.option('--kubeconfig <file>', 'kubeconfig file');
}

/** Reads the key and patches its spec with what `change` makes of it. */
async function changeKey(
  name: string,
  o: KeyOptions,
  change: (ak: LiveApiKey) => Record<string, unknown>,
): Promise<void> {
  const rest = client(o.kubeconfig);
  const ak = await getKey(rest, o.namespace, name);
  await patchKey(rest, ak, change(ak));
}

function registerRegenerate(program: Command): void {
  keyCommand(
    program,
    'regenerate',
    'mint a new secret for the key (same id and settings); reveal it afterwards',
    [
      durationTextOption(
        '--grace-period',
        'keep the old secret working this long, e.g. 1h; without it the old one stops at once',
      ),
    ],
  ).action(async (name: string, o: KeyOptions & { gracePeriod?: string }) => {
    let generation = 0;
    await changeKey(name, o, (ak) => {
      generation = (ak.spec.rotation?.generation ?? 0) + 1;
      return {
        rotation: {
          ...ak.spec.rotation,
          generation,
          ...(o.gracePeriod ? { gracePeriod: o.gracePeriod } : {}),
        },
      };
    });
    process.stdout.write(
      `ApiKey ${o.namespace}/${name}: regeneration ${generation} requested. Get the new key with: kubectl keywarden reveal ${name} -n ${o.namespace}\n`,
    );
  });
}

function registerDisable(program: Command): void {
  keyCommand(program, 'disable', 'cut the key off at once (401); the object and its history stay').action(
    async (name: string, o: KeyOptions) => {
      await changeKey(name, o, () => ({ disabled: true }));
      process.stdout.write(`ApiKey ${o.namespace}/${name} disabled.\n`);
    },
  );
}

type ExpiryOptions = KeyOptions & { expiresAt?: string; days?: string };

function registerEnable(program: Command): void {
  keyCommand(
    program,
    'enable',
    'bring a disabled key back; an expired one needs a new expiry (--expires-at or --days)',
    [
      new Option('--expires-at <time>', 'new expiry, RFC 3339, at most one year ahead'),
      new Option('--days <n>', 'new expiry this many days from now (capped at one year)'),
    ],
  ).action(async (name: string, o: ExpiryOptions) => {
    const expiresAt = o.expiresAt || o.days ? newExpiry(o.expiresAt, o.days) : undefined;
    await changeKey(name, o, () => ({ disabled: false, ...(expiresAt ? { expiresAt } : {}) }));
    process.stdout.write(`ApiKey ${o.namespace}/${name} enabled${expiresAt ? ` until ${expiresAt}` : ''}.\n`);
  });
}

function registerExtend(program: Command): void {
  keyCommand(
    program,
    'extend',
    'set a new expiry within the one-year cap (default: the latest allowed now)',
    [
      new Option('--expires-at <time>', 'new expiry, RFC 3339'),
      new Option('--days <n>', 'new expiry this many days from now'),
    ],
  ).action(async (name: string, o: ExpiryOptions) => {
    const expiresAt = newExpiry(o.expiresAt, o.days);
    await changeKey(name, o, () => ({ expiresAt }));
    process.stdout.write(`ApiKey ${o.namespace}/${name} now expires at ${expiresAt}.\n`);
  });
}

/** The expiry asked for; the webhook has the final word on the cap, this only fills the default. */
function newExpiry(expiresAt: string | undefined, days: string | undefined, now = new Date()): string {
  if (expiresAt) {
    const d = parseRfc3339(expiresAt);
    if (!d)
      throw new UsageError(`--expires-at ${expiresAt} is not an RFC 3339 time such as 2027-01-31T00:00:00Z`);
    return formatRfc3339(d);
  }
  const cap = latestAllowedExpiry(now);
  if (days === undefined) return formatRfc3339(cap);
  const n = Number(days);
  if (!Number.isInteger(n) || n < 1)
    throw new UsageError(`--days ${days} must be a whole number of days, 1 or more`);
  return formatRfc3339(new Date(Math.min(now.getTime() + n * 86_400_000, cap.getTime())));
}

function summary(k: LiveApiKey) {
  return {
    namespace: k.metadata.namespace,
    name: k.metadata.name,
    environment: k.spec.environment,
    type: k.spec.type ?? 'private',
    state: k.status?.state ?? 'Pending',
    keyId: k.status?.keyId,
    keyHint: k.status?.keyHint,
    expiresAt: k.status?.expiresAt ?? k.spec.expiresAt,
    lastUsedAt: k.status?.lastUsedAt,
    description: k.spec.description,
    permissions: k.spec.permissions ?? [],
    allowedSources: k.spec.allowedSources ?? [],
  };
}
