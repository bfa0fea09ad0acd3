import type { InjectionSettings, InjectorConfig } from '../../../src/injector/index.ts';
import { INJECTOR_DEFAULTS } from '../../../src/injector/index.ts';
import type { JsonPatchOp } from '../../../src/kube/admission/review.ts';

export const CONFIG: InjectorConfig = { ...INJECTOR_DEFAULTS, image: 'ghcr.io/keywarden/keywarden:0.1.0' };

export const ROUTES_YAML = `routes:
  - path: /v1/sessions
    methods: [POST]
    permission: sessions:create
  - path: /v1/devices/**
    methods: [GET]
    permission: devices:read
`;

/** What a pod's keywarden.dev/* annotations resolve to (staging, routes from ConfigMap r). */
export const POD_SETTINGS: InjectionSettings = {
  environment: 'staging',
  upstreamPort: 3000,
  routesConfigMap: 'r',
  routesKey: 'routes.yaml',
  port: 8180,
  adminPort: 9180,
  keyNamespaces: ['web'],
  trustedProxies: [],
  unmappedRoutes: 'deny',
  image: 'x',
  resources: {},
};

type Json = Record<string, unknown>;

/** A pod as a Deployment's ReplicaSet sends it: generateName, no namespace of its own. */
export function pod(annotations: Record<string, string>, extra: { spec?: Json; labels?: Json } = {}): Json {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: 'payments-api-7d9f-',
      labels: extra.labels ?? { app: 'payments-api' },
      annotations,
    },
    spec: {
      serviceAccountName: 'payments-api',
      containers: [
        {
          name: 'app',
          image: 'example/payments-api:1',
          ports: [{ name: 'http', containerPort: 3000 }],
        },
      ],
      ...extra.spec,
    },
  };
}

export const INJECT = {
  'keywarden.dev/inject': 'true',
  'keywarden.dev/environment': 'production',
  'keywarden.dev/upstream-port': '3000',
  'keywarden.dev/routes-configmap': 'payments-routes',
};

function unescapeSegment(s: string): string {
  return s.replace(/~1/g, '/').replace(/~0/g, '~');
}

/** RFC 6902 `add`, the only op the injector emits (enough for the tests; refuses anything else). */
export function applyPatch<T>(doc: T, ops: JsonPatchOp[]): T {
  const out = structuredClone(doc) as unknown;
  for (const op of ops) {
    if (op.op !== 'add') throw new Error(`unexpected op ${op.op}`);
    const parts = op.path.split('/').slice(1).map(unescapeSegment);
    const last = parts.pop();
    if (last === undefined) throw new Error('cannot add at the root');
    let node = out as Record<string, unknown> | unknown[];
    for (const p of parts) {
      const next = Array.isArray(node) ? node[Number(p)] : node[p];
      if (typeof next !== 'object' || next === null) throw new Error(`path ${op.path}: ${p} does not exist`);
      node = next as Record<string, unknown> | unknown[];
    }
    if (Array.isArray(node)) {
      if (last === '-') node.push(structuredClone(op.value));
      else node.splice(Number(last), 0, structuredClone(op.value));
    } else {
      node[last] = structuredClone(op.value);
    }
  }
  return out as T;
}

/** The kind and resource of a pod in an AdmissionReview request. */
export const POD_KIND = {
  kind: { group: '', version: 'v1', kind: 'Pod' },
  resource: { group: '', version: 'v1', resource: 'pods' },
};

/** An AdmissionReview for a pod CREATE in namespace payments, as the API server sends it (a string). */
export function podReview(object: unknown, over: Record<string, unknown> = {}): string {
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: { uid: 'u-1', ...POD_KIND, namespace: 'payments', operation: 'CREATE', object, ...over },
  });
}
