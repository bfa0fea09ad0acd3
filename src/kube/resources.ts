import type { ResourceRef } from './informer.ts';

// The Kubernetes built-in resources keywarden reads and writes, one descriptor each: rest.ts
// resourcePath builds every path from them and the informers watch them. keywarden's own resources
// (ApiKey, ApiKeyPolicy) are in src/api, beside their types.

export const SECRETS = { group: '', version: 'v1', plural: 'secrets' } as const satisfies ResourceRef;
export const CONFIGMAPS = { group: '', version: 'v1', plural: 'configmaps' } as const satisfies ResourceRef;
export const LEASES = {
  group: 'coordination.k8s.io',
  version: 'v1',
  plural: 'leases',
} as const satisfies ResourceRef;
export const EVENTS = {
  group: 'events.k8s.io',
  version: 'v1',
  plural: 'events',
} as const satisfies ResourceRef;
export const SUBJECT_ACCESS_REVIEWS = {
  group: 'authorization.k8s.io',
  version: 'v1',
  plural: 'subjectaccessreviews',
} as const satisfies ResourceRef;
export const MUTATING_WEBHOOK_CONFIGURATIONS = {
  group: 'admissionregistration.k8s.io',
  version: 'v1',
  plural: 'mutatingwebhookconfigurations',
} as const satisfies ResourceRef;
export const VALIDATING_WEBHOOK_CONFIGURATIONS = {
  group: 'admissionregistration.k8s.io',
  version: 'v1',
  plural: 'validatingwebhookconfigurations',
} as const satisfies ResourceRef;
