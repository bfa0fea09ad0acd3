import { BUILT_IN_POLICY, type EffectivePolicy } from '../../../src/api/policy.ts';
import type { Operation } from '../../../src/kube/admission/review.ts';

export const NOW = new Date('2026-11-23T15:04:05Z');

export const POLICY: EffectivePolicy = {
  ...BUILT_IN_POLICY,
  fromObject: true,
  strictCatalogue: true,
  maxGracePeriod: '24h',
  expiringSoonDays: 14,
  permissions: [
    { name: 'sessions:create', publicSafe: true },
    { name: 'tickets:create', publicSafe: true },
    { name: 'tickets:read' },
    { name: 'devices:*' },
  ],
  requireAllowedSources: [{ environment: 'production', type: 'private' }],
};

export interface KeyInit {
  name?: string;
  namespace?: string;
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
  labels?: Record<string, string>;
}

export function apiKey(init: KeyInit = {}): Record<string, unknown> {
  return {
    apiVersion: 'keywarden.dev/v1alpha1',
    kind: 'ApiKey',
    metadata: {
      name: init.name ?? 'k',
      namespace: init.namespace ?? 'team',
      ...(init.labels ? { labels: init.labels } : {}),
    },
    spec: { environment: 'staging', type: 'private', ...init.spec },
    ...(init.status ? { status: init.status } : {}),
  };
}

export function review(
  operation: Operation,
  object?: unknown,
  oldObject?: unknown,
  extra: Record<string, unknown> = {},
) {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
      kind: { group: 'keywarden.dev', version: 'v1alpha1', kind: 'ApiKey' },
      resource: { group: 'keywarden.dev', version: 'v1alpha1', resource: 'apikeys' },
      name: 'k',
      namespace: 'team',
      operation,
      userInfo: { username: 'admin' },
      ...(object !== undefined ? { object } : {}),
      ...(oldObject !== undefined ? { oldObject } : {}),
      dryRun: false,
      ...extra,
    },
  };
}

export const inDays = (days: number, from = NOW) =>
  new Date(from.getTime() + days * 86_400_000).toISOString().replace(/\.000Z$/, 'Z');
