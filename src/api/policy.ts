import type { ApiKeyPolicySpec } from './index.ts';

/** The policy as every part applies it: the ApiKeyPolicy named default, with built-in defaults filled in. */
export interface EffectivePolicy {
  maxLifetimeDays: number;
  defaultLifetimeDays: number;
  expiringSoonDays: number;
  maxGracePeriod: string;
  strictCatalogue: boolean;
  permissions: { name: string; publicSafe?: boolean; description?: string }[];
  requireAllowedSources: { environment: string; type: string }[];
  /** Where spec.delivery.secretRef may write; undefined: any namespace the requester may write (see rules/secret-ref.ts). */
  consumerSecretNamespaces: string[] | undefined;
  /** Whether an ApiKeyPolicy object exists (false: built-in defaults only). */
  fromObject: boolean;
}

// Without a policy: one year maximum and default, nothing public-safe, no catalogue.
export const BUILT_IN_POLICY: EffectivePolicy = {
  maxLifetimeDays: 366,
  defaultLifetimeDays: 366,
  expiringSoonDays: 14,
  maxGracePeriod: '24h',
  strictCatalogue: false,
  permissions: [],
  requireAllowedSources: [],
  consumerSecretNamespaces: undefined,
  fromObject: false,
};

export function effectivePolicy(spec: ApiKeyPolicySpec | undefined): EffectivePolicy {
  if (!spec) return BUILT_IN_POLICY;
  return {
    maxLifetimeDays: spec.maxLifetimeDays ?? BUILT_IN_POLICY.maxLifetimeDays,
    defaultLifetimeDays: spec.defaultLifetimeDays ?? Math.min(spec.maxLifetimeDays ?? 366, 366),
    expiringSoonDays: spec.expiringSoonDays ?? BUILT_IN_POLICY.expiringSoonDays,
    maxGracePeriod: spec.maxGracePeriod ?? BUILT_IN_POLICY.maxGracePeriod,
    strictCatalogue: spec.strictCatalogue ?? false,
    permissions: spec.permissions ?? [],
    requireAllowedSources: spec.requireAllowedSources ?? [],
    consumerSecretNamespaces: spec.consumerSecretNamespaces,
    fromObject: true,
  };
}
