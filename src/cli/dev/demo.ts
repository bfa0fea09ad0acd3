import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { RECORD_KEYS_CONFIGMAP } from '../../api/hash-record.ts';
import { POD_ANNOTATIONS } from '../../api/metadata.ts';

// The demo that `keywarden dev` shows and the e2e suite tests: one copy of its names and manifests.

export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
export const CHART_DIR = `${REPO}charts/keywarden`;
/** Helm values for a node that has the locally built images. */
const LOCAL_NODE_VALUES = `${REPO}examples/values-local-node.yaml`;
export const OPERATOR_NS = 'keywarden-system';
export const DEMO_NS = 'demo';
export const RELEASE = 'keywarden';
/** Image names: the same on the local node (imported archives) and on kind (loaded by the script). */
export const IMAGES = {
  app: 'localhost/keywarden:dev',
  base: 'docker.io/library/node:24.21.0-bookworm-slim',
  nginx: 'localhost/keywarden-e2e-nginx:bookworm',
};
/** The demo API's source: run on the host in process mode, from a ConfigMap in a pod otherwise. */
export const DEMO_API_SERVER = fileURLToPath(new URL('./demo-api-server.cjs', import.meta.url));

/** The routes every demo validator enforces: those of examples/validator-config.yaml. */
export function demoRoutes(): object[] {
  return parse(readFileSync(`${REPO}examples/validator-config.yaml`, 'utf8')).routes;
}

const restricted = {
  runAsUser: 1000,
  runAsGroup: 1000,
  runAsNonRoot: true,
  readOnlyRootFilesystem: true,
  allowPrivilegeEscalation: false,
  capabilities: { drop: ['ALL'] },
};

const configMap = (name: string, data: Record<string, string>) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name },
  data,
});

/** One replica of `podSpec`, its pods labelled app=<name>. */
const deployment = (name: string, podSpec: object, annotations: Record<string, string> = {}) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name },
  spec: {
    replicas: 1,
    selector: { matchLabels: { app: name } },
    template: { metadata: { labels: { app: name }, annotations }, spec: podSpec },
  },
});

const service = (name: string, port: number, targetPort: string, type = 'ClusterIP') => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name },
  spec: { type, selector: { app: name }, ports: [{ name: 'http', port, targetPort }] },
});

/**
 * The demo API: a Deployment annotated for injection (a validator of `environment` in front of it)
 * and a NodePort Service at the validator's port.
 */
export function demoApiManifests(environment: string): object[] {
  return [
    configMap('demo-api-routes', { 'routes.yaml': stringify({ routes: demoRoutes() }) }),
    configMap('demo-api-server', { 'server.cjs': readFileSync(DEMO_API_SERVER, 'utf8') }),
    deployment(
      'demo-api',
      {
        // The app gets no API token: its sidecar reads hash Secrets with the chart's validator token
        // Secret, mounted into the sidecar only.
        automountServiceAccountToken: false,
        containers: [
          {
            name: 'api',
            image: IMAGES.base,
            imagePullPolicy: 'Never',
            command: ['node', '/srv/server.cjs'],
            ports: [{ name: 'http', containerPort: 3000 }],
            securityContext: restricted,
            volumeMounts: [{ name: 'server', mountPath: '/srv', readOnly: true }],
          },
        ],
        volumes: [{ name: 'server', configMap: { name: 'demo-api-server' } }],
      },
      {
        [POD_ANNOTATIONS.inject]: 'true',
        [POD_ANNOTATIONS.environment]: environment,
        [POD_ANNOTATIONS.upstreamPort]: 'http',
        [POD_ANNOTATIONS.routesConfigMap]: 'demo-api-routes',
      },
    ),
    // Traffic goes to the validator's port only: a pod without the sidecar gets none.
    service('demo-api', 80, 'keywarden', 'NodePort'),
  ];
}

/**
 * A standalone validator for forward auth (no upstream: /authz/nginx on its port), as docs/validator.md
 * describes for ingresses: its own Deployment and Service, running as the chart's keywarden-validator
 * account, which no application uses. The image is ours; only keys signed by the controller count.
 */
export function forwardAuthValidatorManifests(operatorNamespace: string, namespace: string): object[] {
  const config = {
    environment: 'development',
    server: { host: '0.0.0.0', port: 8080, adminPort: 9090 },
    keyStore: {
      namespaces: [namespace],
      recordKeys: { configMap: { namespace: operatorNamespace, name: RECORD_KEYS_CONFIGMAP } },
    },
    routes: demoRoutes(),
  };
  return [
    configMap('forward-auth-config', { 'validator.yaml': stringify(config) }),
    deployment('forward-auth', {
      serviceAccountName: 'keywarden-validator',
      containers: [
        {
          name: 'validator',
          image: IMAGES.app,
          imagePullPolicy: 'Never',
          args: ['validator', '--config', '/etc/keywarden/validator.yaml'],
          ports: [{ name: 'http', containerPort: 8080 }],
          securityContext: restricted,
          readinessProbe: { httpGet: { path: '/readyz', port: 9090 }, periodSeconds: 2 },
          volumeMounts: [
            { name: 'config', mountPath: '/etc/keywarden', readOnly: true },
            { name: 'tmp', mountPath: '/tmp' },
          ],
        },
      ],
      volumes: [
        { name: 'config', configMap: { name: 'forward-auth-config' } },
        { name: 'tmp', emptyDir: {} },
      ],
    }),
    service('forward-auth', 8080, 'http'),
  ];
}

/** nginx in front of a protected location, asking the validator (through its Service) per request. */
export function nginxManifests(validatorService: string): object[] {
  const conf = `worker_processes 1;
pid /tmp/nginx.pid;
error_log /dev/stderr warn;
events { worker_connections 64; }
http {
  access_log /dev/stdout;
  client_body_temp_path /tmp/body;
  proxy_temp_path /tmp/proxy;
  fastcgi_temp_path /tmp/fastcgi;
  uwsgi_temp_path /tmp/uwsgi;
  scgi_temp_path /tmp/scgi;
  # The protected app.
  server {
    listen 127.0.0.1:8081;
    location / { return 200 "protected content\\n"; }
  }
  server {
    listen 8080;
    location / {
      auth_request /_keywarden;
      auth_request_set $kw_key_name $upstream_http_x_keywarden_apikey_name;
      add_header X-Seen-Key-Name $kw_key_name always;
      # Not \`return\`: it runs before the access phase, so auth_request would never be asked.
      proxy_pass http://127.0.0.1:8081;
    }
    location = /_keywarden {
      internal;
      proxy_pass http://${validatorService}/authz/nginx;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Original-URI $request_uri;
      proxy_set_header X-Original-Method $request_method;
    }
  }
}
`;
  return [
    configMap('nginx-conf', { 'nginx.conf': conf }),
    deployment('nginx', {
      automountServiceAccountToken: false,
      containers: [
        {
          name: 'nginx',
          image: IMAGES.nginx,
          imagePullPolicy: 'Never',
          command: ['nginx', '-c', '/etc/nginx-kw/nginx.conf', '-g', 'daemon off;'],
          ports: [{ name: 'http', containerPort: 8080 }],
          securityContext: restricted,
          readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 },
          volumeMounts: [
            { name: 'conf', mountPath: '/etc/nginx-kw', readOnly: true },
            { name: 'tmp', mountPath: '/tmp' },
          ],
        },
      ],
      volumes: [
        { name: 'conf', configMap: { name: 'nginx-conf' } },
        { name: 'tmp', emptyDir: {} },
      ],
    }),
    service('nginx', 8080, 'http'),
  ];
}

export const list = (items: object[]): string => JSON.stringify({ apiVersion: 'v1', kind: 'List', items });

/** `helm upgrade --install` of the chart with the local-node values. */
export const chartInstallArgs = (chart = CHART_DIR, extra: string[] = []): string[] => [
  'upgrade',
  '--install',
  RELEASE,
  chart,
  '--namespace',
  OPERATOR_NS,
  '--create-namespace',
  '-f',
  LOCAL_NODE_VALUES,
  '--wait',
  '--timeout',
  '5m',
  ...extra,
];
