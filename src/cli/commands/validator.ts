import { hostname } from 'node:os';
import { type Command, Option } from 'commander';
import { stringify } from 'yaml';
import { LABELS, MANAGED_BY } from '../../api/metadata.ts';
import { createAuditSink, parseAuditSettings, registerAuditMetrics } from '../../audit/index.ts';
import { loadKubeConfig } from '../../kube/config.ts';
import { KubeRest } from '../../kube/rest.ts';
import { createLogger } from '../../observability/logger.ts';
import { formatProblem, KeywardenError, UsageError } from '../../rules/index.ts';
import { releasing } from '../../runtime/component.ts';
import { Runner } from '../../runtime/runner.ts';
import { DEFAULT_SIGNING_KEY_FIELD, loadConfigFile } from '../../validator/config/load.ts';
import type { ValidatorConfig } from '../../validator/config/types.ts';
import { generateSigningKeyPem } from '../../validator/identity/signer.ts';
import { Validator } from '../../validator/server.ts';
import { portOption } from '../options.ts';

export function registerValidator(program: Command): void {
  const validator = program
    .command('validator')
    .description(
      'run the validator sidecar: forward auth (/authz/nginx, /authz/traefik, /authz/envoy/...), reverse proxy and POST /v1/keys/verify',
    )
    .option('--config <file>', 'validator configuration (YAML; see docs/validator.md); required')
    .option('--kubeconfig <file>', 'kubeconfig file (default: KUBECONFIG, ~/.kube/config or in-cluster)')
    .option('--port <port>', 'main port, overrides server.port (0: any free port)', portOption)
    .option(
      '--admin-port <port>',
      '/healthz, /readyz and /metrics port, overrides server.adminPort',
      portOption,
    )
    .option('--host <address>', 'address to listen on, overrides server.host')
    .option(
      '--internal-port <port>',
      'forward auth and verify port in reverse-proxy mode, overrides server.internalPort',
      portOption,
    )
    .option(
      '--check',
      'check the configuration file and exit: 0 fine, 1 valid but with warnings (a hole re-opened), 2 problems',
    )
    .action(runValidator);

  validator
    .command('signing-key')
    .description('print a Secret manifest holding a new JWT signing key (apply it with kubectl apply -f -)')
    .requiredOption('--name <name>', 'Secret name')
    .requiredOption(
      '-n, --namespace <ns>',
      'Secret namespace (the validator needs get/list/watch on this one Secret)',
    )
    .addOption(
      new Option('--algorithm <alg>', 'EdDSA (Ed25519) or ES256 (P-256)')
        .choices(['EdDSA', 'ES256'])
        .default('EdDSA'),
    )
    .action((o) => {
      const manifest = {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: {
          name: o.name,
          namespace: o.namespace,
          labels: { [LABELS.managedBy]: MANAGED_BY },
        },
        type: 'Opaque',
        stringData: { [DEFAULT_SIGNING_KEY_FIELD]: generateSigningKeyPem(o.algorithm) },
      };
      process.stdout.write(stringify(manifest));
    });
}

function definedOnly<T extends Record<string, unknown>>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

interface ValidatorFlags {
  config?: string;
  kubeconfig?: string;
  port?: number;
  adminPort?: number;
  host?: string;
  internalPort?: number;
  check?: boolean;
}

/** Loads the configuration; with --check, says what it found and ends (undefined). */
function loadChecked(o: ValidatorFlags): { config: ValidatorConfig; warnings: string[] } | undefined {
  const file = o.config;
  if (!file) throw new UsageError('--config <file> is required (see examples/validator-config.yaml)');
  const result = loadConfigFile(file);
  if (!result.ok) {
    throw new UsageError(
      `the configuration has ${result.problems.length} problem(s):\n${result.problems.map((p) => `  ${formatProblem(file, p)}`).join('\n')}`,
    );
  }
  const warnings = result.warnings.map((p) => formatProblem(file, p));
  if (o.check) {
    if (warnings.length === 0) {
      process.stdout.write(`${file}: ok\n`);
      return undefined;
    }
    throw new KeywardenError(
      'failure',
      `the configuration is valid but has ${warnings.length} warning(s):\n${warnings.map((w) => `  warning: ${w}`).join('\n')}`,
    );
  }
  return { config: result.value, warnings };
}

async function runValidator(o: ValidatorFlags): Promise<void> {
  const loaded = loadChecked(o);
  if (!loaded) return;
  const { config, warnings } = loaded;
  const log = createLogger('validator');
  for (const w of warnings)
    log.warn({ warning: w }, 'configuration warning (see keywarden validator --check)');
  const audit = config.audit
    ? await createAuditSink(
        parseAuditSettings(config.audit, `validator/${process.env.POD_NAME ?? hostname()}_${process.pid}`),
        log,
      )
    : undefined;
  // The flags override the file's server section.
  const server = {
    ...config.server,
    ...definedOnly({ port: o.port, adminPort: o.adminPort, host: o.host, internalPort: o.internalPort }),
  };
  const validator = new Validator(
    { ...config, server },
    {
      rest: new KubeRest(loadKubeConfig(o.kubeconfig)),
      log,
      ...(audit ? { audit } : {}),
    },
  );
  if (audit) registerAuditMetrics(validator.metrics.registry, audit);
  const runner = new Runner({
    name: 'validator',
    components: [...(audit ? [releasing('audit trail', () => audit.close())] : []), validator],
    log,
    admin: { port: server.adminPort, host: server.host },
  });
  const code = await runner.run(() =>
    log.info(
      {
        port: validator.port,
        adminPort: runner.adminPort,
        internalPort: validator.internalPort || undefined,
        environment: config.environment,
        upstream: config.upstream?.url,
      },
      'validator listening',
    ),
  );
  process.exit(code);
}
