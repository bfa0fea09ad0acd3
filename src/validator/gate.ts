import type { IncomingHttpHeaders } from 'node:http';
import { rateLimitHeaders, requestPathProblem } from '../rules/index.ts';
import type { AuditSink } from './audit.ts';
import type { ClientAddressResolver } from './client-address.ts';
import type { ValidatorConfig } from './config/types.ts';
import { type Decision, type DenyCode, decide, decidePresented, type Requirement } from './decision.ts';
import { identityHeaders, type KeySource, readKey } from './identity/headers.ts';
import type { SigningKeys } from './identity/signing-keys.ts';
import type { KeyStore } from './key-store.ts';
import type { LastUsedReporter } from './last-used.ts';
import type { Door, ValidatorMetrics } from './metrics.ts';
import type { RateLimiter } from './rate-limiter.ts';
import { type CompiledRoute, resolveRoute } from './routes.ts';
import type { TunnelFacts } from './tunnels.ts';

// What every front door does around the decision: work out the facts (key, client address, the
// route's permission), decide, then count it (metrics), remember it (audit, last used) and build the
// headers the answer carries (RateLimit-*, identity). Doors differ only in where they read the facts
// from and what they do with the answer.

export type GateCode = DenyCode | 'bad_request' | 'identity_unavailable';

export type Outcome =
  | { allowed: true; status: 200; decision: Decision & { allowed: true }; headers: Record<string, string> }
  | { allowed: false; status: number; code: GateCode; message: string; headers: Record<string, string> };

export interface Facts {
  door: Door;
  key: string | undefined;
  clientIp: string | undefined;
  requirement: Requirement;
  method: string;
  path: string;
  /** The caller's X-Request-Id, for the audit trail. */
  requestId?: string | undefined;
}

export interface GateDeps {
  config: ValidatorConfig;
  store: KeyStore;
  limiter: RateLimiter;
  routes: CompiledRoute[];
  resolver: ClientAddressResolver;
  signing: SigningKeys | undefined;
  metrics: ValidatorMetrics;
  audit: AuditSink;
  lastUsed: LastUsedReporter | undefined;
  now: () => number;
}

export class Gate {
  readonly #d: GateDeps;
  readonly #lookup: (keyId: string) => ReturnType<KeyStore['get']>;
  readonly #take: RateLimiter['take'];

  constructor(deps: GateDeps) {
    this.#d = deps;
    this.#lookup = (id) => deps.store.get(id);
    this.#take = (k, now) => deps.limiter.take(k, now);
  }

  /** Facts from an HTTP request: the key from its headers, the client from the peer and X-Forwarded-For. */
  httpFacts(
    door: Door,
    method: string,
    path: string,
    headers: IncomingHttpHeaders,
    peer: string | undefined,
  ): { facts: Facts; keySource: KeySource | undefined } | { problem: string } {
    // One canonical spelling, and one reading whatever the upstream ignores: see routes.ts.
    const bad = requestPathProblem(path);
    if (bad) return { problem: bad };
    const match = resolveRoute(this.#d.routes, method, path);
    if ('problem' in match) return { problem: match.problem };
    const found = readKey(headers);
    const requirement: Requirement = match.matched
      ? { permission: match.permission }
      : this.#d.config.unmappedRoutes === 'allow'
        ? { anyValidKey: true }
        : { unmapped: true };
    return {
      facts: {
        door,
        key: found?.key,
        clientIp: this.#d.resolver.resolve(peer, headers['x-forwarded-for']),
        requirement,
        method,
        path,
        requestId: requestIdOf(headers['x-request-id']),
      },
      keySource: found?.source,
    };
  }

  /** A request refused before any decision (bad path, bad body): counted and audited like the rest. */
  refuse(
    door: Door,
    method: string,
    path: string,
    clientIp: string | undefined,
    message: string,
    startMs = performance.now(),
  ): Outcome & { allowed: false } {
    this.#record(door, 'deny', 'bad_request', undefined, undefined, method, path, 400, clientIp, startMs);
    return { allowed: false as const, status: 400, code: 'bad_request', message, headers: {} };
  }

  async evaluate(f: Facts): Promise<Outcome> {
    const start = performance.now();
    const nowMs = this.#d.now();
    const d = decide(
      { key: f.key, clientIp: f.clientIp, requirement: f.requirement, nowMs },
      {
        environment: this.#d.config.environment,
        lookup: this.#lookup,
        unmappedRoutes: this.#d.config.unmappedRoutes,
        takeToken: this.#take,
      },
    );
    const headers: Record<string, string> = d.rate ? rateLimitHeaders(d.rate) : {};
    if (!d.allowed) {
      this.#record(
        f.door,
        'deny',
        d.code,
        d.environment,
        d.key?.keyId ?? d.keyId,
        f.method,
        f.path,
        d.status,
        f.clientIp,
        start,
        d.key !== undefined,
        d.key?.record.apiKey,
        f.requestId,
      );
      if (d.status === 401) headers['WWW-Authenticate'] = 'Bearer realm="keywarden"';
      return { allowed: false, status: d.status, code: d.code, message: d.message, headers };
    }
    let jwt: string | undefined;
    if (this.#d.signing) {
      const signer = this.#d.signing.signer;
      if (!signer) {
        this.#record(
          f.door,
          'deny',
          'identity_unavailable',
          d.environment,
          d.key.keyId,
          f.method,
          f.path,
          503,
          f.clientIp,
          start,
          true,
          d.key.record.apiKey,
          f.requestId,
        );
        return {
          allowed: false,
          status: 503,
          code: 'identity_unavailable',
          message: 'the JWT signing key is not loaded yet',
          headers: {},
        };
      }
      jwt = await signer.token(d.key, nowMs);
    }
    identityHeaders(d.key, f.clientIp, jwt, headers);
    this.#d.lastUsed?.seen(d.key, nowMs);
    this.#record(
      f.door,
      'allow',
      'ok',
      d.environment,
      d.key.keyId,
      f.method,
      f.path,
      200,
      f.clientIp,
      start,
      true,
      d.key.record.apiKey,
      f.requestId,
    );
    return { allowed: true, status: 200, decision: d, headers };
  }

  /** The decision again for an open tunnel: no rate-limit token, nothing counted or audited. */
  recheck(t: TunnelFacts, nowMs: number): Decision {
    return decidePresented(
      t.presented,
      { clientIp: t.clientIp, requirement: t.requirement, nowMs },
      {
        environment: this.#d.config.environment,
        lookup: this.#lookup,
        unmappedRoutes: this.#d.config.unmappedRoutes,
        takeToken: () => undefined,
      },
    );
  }

  #record(
    door: Door,
    result: 'allow' | 'deny',
    reason: string,
    environment: string | undefined,
    keyId: string | undefined,
    method: string,
    path: string,
    status: number,
    clientIp: string | undefined,
    startMs: number,
    proven = false,
    apiKey?: { namespace: string; name: string },
    requestId?: string,
  ): void {
    // The event is built once, here, and handed to the sink as is (the sink keeps it, no copy).
    const seconds = (performance.now() - startMs) / 1000;
    this.#d.metrics.decision(door, result, reason, environment, seconds, proven ? keyId : undefined);
    this.#d.audit.record({
      timeMs: this.#d.now(),
      door,
      keyId,
      environment,
      method,
      path,
      status,
      reason,
      clientIp,
      latencyMs: seconds * 1000,
      apiKeyNamespace: apiKey?.namespace,
      apiKeyName: apiKey?.name,
      requestId,
    });
  }
}

/** A request id worth keeping: printable, bounded (it lands in the audit trail). */
function requestIdOf(v: string | string[] | undefined): string | undefined {
  const id = Array.isArray(v) ? v[0] : v;
  return id && /^[\x21-\x7e]{1,128}$/.test(id) ? id : undefined;
}
