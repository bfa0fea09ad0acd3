import type { ApiKey, ApiKeyPolicy } from './types.generated.ts';

export type { ApiKey, ApiKeyPolicy } from './types.generated.ts';
export type ApiKeySpec = ApiKey['spec'];
export type ApiKeyStatus = NonNullable<ApiKey['status']>;
export type ApiKeyState = NonNullable<ApiKeyStatus['state']>;
export type ApiKeyCondition = NonNullable<ApiKeyStatus['conditions']>[number];
export type ApiKeyPolicySpec = ApiKeyPolicy['spec'];

export const GROUP = 'keywarden.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const APIKEY_PLURAL = 'apikeys';
const POLICY_PLURAL = 'apikeypolicies';
/** The two resources as REST descriptors (kube/rest.ts resourcePath builds their paths). */
export const APIKEY_RESOURCE = { group: GROUP, version: VERSION, plural: APIKEY_PLURAL } as const;
export const POLICY_RESOURCE = { group: GROUP, version: VERSION, plural: POLICY_PLURAL } as const;
export const POLICY_NAME = 'default';
