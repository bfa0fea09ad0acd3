import type { IncomingHttpHeaders } from 'node:http';
import type { AuditSink, DecisionEvent, Door } from '../api/events.ts';
import type { CanonicalPath, TakeResult } from '../rules/index.ts';
import type { ClientAddressResolver } from './client-address.ts';
import type { ValidatorConfig } from './config/types.ts';
import {
  type Decision,
  type DecisionContext,
  type DenyCode,
  decide,
  decidePresented,
  type Requirement,
} from './decision.ts';
import { type KeySource, readKey } from './identity/headers.ts';
import type { SigningKeys } from './identity/signing-keys.ts';
import type { KeyStore } from './key-store.ts';
import type { LastUsedReporter } from './last-used.ts';
import type { ValidatorMetrics } from './metrics.ts';
import type { RateLimiter } from './rate-limiter.ts';
import { type CompiledRoute, resolveRoute } from './routes.ts';
import type { StoredKey } from './stored-key.ts';
import type { TunnelFacts } from './tunnels.ts';

// What every front door does around the decision: work out the facts (key, client address, the
// route's permission), decide, then count it (metrics), remember it (audit, last used) and sign the
// identity. The outcome has typed parts (the decision, the rate-limit result, the identity); each door
// renders them as its own headers. Doors differ only in where they read the facts from and what they
// do with the answer.

export type GateCode = DenyCode | 'bad_request' | 'identity_unavailable';

/** Who the allowed caller is, for the identity headers: the proven key, the client, the signed JWT. */
export interface Identity {
  key: StoredKey;
  clientIp: string | undefined;
  jwt: string | undefined;
}

export type Allowed = {
  allowed: true;
  status: 200;
  decision: Decision & { allowed: true };
  rate: TakeResult | undefined;
  identity: Identity;
};
export type Refused = {
  allowed: false;
  status: number;
  code: GateCode;
  message: string;
  /** The rate-limit result when a token was taken (a 429), for the RateLimit-* headers. */
  rate: TakeResult | undefined;
};
export type Outcome = Allowed | Refused;

/** What the audit trail and the metrics know of a request, decided or refused. */
type Request = Pick<Facts, 'door' | 'method' | 'path' | 'clientIp' | 'requestId'>;

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
  readonly #ctx: DecisionContext;
  readonly #recheckCtx: DecisionContext;
  /** Filled from the configured routes' permissions only: bounded by the configuration. */
  readonly #requirements = new Map<string, Requirement>();

  constructor(deps: GateDeps) {
    this.#d = deps;
    const base = {
      environment: deps.config.environment,
      lookup: (id: string) => deps.store.get(id),
      unmappedRoutes: deps.config.unmappedRoutes,
    };
    this.#ctx = { ...base, takeToken: (k, now) => deps.limiter.take(k, now) };
    this.#recheckCtx = { ...base, takeToken: () => undefined };
  }

  /**
   * Facts from an HTTP request: the key from its headers, the client from the peer and X-Forwarded-For.
   * The path was checked once for its one canonical spelling (CanonicalPath); what the upstream ignores
   * is route matching's: see routes.ts.
   */
  httpFacts(
    door: Door,
    method: string,
    path: CanonicalPath,
    headers: IncomingHttpHeaders,
    peer: string | undefined,
  ): { facts: Facts; keySource: KeySource | undefined } | { problem: string } {
    const match = resolveRoute(this.#d.routes, method, path);
    if ('problem' in match) return { problem: match.problem };
    const found = readKey(headers);
    return {
      facts: {
        door,
        key: found?.key,
        clientIp: this.#d.resolver.resolve(peer, headers['x-forwarded-for']),
        // What an unmapped route means (refused, or any valid key) is the decision's: decision.ts.
        requirement: match.matched ? this.#needs(match.permission) : UNMAPPED,
        method,
        path,
        requestId: requestIdOf(headers['x-request-id']),
      },
      keySource: found?.source,
    };
  }

  /** One requirement object per route permission (decide only reads it), not one per request. */
  #needs(permission: string): Requirement {
    let r = this.#requirements.get(permission);
    if (!r) {
      r = Object.freeze({ permission });
      this.#requirements.set(permission, r);
    }
    return r;
  }

  /** A request refused before any decision (bad path, bad body): counted and audited like the rest. */
  refuse(
    door: Door,
    method: string,
    path: string,
    clientIp: string | undefined,
    message: string,
    startMs = performance.now(),
  ): Refused {
    this.#record({ door, method, path, clientIp }, 400, 'bad_request', undefined, startMs);
    return { allowed: false, status: 400, code: 'bad_request', message, rate: undefined };
  }

  async evaluate(f: Facts): Promise<Outcome> {
    return this.evaluateNow(f);
  }

  /**
   * As evaluate, without a promise when none is needed (no JWT, or the key's token is signed already):
   * the forward-auth door answers in the same tick then. The steps and their order are evaluate's.
   */
  evaluateNow(f: Facts): Outcome | Promise<Outcome> {
    const start = performance.now();
    const nowMs = this.#d.now();
    const d = decide({ key: f.key, clientIp: f.clientIp, requirement: f.requirement, nowMs }, this.#ctx);
    if (!d.allowed) {
      this.#record(f, d.status, d.code, d, start);
      return { allowed: false, status: d.status, code: d.code, message: d.message, rate: d.rate };
    }
    if (!this.#d.signing) return this.#allow(f, d, undefined, nowMs, start);
    const signer = this.#d.signing.signer;
    if (!signer) {
      this.#record(f, 503, 'identity_unavailable', d, start);
      return {
        allowed: false,
        status: 503,
        code: 'identity_unavailable',
        message: 'the JWT signing key is not loaded yet',
        rate: undefined,
      };
    }
    const signed = signer.signedToken(d.key, nowMs);
    if (signed !== undefined) return this.#allow(f, d, signed, nowMs, start);
    return signer.token(d.key, nowMs).then((jwt) => this.#allow(f, d, jwt, nowMs, start));
  }

  #allow(
    f: Facts,
    d: Decision & { allowed: true },
    jwt: string | undefined,
    nowMs: number,
    start: number,
  ): Allowed {
    this.#d.lastUsed?.seen(d.key, nowMs);
    this.#record(f, 200, 'ok', d, start);
    return {
      allowed: true,
      status: 200,
      decision: d,
      rate: d.rate,
      identity: { key: d.key, clientIp: f.clientIp, jwt },
    };
  }

  /** The decision again for an open tunnel: no rate-limit token, nothing counted or audited. */
  recheck(t: TunnelFacts, nowMs: number): Decision {
    return decidePresented(
      t.presented,
      { clientIp: t.clientIp, requirement: t.requirement, nowMs },
      this.#recheckCtx,
    );
  }

  /** One event per request, built here and handed as is to the metrics and the audit sink (no copy). */
  #record(r: Request, status: number, reason: string, d: Decision | undefined, startMs: number): void {
    const proven = d?.key;
    const event: DecisionEvent = {
      timeMs: this.#d.now(),
      door: r.door,
      keyId: proven?.keyId ?? (d && !d.allowed ? d.keyId : undefined),
      environment: d?.environment,
      method: r.method,
      path: r.path,
      status,
      reason,
      clientIp: r.clientIp,
      latencyMs: performance.now() - startMs,
      apiKeyNamespace: proven?.record.apiKey.namespace,
      apiKeyName: proven?.record.apiKey.name,
      requestId: r.requestId,
    };
    this.#d.metrics.decision(event);
    this.#d.audit.record(event);
  }
}

const UNMAPPED: Requirement = { unmapped: true };

/** A request id worth keeping: printable, bounded (it lands in the audit trail). */
function requestIdOf(v: string | string[] | undefined): string | undefined {
  const id = Array.isArray(v) ? v[0] : v;
  return id && /^[\x21-\x7e]{1,128}$/.test(id) ? id : undefined;
}
