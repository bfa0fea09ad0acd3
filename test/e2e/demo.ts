import { IMAGES } from './support.ts';

/** The routes every injected validator enforces in the demo (the same as examples/validator-config.yaml). */
const ROUTES = `routes:
  - path: /v1/sessions
    methods: [POST]
    permission: sessions:create
  - path: /v1/tickets
    methods: [POST]
    permission: tickets:create
  - path: /v1/tickets/**
    methods: [GET]
    permission: tickets:read
  - path: /v1/devices/**
    methods: [GET]
    permission: devices:read
  - path: /v1/devices/**
    methods: [POST, PUT, PATCH, DELETE]
    permission: devices:write
`;

/** A tiny HTTP API that echoes the identity headers it got (the base image runs it from a ConfigMap). */
const SERVER = `require('node:http').createServer((req, res) => {
  const identity = Object.fromEntries(Object.entries(req.headers).filter(([h]) => h.startsWith('x-keywarden-') && h !== 'x-keywarden-jwt'));
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ upstream: 'demo-api', method: req.method, path: req.url, identity }));
}).listen(3000, '127.0.0.1');
`;

const restricted = {
  runAsUser: 1000,
  runAsGroup: 1000,
  runAsNonRoot: true,
  readOnlyRootFilesystem: true,
  allowPrivilegeEscalation: false,
  capabilities: { drop: ['ALL'] },
};

/** The demo API: a Deployment annotated for injection and a NodePort Service at the validator's port. */
export function demoApiManifests(): object[] {
  return [
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'demo-api-routes' },
      data: { 'routes.yaml': ROUTES },
    },
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'demo-api-server' },
      data: { 'server.cjs': SERVER },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'demo-api' },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'demo-api' } },
        template: {
          metadata: {
            labels: { app: 'demo-api' },
            annotations: {
              'keywarden.dev/inject': 'true',
              'keywarden.dev/environment': 'development',
              'keywarden.dev/upstream-port': 'http',
              'keywarden.dev/routes-configmap': 'demo-api-routes',
            },
          },
          spec: {
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
        },
      },
    },
    {
      // Traffic goes to the validator's port only: a pod without the sidecar gets none.
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'demo-api' },
      spec: {
        type: 'NodePort',
        selector: { app: 'demo-api' },
        ports: [{ name: 'http', port: 80, targetPort: 'keywarden' }],
      },
    },
  ];
}

/**
 * A standalone validator for forward auth (no upstream: /authz/nginx on its port), as docs/validator.md
 * describes for ingresses: its own Deployment and Service, running as the chart's keywarden-validator
 * account, which no application uses. The image is ours; only keys signed by the controller count.
 */
export function forwardAuthValidatorManifests(operatorNamespace: string, namespace: string): object[] {
  const config = `environment: development
server: { host: 0.0.0.0, port: 8080, adminPort: 9090 }
keyStore:
  namespaces: [${namespace}]
  recordKeys: { configMap: { namespace: ${operatorNamespace}, name: keywarden-record-keys } }
${ROUTES}`;
  return [
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'forward-auth-config' },
      data: { 'validator.yaml': config },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'forward-auth' },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'forward-auth' } },
        template: {
          metadata: { labels: { app: 'forward-auth' } },
          spec: {
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
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'forward-auth' },
      spec: { selector: { app: 'forward-auth' }, ports: [{ name: 'http', port: 8080, targetPort: 'http' }] },
    },
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
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'nginx-conf' }, data: { 'nginx.conf': conf } },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'nginx' },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'nginx' } },
        template: {
          metadata: { labels: { app: 'nginx' } },
          spec: {
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
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'nginx' },
      spec: { selector: { app: 'nginx' }, ports: [{ name: 'http', port: 8080, targetPort: 'http' }] },
    },
  ];
}

export const list = (items: object[]) => JSON.stringify({ apiVersion: 'v1', kind: 'List', items });
