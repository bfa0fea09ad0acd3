import { hostname } from 'node:os';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { stringify } from 'yaml';
import { LABELS, MANAGED_BY } from '../../api/metadata.ts';
import { createAuditSink, parseAuditSettings, registerAuditMetrics } from '../../audit/index.ts';
import { loadKubeConfig } from '../../kube/config.ts';
import { KubeRest } from '../../kube/rest.ts';
import { createLogger } from '../../observability/logger.ts';
import { formatProblem, KeywardenError, UsageError } from '../../rules/index.ts';
import { DEFAULT_SIGNING_KEY_FIELD, loadConfigFile } from '../../validator/config/load.ts';
import { generateSigningKeyPem } from '../../validator/identity/signer.ts';
import { Validator } from '../../validator/server.ts';

function portOption(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError(`${value} is not a port (0-65535)`);
  return n;
}

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
    .action(async (o) => {
      if (!o.config) throw new UsageError('--config <file> is required (see examples/validator-config.yaml)');
      const result = loadConfigFile(o.config);
      if (!result.ok) {
        throw new UsageError(
          `the configuration has ${result.problems.length} problem(s):\n${result.problems.map((p) => `  ${formatProblem(o.config, p)}`).join('\n')}`,
        );
      }
      const warnings = result.warnings.map((p) => formatProblem(o.config, p));
      if (o.check) {
        if (warnings.length === 0) {
          process.stdout.write(`${o.config}: ok\n`);
          return;
        }
        throw new KeywardenError(
          'failure',
          `the configuration is valid but has ${warnings.length} warning(s):\n${warnings.map((w) => `  warning: ${w}`).join('\n')}`,
        );
      }
      const log = createLogger('validator');
      for (const w of warnings)
        log.warn({ warning: w }, 'configuration warning (see keywarden validator --check)');
      const audit = result.value.audit
        ? await createAuditSink(
            parseAuditSettings(
              result.value.audit,
              `validator/${process.env.POD_NAME ?? hostname()}_${process.pid}`,
            ),
            log,
          )
        : undefined;
      const validator = new Validator(result.value, {
        rest: new KubeRest(loadKubeConfig(o.kubeconfig)),
        log,
        ...(audit ? { audit } : {}),
      });
      if (audit) registerAuditMetrics(validator.metrics.registry, audit);
      await validator.start({
        port: o.port,
        adminPort: o.adminPort,
        host: o.host,
        internalPort: o.internalPort,
      });
      log.info(
        {
          port: validator.port,
          adminPort: validator.adminPort,
          internalPort: validator.internalPort || undefined,
          environment: result.value.environment,
          upstream: result.value.upstream?.url,
        },
        'validator listening',
      );
      const shutdown = async (signal: string) => {
        log.info({ signal }, 'shutting down: draining in-flight requests');
        await validator.shutdown();
        await audit?.close();
        log.info('validator stopped');
        process.exit(0);
      };
      process.once('SIGTERM', () => void shutdown('SIGTERM'));
      process.once('SIGINT', () => void shutdown('SIGINT'));
    });

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
