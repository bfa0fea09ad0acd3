import type { ApiKeySpec } from '../../../src/api/index.ts';
import type { KubeRest } from '../../../src/kube/rest.ts';
import { ensureNamespace, OPERATOR_NS } from '../kube/apikeys.ts';
import { applyCrds } from '../kube/kubectl.ts';
import { type KeywardenProcess, startControllerProcess } from '../processes/keywarden-process.ts';
import { mintKey } from './cluster.ts';

// The real controller for one namespace, and keys it minted and revealed, for attacks on validators
// that the tests start themselves (test/support/validator/cluster.ts starts them as the integration tests do).

export interface KeyedNamespace {
  ns: string;
  controller: KeywardenProcess;
  /** Creates an ApiKey, waits until it is Active and returns its plaintext (revealed once). */
  mint(name: string, spec: Partial<ApiKeySpec>): Promise<string>;
  stop(): Promise<void>;
}

export async function keyedNamespace(rest: KubeRest, ns: string): Promise<KeyedNamespace> {
  await applyCrds();
  await ensureNamespace(rest, OPERATOR_NS);
  await ensureNamespace(rest, ns);
  const controller = startControllerProcess(ns, ['--lease-name', `adv-${ns}`]);
  try {
    await controller.waitForLog('controller started');
    await controller.waitForLog('became leader');
  } catch (err) {
    await controller.stop();
    throw err;
  }
  return {
    ns,
    controller,
    mint: (name, spec) => mintKey(rest, ns, name, spec),
    stop: async () => {
      await controller.stop();
    },
  };
}
