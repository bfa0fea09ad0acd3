import { APIKEY_PLURAL, GROUP, VERSION } from '../api/index.ts';
import { APP_LABELS, APP_NAME } from '../api/metadata.ts';
import { type MatchCondition, MUTATE_MATCH_CONDITIONS } from './match-conditions.ts';

// The Mutating/ValidatingWebhookConfiguration objects, built in one place for the tests, `keywarden dev`
// and the Helm chart. Only CREATE and UPDATE of the apikeys resource itself: `resources: [apikeys]` does
// not match apikeys/status, so the controller's status writes never go through the webhook. The
// mutating webhook carries matchConditions (src/webhook/match-conditions.ts): the API server skips it for
// an object it would not change; the validating webhook is called for every create and update.

export const MUTATE_PATH = '/apikeys/mutate';
export const VALIDATE_PATH = '/apikeys/validate';
const MUTATING_WEBHOOK_NAME = 'mutate.apikeys.keywarden.dev';
const VALIDATING_WEBHOOK_NAME = 'validate.apikeys.keywarden.dev';
const MAX_TIMEOUT_SECONDS = 5;

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: {
    key: string;
    operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
    values?: string[];
  }[];
}

/** Where the API server reaches the webhook: a URL for local runs, a Service in a cluster. */
export type WebhookTarget = { url: string } | { service: { namespace: string; name: string; port?: number } };

export interface WebhookConfigurationOptions {
  /** metadata.name of both objects. */
  name: string;
  target: WebhookTarget;
  /** PEM of the CA that signed the serving certificate; omit when it is patched in later or injected. */
  caBundlePem?: string;
  namespaceSelector?: LabelSelector;
  timeoutSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /**
   * Call the mutating webhook for every object, without matchConditions: the tests' reference
   * configuration and the bench's floor. Never for a real install (the chart always has them).
   */
  mutateEveryObject?: boolean;
}

interface ClientConfig {
  url?: string;
  service?: { namespace: string; name: string; port?: number; path: string };
  caBundle?: string;
}

export interface WebhookEntry {
  name: string;
  clientConfig: ClientConfig;
  rules: {
    apiGroups: string[];
    apiVersions: string[];
    operations: string[];
    resources: string[];
    scope: string;
  }[];
  admissionReviewVersions: string[];
  sideEffects: 'None';
  failurePolicy: 'Fail';
  matchPolicy: 'Equivalent';
  timeoutSeconds: number;
  namespaceSelector?: LabelSelector;
  reinvocationPolicy?: 'Never' | 'IfNeeded';
  matchConditions?: MatchCondition[];
}

export interface WebhookConfiguration {
  apiVersion: 'admissionregistration.k8s.io/v1';
  kind: 'MutatingWebhookConfiguration' | 'ValidatingWebhookConfiguration';
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  webhooks: WebhookEntry[];
}

function clientConfig(target: WebhookTarget, path: string, caBundlePem?: string): ClientConfig {
  const caBundle = caBundlePem ? Buffer.from(caBundlePem).toString('base64') : undefined;
  if ('url' in target) {
    return { url: target.url.replace(/\/$/, '') + path, ...(caBundle ? { caBundle } : {}) };
  }
  return { service: { ...target.service, path }, ...(caBundle ? { caBundle } : {}) };
}

function entry(name: string, path: string, opts: WebhookConfigurationOptions): WebhookEntry {
  const timeoutSeconds = opts.timeoutSeconds ?? MAX_TIMEOUT_SECONDS;
  if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 1 || timeoutSeconds > MAX_TIMEOUT_SECONDS) {
    throw new RangeError(
      `timeoutSeconds must be an integer from 1 to ${MAX_TIMEOUT_SECONDS}, got ${timeoutSeconds}`,
    );
  }
  return {
    name,
    clientConfig: clientConfig(opts.target, path, opts.caBundlePem),
    rules: [
      {
        apiGroups: [GROUP],
        apiVersions: [VERSION],
        operations: ['CREATE', 'UPDATE'],
        resources: [APIKEY_PLURAL],
        scope: 'Namespaced',
      },
    ],
    admissionReviewVersions: ['v1'],
    sideEffects: 'None',
    failurePolicy: 'Fail',
    matchPolicy: 'Equivalent',
    timeoutSeconds,
    ...(opts.namespaceSelector ? { namespaceSelector: opts.namespaceSelector } : {}),
  };
}

function metadata(opts: WebhookConfigurationOptions): WebhookConfiguration['metadata'] {
  return {
    name: opts.name,
    labels: {
      [APP_LABELS.name]: APP_NAME,
      [APP_LABELS.component]: 'webhook',
      ...opts.labels,
    },
    ...(opts.annotations ? { annotations: opts.annotations } : {}),
  };
}

export function buildWebhookConfigurations(opts: WebhookConfigurationOptions): {
  mutating: WebhookConfiguration;
  validating: WebhookConfiguration;
} {
  return {
    mutating: {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'MutatingWebhookConfiguration',
      metadata: metadata(opts),
      webhooks: [
        {
          ...entry(MUTATING_WEBHOOK_NAME, MUTATE_PATH, opts),
          reinvocationPolicy: 'Never',
          ...(opts.mutateEveryObject
            ? {}
            : { matchConditions: MUTATE_MATCH_CONDITIONS.map((c) => ({ ...c })) }),
        },
      ],
    },
    validating: {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingWebhookConfiguration',
      metadata: metadata(opts),
      webhooks: [entry(VALIDATING_WEBHOOK_NAME, VALIDATE_PATH, opts)],
    },
  };
}
