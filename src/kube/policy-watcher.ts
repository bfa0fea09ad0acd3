import { type ApiKeyPolicy, POLICY_NAME, POLICY_RESOURCE } from '../api/index.ts';
import { type EffectivePolicy, effectivePolicy } from '../api/policy.ts';
import { Informer, type KubeObject } from './informer.ts';
import type { KubeRest } from './rest.ts';

type PolicyObject = ApiKeyPolicy & KubeObject;

/** The cluster's ApiKeyPolicy, watched and cached; built-in defaults while there is none. */
export class PolicyWatcher {
  readonly informer: Informer<PolicyObject>;

  constructor(rest: KubeRest, onError?: (err: unknown, attempt: number) => void) {
    this.informer = new Informer<PolicyObject>(rest, {
      resource: POLICY_RESOURCE,
      fieldSelector: `metadata.name=${POLICY_NAME}`,
      onError,
    });
  }

  start(): void {
    this.informer.start();
  }

  stop(): void {
    this.informer.stop();
  }

  get current(): EffectivePolicy {
    return effectivePolicy(this.informer.get(POLICY_NAME)?.spec);
  }
}
