import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  composeValidatorConfig,
  computeInjection,
  INIT_NAME,
  JWT_KEY_FILE,
  SETTINGS_ENV,
  SIDECAR_NAME,
  VOLUMES,
} from '../../../src/injector/index.ts';
import { parseConfig } from '../../../src/validator/config/load.ts';
import { applyPatch, CONFIG, INJECT, pod, ROUTES_YAML } from '../../support/injector/fixtures.ts';

// biome-ignore lint/suspicious/noExplicitAny: patched pods are walked freely in assertions
type Json = Record<string, any>;

function inject(p: Json, namespace = 'payments') {
  const outcome = computeInjection(p, namespace, CONFIG);
  if (outcome.action !== 'inject') throw new Error(`expected an injection, got ${JSON.stringify(outcome)}`);
  return { outcome, patched: applyPatch(p, outcome.patch) as Json };
}

function refused(annotations: Record<string, string>, extra?: Parameters<typeof pod>[1]): string[] {
  const outcome = computeInjection(pod(annotations, extra), 'payments', CONFIG);
  if (outcome.action !== 'refuse') throw new Error(`expected a refusal, got ${outcome.action}`);
  expect(outcome.message).toContain(
    'keywarden cannot inject the validator sidecar into pod payments/payments-api-7d9f-*',
  );
  for (const p of outcome.problems) expect(outcome.message).toContain(p);
  return outcome.problems;
}

describe('computeInjection', () => {
  it('leaves pods alone that do not ask (no annotation, or "false")', () => {
    expect(computeInjection(pod({}), 'payments', CONFIG)).toEqual({
      action: 'skip',
      reason: 'not-requested',
    });
    expect(computeInjection(pod({ 'keywarden.dev/inject': 'false' }), 'payments', CONFIG)).toEqual({
      action: 'skip',
      reason: 'not-requested',
    });
    // "false" is not checked further: a typo elsewhere must not block an opted-out pod.
    expect(
      computeInjection(
        pod({ 'keywarden.dev/inject': 'False', 'keywarden.dev/enviroment': 'x' }),
        'payments',
        CONFIG,
      ).action,
    ).toBe('skip');
    expect(computeInjection(undefined, 'payments', CONFIG).action).toBe('skip');
  });

  it('adds the validator container, its init container, volumes, annotation and label', () => {
    const { outcome, patched } = inject(pod(INJECT));
    const spec = patched.spec;
    expect(spec.containers.map((c: Json) => c.name)).toEqual(['app', SIDECAR_NAME]);
    expect(spec.initContainers.map((c: Json) => c.name)).toEqual([INIT_NAME]);
    expect(spec.volumes.map((v: Json) => v.name)).toEqual([
      VOLUMES.config,
      VOLUMES.routes,
      VOLUMES.apiAccess,
      VOLUMES.data,
    ]);
    expect(patched.metadata.annotations['keywarden.dev/status']).toBe('injected');
    expect(patched.metadata.labels).toEqual({ app: 'payments-api', 'keywarden.dev/sidecar': 'validator' });
    expect(outcome.warnings).toEqual([]);

    const sidecar = spec.containers[1];
    expect(sidecar).toMatchObject({
      image: CONFIG.image,
      imagePullPolicy: 'IfNotPresent',
      args: ['validator', '--config', '/run/keywarden/validator.yaml'],
      ports: [
        { name: 'keywarden', containerPort: 8180, protocol: 'TCP' },
        { name: 'keywarden-admin', containerPort: 9180, protocol: 'TCP' },
      ],
      readinessProbe: { httpGet: { path: '/readyz', port: 'keywarden-admin' } },
      livenessProbe: { httpGet: { path: '/healthz', port: 'keywarden-admin' } },
      lifecycle: { preStop: { exec: { command: ['sleep', '5'] } } },
      resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '256Mi' } },
      securityContext: {
        runAsNonRoot: true,
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'] },
      },
    });
    // Its own credentials (the keywarden-validator ServiceAccount's token Secret), in the sidecar only.
    expect(sidecar.volumeMounts).toContainEqual({
      name: VOLUMES.apiAccess,
      mountPath: '/var/run/secrets/kubernetes.io/serviceaccount',
      readOnly: true,
    });
    expect(spec.volumes.find((v: Json) => v.name === VOLUMES.apiAccess)).toEqual({
      name: VOLUMES.apiAccess,
      secret: { secretName: 'keywarden-validator-token', defaultMode: 0o444 },
    });
    expect(spec.containers[0].volumeMounts).toBeUndefined();
    expect(spec.initContainers[0].volumeMounts.map((m: Json) => m.name)).not.toContain(VOLUMES.apiAccess);
    const routes = spec.volumes.find((v: Json) => v.name === VOLUMES.routes);
    expect(routes.configMap).toEqual({ name: 'payments-routes' });

    const init = spec.initContainers[0];
    expect(init.command).toEqual(CONFIG.composeCommand);
    expect(init.args).toEqual([
      '--routes',
      '/etc/keywarden/routes/routes.yaml',
      '--routes-source',
      'ConfigMap payments-routes, key routes.yaml',
      '--out',
      '/run/keywarden/validator.yaml',
    ]);
    const settings = parse(init.env.find((e: Json) => e.name === SETTINGS_ENV).value);
    expect(settings).toEqual({
      environment: 'production',
      server: { host: '0.0.0.0', port: 8180, adminPort: 9180 },
      keyStore: { namespaces: ['payments'] },
      trustedProxies: [],
      upstream: { url: 'http://127.0.0.1:3000' },
      unmappedRoutes: 'deny',
    });
  });

  it('is idempotent: an injected pod is never injected twice', () => {
    const { patched } = inject(pod(INJECT));
    expect(computeInjection(patched, 'payments', CONFIG)).toEqual({
      action: 'skip',
      reason: 'already-injected',
    });
    // A pod copied from a running one (both markers) and one that only carries the container.
    const containerOnly = structuredClone(patched);
    delete containerOnly.metadata.annotations['keywarden.dev/status'];
    expect(computeInjection(containerOnly, 'payments', CONFIG).action).toBe('skip');
    // The same input always gives the same patch.
    expect(computeInjection(pod(INJECT), 'payments', CONFIG)).toEqual(
      computeInjection(pod(INJECT), 'payments', CONFIG),
    );
  });

  it('appends to existing init containers and volumes, and creates labels when there are none', () => {
    const p = pod(INJECT, {
      spec: {
        initContainers: [{ name: 'migrate', image: 'example/migrate:1' }],
        volumes: [{ name: 'cache', emptyDir: {} }],
      },
    });
    delete (p.metadata as Json).labels;
    const { outcome, patched } = inject(p);
    expect(outcome.patch.map((o) => o.path)).toEqual([
      '/spec/initContainers/-',
      '/spec/containers/-',
      '/spec/volumes/-',
      '/spec/volumes/-',
      '/spec/volumes/-',
      '/spec/volumes/-',
      '/metadata/annotations/keywarden.dev~1status',
      '/metadata/labels',
    ]);
    expect(patched.spec.initContainers.map((c: Json) => c.name)).toEqual(['migrate', INIT_NAME]);
    expect(patched.spec.volumes[0].name).toBe('cache');
    expect(patched.metadata.labels).toEqual({ 'keywarden.dev/sidecar': 'validator' });
  });

  it('takes every optional annotation', () => {
    const { outcome, patched } = inject(
      pod({
        ...INJECT,
        'keywarden.dev/environment': 'staging',
        'keywarden.dev/upstream-port': 'http',
        'keywarden.dev/routes-key': 'api.yaml',
        'keywarden.dev/port': '8443',
        'keywarden.dev/admin-port': '9443',
        'keywarden.dev/key-namespaces': 'payments, billing,payments',
        'keywarden.dev/trusted-proxies': '10.0.0.0/8, 2001:db8::1',
        'keywarden.dev/unmapped-routes': 'allow',
        'keywarden.dev/image': 'registry.local/keywarden:dev',
        'keywarden.dev/cpu-request': '20m',
        'keywarden.dev/memory-limit': '128Mi',
        'keywarden.dev/cpu-limit': '1',
      }),
    );
    expect(outcome.settings).toMatchObject({
      environment: 'staging',
      upstreamPort: 3000, // the container port named "http"
      routesKey: 'api.yaml',
      port: 8443,
      adminPort: 9443,
      keyNamespaces: ['payments', 'billing'],
      trustedProxies: ['10.0.0.0/8', '2001:db8::1'],
      unmappedRoutes: 'allow',
      image: 'registry.local/keywarden:dev',
      resources: { requests: { cpu: '20m', memory: '64Mi' }, limits: { memory: '128Mi', cpu: '1' } },
    });
    const sidecar = patched.spec.containers[1];
    expect(sidecar.image).toBe('registry.local/keywarden:dev');
    expect(sidecar.ports.map((p: Json) => p.containerPort)).toEqual([8443, 9443]);
    expect(patched.spec.initContainers[0].args[1]).toBe('/etc/keywarden/routes/api.yaml');
  });

  it('signs JWTs with the namespace key from a file mounted into the sidecar only, audience bound to the namespace', () => {
    const config = { ...CONFIG, validatorSettings: { identity: { jwt: { issuer: 'kw' } } } };
    const outcome = computeInjection(pod(INJECT), 'payments', config);
    if (outcome.action !== 'inject') throw new Error(outcome.action);
    const patched = applyPatch(pod(INJECT), outcome.patch) as Json;
    const settings = parse(patched.spec.initContainers[0].env[0].value);
    expect(settings.identity.jwt).toEqual({
      issuer: 'kw',
      audience: 'payments',
      signingKey: { file: JWT_KEY_FILE },
    });
    expect(patched.spec.volumes.find((v: Json) => v.name === VOLUMES.jwtKey)).toEqual({
      name: VOLUMES.jwtKey,
      secret: {
        secretName: 'keywarden-validator-jwt',
        items: [{ key: 'signing-key.pem', path: 'signing-key.pem' }],
        defaultMode: 0o444,
      },
    });
    const mountsOf = (c: Json) => (c.volumeMounts ?? []).map((m: Json) => m.name);
    expect(mountsOf(patched.spec.containers[1])).toContain(VOLUMES.jwtKey);
    expect(mountsOf(patched.spec.containers[0])).not.toContain(VOLUMES.jwtKey);
    expect(mountsOf(patched.spec.initContainers[0])).not.toContain(VOLUMES.jwtKey);
    // The injector's own settings object is not changed by one pod.
    expect(config.validatorSettings.identity.jwt).toEqual({ issuer: 'kw' });
    // The generated file is a valid validator configuration.
    const composed = composeValidatorConfig(patched.spec.initContainers[0].env[0].value, ROUTES_YAML, 'x');
    expect(composed.ok).toBe(true);
  });

  it('takes keywarden.dev/jwt-audience only from the allow-list of the pod namespace', () => {
    const config = {
      ...CONFIG,
      validatorSettings: { identity: { jwt: { issuer: 'kw' } } },
      jwtAudiences: { payments: ['payments-api'], web: ['web-api'] },
    };
    const audienceOf = (aud: string, ns: string) => {
      const outcome = computeInjection(pod({ ...INJECT, 'keywarden.dev/jwt-audience': aud }), ns, config);
      if (outcome.action !== 'inject') return outcome.action === 'refuse' ? outcome.problems : outcome;
      return parse((applyPatch(pod(INJECT), outcome.patch) as Json).spec.initContainers[0].env[0].value)
        .identity.jwt.audience;
    };
    expect(audienceOf('payments-api', 'payments')).toBe('payments-api');
    expect(audienceOf('payments', 'payments')).toBe('payments');
    // Another service's audience, from a pod in another namespace: refused, saying what is allowed.
    expect(audienceOf('payments-api', 'web')).toEqual([
      'keywarden.dev/jwt-audience: "payments-api" is not an audience pods in namespace web may use (allowed: web, web-api; the chart\'s injection.jwt.audiences)',
    ]);
    expect(audienceOf('payments', 'web')).toEqual([
      'keywarden.dev/jwt-audience: "payments" is not an audience pods in namespace web may use (allowed: web, web-api; the chart\'s injection.jwt.audiences)',
    ]);
    expect(audienceOf('web-api', 'batch')).toEqual([
      'keywarden.dev/jwt-audience: "web-api" is not an audience pods in namespace batch may use (only "batch"; the chart\'s injection.jwt.audiences)',
    ]);
  });

  it("leaves the pod's service account alone: the sidecar does not use it", () => {
    const p = pod(INJECT);
    delete (p.spec as Json).serviceAccountName;
    const { outcome, patched } = inject(p);
    expect(patched.spec.serviceAccountName).toBeUndefined();
    expect(outcome.patch.some((o) => o.path.startsWith('/spec/serviceAccount'))).toBe(false);
    expect(outcome.patch.some((o) => o.path.startsWith('/spec/automountServiceAccountToken'))).toBe(false);
  });

  it('refuses pods that would let the app read the sidecar credentials, or that have none', () => {
    expect(refused(INJECT, { spec: { shareProcessNamespace: true } })).toEqual([
      "spec.shareProcessNamespace is true: the app's processes could read the sidecar's credentials through /proc; remove it",
    ]);
    const jwtConfig = { ...CONFIG, validatorSettings: { identity: { jwt: {} } } };
    const stealing = pod(INJECT, {
      spec: {
        volumes: [
          { name: 'token', secret: { secretName: 'keywarden-validator-token' } },
          { name: 'bundle', projected: { sources: [{ secret: { name: 'keywarden-validator-jwt' } }] } },
          { name: 'fine', secret: { secretName: 'app-tls' } },
        ],
      },
    });
    const outcome = computeInjection(stealing, 'payments', jwtConfig);
    expect(outcome.action === 'refuse' && outcome.problems).toEqual([
      'volume token mounts Secret keywarden-validator-token, which is for the keywarden sidecar only; remove it from the pod',
      'volume bundle mounts Secret keywarden-validator-jwt, which is for the keywarden sidecar only; remove it from the pod',
    ]);
    const scoped = { ...CONFIG, namespaces: ['payments', 'web'] };
    const elsewhere = computeInjection(pod(INJECT), 'batch', scoped);
    expect(elsewhere.action === 'refuse' && elsewhere.problems).toEqual([
      "namespace batch has no validator credentials (the chart's validator.namespaces lists: payments, web)",
    ]);
    expect(computeInjection(pod(INJECT), 'web', scoped).action).toBe('inject');
  });

  it('warns about hostNetwork pods', () => {
    const { outcome } = inject(pod(INJECT, { spec: { hostNetwork: true } }));
    expect(outcome.warnings).toEqual([expect.stringContaining('hostNetwork')]);
  });
});

describe('bad annotations are refused with every problem at once', () => {
  it('names missing required annotations', () => {
    expect(refused({ 'keywarden.dev/inject': 'true' })).toEqual([
      'keywarden.dev/environment: is required: one of production, staging, development',
      "keywarden.dev/upstream-port: is required: the app's port (a number, or a container port name)",
      'keywarden.dev/routes-configmap: is required: the name of a ConfigMap in the pod namespace holding the routes',
    ]);
  });

  it('refuses an inject value that is neither true nor false', () => {
    expect(refused({ ...INJECT, 'keywarden.dev/inject': 'yes' })).toEqual([
      'keywarden.dev/inject: must be "true" or "false", got "yes"',
    ]);
  });

  it('suggests the right name for a misspelt annotation', () => {
    expect(refused({ ...INJECT, 'keywarden.dev/upstream-prot': '3000' })).toEqual([
      'keywarden.dev/upstream-prot: unknown keywarden annotation; did you mean keywarden.dev/upstream-port?',
    ]);
  });

  it('checks each value', () => {
    const problems = refused({
      ...INJECT,
      'keywarden.dev/environment': 'prod',
      'keywarden.dev/upstream-port': '70000',
      'keywarden.dev/routes-configmap': 'Payments_Routes',
      'keywarden.dev/routes-key': 'a/b',
      'keywarden.dev/port': 'eighty',
      'keywarden.dev/key-namespaces': 'ok,Not_OK',
      'keywarden.dev/trusted-proxies': '10.0.0.0/33',
      'keywarden.dev/unmapped-routes': 'maybe',
      'keywarden.dev/memory-request': '64 MB',
      'keywarden.dev/jwt-audience': 'api',
    });
    expect(problems).toEqual([
      'keywarden.dev/environment: must be one of production, staging, development, got "prod"',
      'keywarden.dev/port: must be a port number from 1 to 65535, got "eighty"',
      'keywarden.dev/upstream-port: must be a port number from 1 to 65535 or a container port name, got "70000"',
      'keywarden.dev/routes-configmap: "Payments_Routes" is not a valid ConfigMap name',
      'keywarden.dev/routes-key: "a/b" is not a ConfigMap key (letters, digits, -, _ and .)',
      'keywarden.dev/key-namespaces: "Not_OK" is not a namespace name',
      expect.stringMatching(/^keywarden\.dev\/trusted-proxies: .*10\.0\.0\.0\/33/),
      'keywarden.dev/unmapped-routes: must be "deny" or "allow", got "maybe"',
      "keywarden.dev/jwt-audience: identity JWTs are not configured for injected validators (the chart's injection.validatorSettings.identity.jwt)",
      'keywarden.dev/memory-request: "64 MB" is not a quantity such as 128Mi',
    ]);
  });

  it('refuses ports that clash with the app or with each other', () => {
    expect(
      refused(
        { ...INJECT, 'keywarden.dev/port': '3000', 'keywarden.dev/upstream-port': 'metrics' },
        {
          spec: {
            containers: [
              { name: 'app', image: 'a', ports: [{ name: 'http', containerPort: 3000 }] },
              { name: 'exporter', image: 'b', ports: [{ name: 'metrics', containerPort: 9180 }] },
            ],
          },
        },
      ),
    ).toEqual([
      'keywarden.dev/port: the validator would listen on 3000, which container "app" already declares; set keywarden.dev/port to a free port',
      'keywarden.dev/admin-port: the validator would listen on 9180, which container "exporter" already declares; set keywarden.dev/admin-port to a free port',
      "keywarden.dev/upstream-port: 9180 is the validator's own port; the upstream is the app's port",
    ]);
    expect(refused({ ...INJECT, 'keywarden.dev/admin-port': '8180' })).toEqual([
      'keywarden.dev/admin-port: must differ from the validator port 8180 (keywarden.dev/port)',
    ]);
    expect(refused({ ...INJECT, 'keywarden.dev/upstream-port': 'grpc' })).toEqual([
      'keywarden.dev/upstream-port: no container of the pod declares a port named "grpc"',
    ]);
  });

  it('refuses an image override when the cluster turned them off', () => {
    const outcome = computeInjection(
      pod({ ...INJECT, 'keywarden.dev/image': 'evil/keywarden:1' }),
      'payments',
      { ...CONFIG, allowImageOverride: false },
    );
    expect(outcome).toMatchObject({
      action: 'refuse',
      problems: ['keywarden.dev/image: image overrides are turned off in this cluster'],
    });
  });

  it('refuses names that would collide with what it adds', () => {
    expect(
      refused(INJECT, {
        spec: {
          containers: [{ name: 'app', image: 'a' }],
          initContainers: [{ name: INIT_NAME, image: 'b' }],
          volumes: [{ name: VOLUMES.routes, emptyDir: {} }],
        },
      }),
    ).toEqual([
      `the pod already has a container named ${INIT_NAME}; rename it`,
      `the pod already has a volume named ${VOLUMES.routes}; rename it`,
    ]);
  });
});

describe('the injected settings and the routes make a valid validator configuration', () => {
  it('composes, and the validator loader accepts it with the annotation values', () => {
    const { patched } = inject(pod({ ...INJECT, 'keywarden.dev/trusted-proxies': '10.0.0.0/8' }));
    const settings = patched.spec.initContainers[0].env[0].value as string;
    const composed = composeValidatorConfig(
      settings,
      ROUTES_YAML,
      'ConfigMap payments-routes, key routes.yaml',
    );
    expect(composed.ok).toBe(true);
    if (!composed.ok) return;
    const loaded = parseConfig(composed.text);
    expect(loaded.ok).toBe(true);
    if (!loaded.ok) return;
    expect(loaded.value).toMatchObject({
      environment: 'production',
      server: { host: '0.0.0.0', port: 8180, adminPort: 9180 },
      keyStore: { namespaces: ['payments'] },
      trustedProxies: ['10.0.0.0/8'],
      upstream: { url: 'http://127.0.0.1:3000' },
      unmappedRoutes: 'deny',
      routes: [
        { path: '/v1/sessions', methods: ['POST'], permission: 'sessions:create' },
        { path: '/v1/devices/**', methods: ['GET'], permission: 'devices:read' },
      ],
    });
  });
});
