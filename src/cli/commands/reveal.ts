import type { Command } from 'commander';
import { deliverySecretName } from '../../api/hash-record.ts';
import { readStaged, type SecretObject, secretsPath } from '../../controller/delivery.ts';
import { DEFAULT_OPTIONS } from '../../controller/options.ts';
import { loadKubeConfig } from '../../kube/config.ts';
import { isConflict, isNotFound, KubeRest } from '../../kube/rest.ts';
import { CliError } from '../errors.ts';
import { EXIT } from '../exit-codes.ts';

/**
 * Prints the one-time copy of a key and destroys it. The copy is deleted FIRST, with its
 * resourceVersion as a precondition, and printed only if that delete succeeded: of two readers racing,
 * exactly one gets the key.
 */
export async function revealKey(
  rest: KubeRest,
  operatorNamespace: string,
  namespace: string,
  name: string,
): Promise<string> {
  const secretName = deliverySecretName(namespace, name);
  const already =
    `The key of ApiKey ${namespace}/${name} was already revealed, or its one-time copy expired. ` +
    `To get a new key, regenerate it: kubectl keywarden regenerate ${name} -n ${namespace}`;
  let secret: SecretObject;
  try {
    secret = await rest.get<SecretObject>(secretsPath(operatorNamespace, secretName));
  } catch (err) {
    if (isNotFound(err)) throw new CliError(already, EXIT.alreadyRevealed);
    throw err;
  }
  const staged = readStaged(secret);
  if (!staged?.plaintext) {
    throw new CliError(
      `ApiKey ${namespace}/${name} has no revealable copy (it was sealed for a recipient: see status.delivery.jwe)`,
      EXIT.notFound,
    );
  }
  // Hand out only a key whose hash is live: the controller writes the copy before the hash, and a copy
  // revealed in between would be a key that never works.
  const apiKey = await rest.get<{ status?: { keyId?: string; rotationGeneration?: number } }>(
    `/apis/keywarden.dev/v1alpha1/namespaces/${encodeURIComponent(namespace)}/apikeys/${encodeURIComponent(name)}`,
  );
  if (
    apiKey.status?.keyId !== staged.keyId ||
    (apiKey.status.rotationGeneration ?? 0) !== staged.generation
  ) {
    throw new CliError(
      `The key of ApiKey ${namespace}/${name} is still being minted; try again in a few seconds.`,
      EXIT.failure,
    );
  }
  try {
    await rest.delete(secretsPath(operatorNamespace, secretName), {
      apiVersion: 'v1',
      kind: 'DeleteOptions',
      preconditions: { uid: secret.metadata.uid, resourceVersion: secret.metadata.resourceVersion },
    });
  } catch (err) {
    if (isNotFound(err) || isConflict(err)) throw new CliError(already, EXIT.alreadyRevealed);
    throw err;
  }
  return staged.plaintext;
}

export function registerReveal(program: Command): void {
  program
    .command('reveal')
    .description("print an ApiKey's key once and destroy the only copy")
    .argument('<name>', 'ApiKey name')
    .option('-n, --namespace <ns>', 'namespace of the ApiKey', 'default')
    .option('--kubeconfig <file>', 'kubeconfig file')
    .option(
      '--operator-namespace <ns>',
      'namespace keywarden runs in',
      process.env.KEYWARDEN_NAMESPACE ?? DEFAULT_OPTIONS.operatorNamespace,
    )
    .action(
      async (name: string, o: { namespace: string; kubeconfig?: string; operatorNamespace: string }) => {
        const rest = new KubeRest(loadKubeConfig(o.kubeconfig));
        const key = await revealKey(rest, o.operatorNamespace, o.namespace, name);
        process.stdout.write(`${key}\n`);
      },
    );
}
