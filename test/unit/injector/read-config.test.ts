import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { INJECTOR_DEFAULTS, parseInjectorConfig, validatorSettings } from '../../../src/injector/index.ts';
import { formatProblem, type Problem } from '../../../src/rules/index.ts';
import { POD_SETTINGS } from '../../support/injector/fixtures.ts';

/** Problems as `field: message`, the way the webhook's refusal and `--injector-config` name them. */
const texts = (r: { ok: boolean; problems?: Problem[] }) =>
  (r.problems ?? []).map((p) => formatProblem('', { ...p, line: 0 }));

describe('parseInjectorConfig', () => {
  it('defaults everything but the image', () => {
    expect(parseInjectorConfig('image: kw:1\n')).toEqual({
      ok: true,
      value: { ...INJECTOR_DEFAULTS, image: 'kw:1' },
    });
  });

  it('reports every problem', () => {
    const r = parseInjectorConfig(
      [
        'imagePullPolicy: Sometimes',
        'port: 70000',
        'adminPort: 9180',
        'resources: {requests: {cpu: lots}, limits: {gpu: "1"}}',
        'trustedProxies: [not-an-ip]',
        'validatorSettings: {environment: production}',
        'unmappedRoutes: maybe',
        'logLevel: loud',
        'imagePulPolicy: Always',
      ].join('\n'),
    );
    expect(texts(r)).toEqual([
      expect.stringMatching(/^imagePulPolicy: unknown field/),
      expect.stringMatching(/^image: is required/),
      'imagePullPolicy: must be one of: Always, IfNotPresent, Never',
      'port: must be a port number from 1 to 65535',
      'resources.requests.cpu: "lots" is not a quantity such as 100m or 64Mi',
      'resources.limits.gpu: unknown resource; known: cpu, memory',
      expect.stringMatching(/^trustedProxies\[0\]: /),
      'unmappedRoutes: must be one of: deny, allow',
      'validatorSettings.environment: is set by the injector from pod annotations; remove it',
      'logLevel: must be one of: fatal, error, warn, info, debug, trace, silent',
    ]);
    expect(parseInjectorConfig('a: [')).toMatchObject({
      ok: false,
      problems: [{ line: 1, message: expect.stringMatching(/^Flow sequence/) }],
    });
  });
  it('internalPort: off by default (an injected validator is a reverse proxy), on loopback when set', () => {
    const settings = (internalPort: unknown) => {
      const r = parseInjectorConfig(stringify({ image: 'kw:1', internalPort }));
      if (!r.ok) return texts(r);
      const s = validatorSettings(POD_SETTINGS, r.value);
      return s.server;
    };
    expect(settings(null)).toEqual({ host: '0.0.0.0', port: 8180, adminPort: 9180 });
    expect(settings(8181)).toEqual({
      host: '0.0.0.0',
      port: 8180,
      adminPort: 9180,
      internalPort: 8181,
      internalHost: '127.0.0.1',
    });
    expect(settings(8180)).toEqual(['internalPort: must differ from port and adminPort']);
    expect(settings('x')).toEqual(['internalPort: must be a port number from 1 to 65535, or null']);
  });

  it('refuses a signing key or an audience in validatorSettings, and bad credential settings', () => {
    const r = parseInjectorConfig(
      [
        'image: kw:1',
        'validatorSettings: {identity: {jwt: {issuer: kw, audience: anyone, signingKey: {secret: {namespace: kw, name: jwt}}}}}',
        'credentialsSecret: Not_A_Name',
        'jwtSigningKeySecret: {key: x}',
        'jwtAudiences: {payments: [""], Bad_NS: [x]}',
        'namespaces: [ok, Not_OK]',
      ].join('\n'),
    );
    expect(texts(r)).toEqual([
      "validatorSettings.identity.jwt.signingKey: is set by the injector: the Secret injection.jwt.signingKeySecret in the pod's namespace, mounted into the sidecar only; remove it",
      "validatorSettings.identity.jwt.audience: is set by the injector: the pod's namespace, or keywarden.dev/jwt-audience when injection.jwt.audiences allows it; remove it",
      'credentialsSecret: must be a Secret name',
      'jwtSigningKeySecret: must be {name: a Secret name, key: a key in it (default signing-key.pem)}',
      'jwtAudiences.payments: must be a list of audiences (non-empty strings)',
      'jwtAudiences.Bad_NS: not a namespace name',
      'namespaces: must be a list of namespace names',
    ]);
    const ok = parseInjectorConfig(
      'image: kw:1\njwtSigningKeySecret: {name: jwt}\njwtAudiences: {payments: [payments-api]}\nnamespaces: [payments]\n',
    );
    expect(ok).toMatchObject({
      ok: true,
      value: {
        credentialsSecret: 'keywarden-validator-token',
        jwtSigningKeySecret: { name: 'jwt', key: 'signing-key.pem' },
        jwtAudiences: { payments: ['payments-api'] },
        namespaces: ['payments'],
      },
    });
  });
});
