import { type Command, Option } from 'commander';
import { type InjectorConfig, loadInjectorConfigFile } from '../../injector/index.ts';
import { loadKubeConfig } from '../../kube/config.ts';
import { KubeRest } from '../../kube/rest.ts';
import { createLogger } from '../../observability/logger.ts';
import { formatProblem, UsageError } from '../../rules/index.ts';
import { Runner } from '../../runtime/runner.ts';
import { WEBHOOK_DEFAULTS as D, serviceDnsNames, type TlsOptions } from '../../webhook/options.ts';
import { AdmissionWebhook } from '../../webhook/webhook.ts';
import {
  type AdminPortFlags,
  adminPortOf,
  adminPortOption,
  DURATION_HELP,
  durationOption,
  healthPortAlias,
  parseIntOption,
} from '../options.ts';

const list = (value: string): string[] =>
  value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

interface WebhookFlags extends AdminPortFlags {
  kubeconfig?: string;
  host: string;
  port: number;
  maxBodyBytes: number;
  tlsMode: 'bootstrap' | 'files';
  tlsCertFile?: string;
  tlsKeyFile?: string;
  tlsReloadInterval: number;
  namespace: string;
  tlsSecret: string;
  serviceName: string;
  dnsNames?: string[];
  ipAddresses: string[];
  certValidity: number;
  certRenewBefore: number;
  caValidity: number;
  mutatingConfiguration: string[];
  validatingConfiguration: string[];
  injectorConfig?: string;
}

function tlsOptions(o: WebhookFlags): TlsOptions {
  if (o.tlsMode === 'files') {
    if (!o.tlsCertFile || !o.tlsKeyFile) {
      throw new UsageError('--tls-mode=files needs --tls-cert-file and --tls-key-file');
    }
    return {
      mode: 'files',
      certFile: o.tlsCertFile,
      keyFile: o.tlsKeyFile,
      reloadIntervalMs: o.tlsReloadInterval,
    };
  }
  if (o.certRenewBefore >= o.certValidity) {
    throw new UsageError('--cert-renew-before must be shorter than --cert-validity');
  }
  return {
    mode: 'bootstrap',
    namespace: o.namespace,
    secretName: o.tlsSecret,
    dnsNames: o.dnsNames ?? serviceDnsNames(o.serviceName, o.namespace),
    ipAddresses: o.ipAddresses,
    certValidityMs: o.certValidity,
    renewBeforeMs: o.certRenewBefore,
    caValidityMs: o.caValidity,
    mutatingConfigurations: o.mutatingConfiguration,
    validatingConfigurations: o.validatingConfiguration,
  };
}

export function registerWebhook(program: Command): void {
  const webhook = program
    .command('webhook')
    .description('run the ApiKey admission webhook (defaults, the one-year cap, the key policy) over HTTPS')
    .option('--kubeconfig <file>', 'kubeconfig file (default: KUBECONFIG, ~/.kube/config or in-cluster)')
    .option('--host <address>', 'address to listen on', D.host)
    .option('--port <port>', 'HTTPS port for AdmissionReviews', parseIntOption, D.port)
    .addOption(adminPortOption(D.adminPort))
    .addOption(healthPortAlias())
    .option('--max-body-bytes <n>', 'largest AdmissionReview accepted', parseIntOption, D.maxBodyBytes)
    .option(
      '--namespace <ns>',
      'operator namespace (bootstrap Secret; never a place for consumer Secrets)',
      process.env.POD_NAMESPACE ?? D.namespace,
    )
    .option(
      '--injector-config <file>',
      'pod injection: injector settings; without it /pods/inject is not served',
    );
  addTlsFlags(webhook);
  webhook.addHelpText('after', DURATION_HELP).action(runWebhook);
}

/** How the serving certificate is had: --tls-mode and the flags of each mode. */
function addTlsFlags(command: Command): void {
  command
    .addOption(
      new Option('--tls-mode <mode>', 'bootstrap: own CA in a Secret; files: cert-manager mounted files')
        .choices(['bootstrap', 'files'])
        .default('bootstrap'),
    )
    .option('--tls-cert-file <file>', 'files mode: serving certificate (PEM, reloaded on change)')
    .option('--tls-key-file <file>', 'files mode: its private key (PEM)')
    .addOption(
      durationOption(
        '--tls-reload-interval',
        'files mode: how often to look for new files',
        D.reloadIntervalMs,
      ),
    )
    .option(
      '--tls-secret <name>',
      'bootstrap mode: Secret holding the CA and serving certificate',
      D.secretName,
    )
    .option(
      '--service-name <name>',
      'bootstrap mode: Service in front of the webhook (gives the default DNS names)',
      D.serviceName,
    )
    .option(
      '--dns-names <list>',
      'bootstrap mode: DNS names for the certificate (default: the Service names)',
      list,
    )
    .option(
      '--ip-addresses <list>',
      'bootstrap mode: IP addresses for the certificate, e.g. 127.0.0.1',
      list,
      [],
    )
    .addOption(
      durationOption('--cert-validity', 'bootstrap mode: serving certificate lifetime', D.certValidityMs),
    )
    .addOption(
      durationOption('--cert-renew-before', 'bootstrap mode: renew this long before expiry', D.renewBeforeMs),
    )
    .addOption(durationOption('--ca-validity', 'bootstrap mode: CA lifetime', D.caValidityMs))
    .option(
      '--mutating-configuration <names>',
      'bootstrap mode: MutatingWebhookConfigurations to patch caBundle into',
      list,
      [],
    )
    .option(
      '--validating-configuration <names>',
      'bootstrap mode: ValidatingWebhookConfigurations to patch caBundle into',
      list,
      [],
    );
}

async function runWebhook(o: WebhookFlags): Promise<void> {
  if (!Number.isInteger(o.maxBodyBytes) || o.maxBodyBytes < 1024) {
    throw new UsageError('--max-body-bytes must be at least 1024');
  }
  const tls = tlsOptions(o);
  const injector = injectorConfig(o.injectorConfig);
  const log = createLogger('webhook');
  const webhook = new AdmissionWebhook(
    new KubeRest(loadKubeConfig(o.kubeconfig)),
    {
      host: o.host,
      port: o.port,
      maxBodyBytes: o.maxBodyBytes,
      policySyncTimeoutMs: D.policySyncTimeoutMs,
      operatorNamespace: o.namespace,
      tls,
      injector,
    },
    log,
  );
  const runner = new Runner({
    name: 'webhook',
    components: [webhook],
    log,
    admin: { port: adminPortOf(o, D.adminPort) },
  });
  const code = await runner.run(() =>
    log.info({ port: webhook.port, adminPort: runner.adminPort, tlsMode: o.tlsMode }, 'webhook started'),
  );
  process.exit(code);
}

function injectorConfig(file: string | undefined): InjectorConfig | undefined {
  if (!file) return undefined;
  const loaded = loadInjectorConfigFile(file);
  if (!loaded.ok) throw new UsageError(loaded.problems.map((p) => formatProblem(file, p)).join('\n'));
  return loaded.value;
}
