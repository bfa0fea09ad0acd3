import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { type AuditSink, type Door, NO_AUDIT } from '../api/events.ts';
import type { KubeRest } from '../kube/rest.ts';
import { answerClientErrors } from '../observability/client-error.ts';
import type { Logger } from '../observability/logger.ts';
import { type CanonicalPath, canonicalPath } from '../rules/index.ts';
import { type Check, type Component, OK } from '../runtime/component.ts';
import { closeServer, listen, listeningPort } from '../runtime/listen.ts';
import { ClientAddressResolver } from './client-address.ts';
import type { ValidatorConfig } from './config/types.ts';
import { Gate } from './gate.ts';
import { AUTHZ_PATH, handleAuthz } from './http/authz.ts';
import { ReverseProxy } from './http/proxy.ts';
import { sendError, sendJson, writeRawError } from './http/respond.ts';
import { handleVerify, VERIFY_PATH } from './http/verify.ts';
import { SigningKeys } from './identity/signing-keys.ts';
import { KeyStore } from './key-store.ts';
import { LastUsedReporter } from './last-used.ts';
import { ValidatorMetrics } from './metrics.ts';
import { RateLimiter } from './rate-limiter.ts';
import { compileRoutes, splitTarget } from './routes.ts';

// Wiring: the key store, the gate and the three front doors, as a component the runner
// (src/runtime) serves /healthz, /readyz and /metrics for. Without an upstream the main port serves forward auth and the verify API. With one
// (reverse-proxy mode) the main port is public and serves only the proxied app: the doors that answer
// with identity (forward auth, verify) would let any client mint a signed identity there, so they are
// served only on the internal listener (server.internalPort, loopback by default), or nowhere. Not
// ready until the key store has synced (and the JWT key is loaded); once ready it stays ready while
// the API server is away, answering from its cache.

const JWKS_PATH = '/.well-known/jwks.json';
const AUTHZ_DOOR_PREFIX = `${AUTHZ_PATH}/`;

export interface ValidatorDeps {
  rest: KubeRest | undefined;
  log: Logger;
  audit?: AuditSink;
  /** A store to use instead of watching the API server (benchmarks). */
  store?: KeyStore;
  now?: () => number;
}

export class Validator implements Component {
  readonly name = 'validator';
  readonly config: ValidatorConfig;
  readonly store: KeyStore;
  readonly metrics: ValidatorMetrics;
  readonly gate: Gate;
  readonly #log: Logger;
  readonly #audit: AuditSink;
  readonly #signing: SigningKeys | undefined;
  readonly #lastUsed: LastUsedReporter | undefined;
  readonly #limiter = new RateLimiter();
  readonly #proxy: ReverseProxy | undefined;
  readonly #rest: KubeRest | undefined;
  readonly #resolver: ClientAddressResolver;
  #server: Server | undefined;
  #internal: Server | undefined;
  #sweep: NodeJS.Timeout | undefined;
  #stopping = false;
  /** Upgraded (websocket) connections: long-lived, so shutdown closes them instead of waiting. */
  readonly #tunnels = new Set<Socket>();

  constructor(config: ValidatorConfig, deps: ValidatorDeps) {
    this.config = config;
    this.#log = deps.log;
    this.#rest = deps.rest;
    this.#audit = deps.audit ?? NO_AUDIT;
    const now = deps.now ?? Date.now;
    if (!deps.store && !deps.rest) throw new Error('the validator needs API server access or a key store');
    this.store =
      deps.store ??
      KeyStore.watching(deps.rest as KubeRest, {
        ...config.keyStore,
        onError: (err, attempt) =>
          deps.log.warn(
            { err: (err as Error).message, attempt },
            'hash Secret watch failed; serving from cache, retrying',
          ),
      });
    this.store.on('refused', (ref, error) => {
      this.metrics.refusedRecords.inc();
      deps.log.warn({ secret: ref, error }, 'hash Secret refused; its key will not work here');
    });
    this.metrics = new ValidatorMetrics(this.store, { perKey: config.metrics.perKey, now });
    const jwt = config.identity.jwt;
    if (jwt) {
      this.#signing = new SigningKeys(
        jwt,
        (message) => deps.log.error(message),
        (kid) => deps.log.info({ kid }, 'JWT signing key loaded'),
      );
    }
    if (config.lastUsed.enabled && deps.rest) {
      this.#lastUsed = new LastUsedReporter(deps.rest, config.lastUsed.intervalMs, (outcome, err) => {
        this.metrics.lastUsedWrites.inc({ outcome });
        if (err && outcome === 'error')
          deps.log.warn({ err: (err as Error).message }, 'could not report lastUsedAt; will retry');
      });
    }
    const resolver = new ClientAddressResolver(config.trustedProxies);
    this.#resolver = resolver;
    this.gate = new Gate({
      config,
      store: this.store,
      limiter: this.#limiter,
      routes: compileRoutes(config.routes),
      resolver,
      signing: this.#signing,
      metrics: this.metrics,
      audit: this.#audit,
      lastUsed: this.#lastUsed,
      now,
    });
    if (config.upstream) {
      this.#proxy = new ReverseProxy({
        gate: this.gate,
        store: this.store,
        now,
        resolver,
        ...config.upstream,
        metrics: this.metrics,
        log: deps.log,
      });
    }
  }

  get registry() {
    return this.metrics.registry;
  }

  /** Alive even while the API server is away: restarting would only lose the cache. */
  health(): Check {
    return OK;
  }

  /** Not ready until the key store has synced and the JWT key is loaded; then ready until stopped. */
  ready(): Check {
    if (this.#stopping) return { ok: false, reason: 'shutting down' };
    if (!this.store.synced) return { ok: false, reason: 'key store not synced' };
    if (this.#signing && this.#signing.signer === undefined)
      return { ok: false, reason: 'JWT signing key not loaded' };
    return OK;
  }

  get port(): number {
    return listeningPort(this.#server);
  }

  /** The internal listener's port (forward auth and verify in reverse-proxy mode); 0 when off. */
  get internalPort(): number {
    return listeningPort(this.#internal);
  }

  async start(overrides: { port?: number; host?: string; internalPort?: number } = {}): Promise<void> {
    const t0 = Date.now();
    this.store.start();
    if (this.#signing && this.config.identity.jwt)
      this.#signing.start(this.config.identity.jwt.signingKey, this.#rest);
    void this.store.waitForSync(24 * 3600_000).then(
      () =>
        this.#log.info(
          { keys: this.store.size, unverified: this.store.unverified, ms: Date.now() - t0 },
          'key store synced',
        ),
      () => {},
    );
    this.#lastUsed?.start();
    this.#sweep = setInterval(() => this.#limiter.sweep(Date.now(), (id) => this.store.get(id)), 60_000);
    this.#sweep.unref();

    const host = overrides.host ?? this.config.server.host;
    // The main port serves the doors only when it is not a reverse proxy's public port.
    const mainDoors = !this.#proxy;
    this.#server = createServer({ keepAliveTimeout: 65_000 }, (req, res) =>
      this.#handle(req, res, mainDoors),
    );
    answerClientErrors(this.#server);
    this.#server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) =>
      this.#upgrade(req, socket, head),
    );
    await listen(this.#server, overrides.port ?? this.config.server.port, host);
    const internalPort = overrides.internalPort ?? this.config.server.internalPort;
    if (internalPort !== undefined) {
      this.#internal = createServer({ keepAliveTimeout: 65_000 }, (req, res) => this.#handle(req, res, true));
      answerClientErrors(this.#internal);
      this.#internal.on('upgrade', (_req: IncomingMessage, socket: Socket) => socket.destroy());
      await listen(this.#internal, internalPort, this.config.server.internalHost);
    }
  }

  #handle(req: IncomingMessage, res: ServerResponse, doors: boolean): void {
    const { path: target, query } = splitTarget(req.url ?? '/');
    // Decided once, before any door is chosen, so every door sees only canonical paths (the
    // forward-auth doors check the original request's path the same way: http/authz.ts).
    const checked = canonicalPath(target);
    if ('problem' in checked) {
      const door = doors ? doorOf(target) : 'proxy';
      const o = this.gate.refuse(door, req.method ?? 'GET', target, undefined, checked.problem);
      sendError(res, o.status, o.code, o.message);
      return;
    }
    // A door answers in this tick when it can (forward auth mostly does); a throw, now or later, is a 500.
    try {
      this.#route(req, res, checked.path, query, doors)?.catch((err: unknown) => this.#failed(res, err));
    } catch (err) {
      this.#failed(res, err);
    }
  }

  #failed(res: ServerResponse, err: unknown): void {
    this.#log.error({ err: (err as Error).message }, 'request failed');
    sendError(res, 500, 'internal_error', 'the validator failed to handle the request');
  }

  /** `doors`: this listener serves forward auth and verify (else it is the reverse proxy's public port). */
  #route(
    req: IncomingMessage,
    res: ServerResponse,
    path: CanonicalPath,
    query: string,
    doors: boolean,
  ): void | Promise<void> {
    if (path === JWKS_PATH && this.#signing) {
      sendJson(res, 200, JSON.stringify(this.#signing.jwks()), { 'Cache-Control': 'max-age=60' });
    } else if (!this.ready().ok && !this.#stopping) {
      sendError(res, 503, 'not_ready', 'the validator has not loaded its keys yet');
    } else if (
      doors &&
      this.config.forwardAuth.enabled &&
      (path === AUTHZ_PATH || path.startsWith(AUTHZ_DOOR_PREFIX))
    ) {
      return handleAuthz(this.gate, req, res, path, query);
    } else if (doors && this.config.verifyApi.enabled && path === VERIFY_PATH) {
      return handleVerify(this.gate, this.#resolver, req, res);
    } else if (this.#proxy && !doors) {
      return this.#proxy.handle(req, res, path);
    } else {
      sendError(
        res,
        404,
        'not_found',
        this.#proxy
          ? 'no such endpoint on the internal port'
          : 'no such endpoint (no upstream is configured)',
      );
    }
  }

  #upgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    const { path: target } = splitTarget(req.url ?? '/');
    const checked = canonicalPath(target);
    if ('problem' in checked) {
      const o = this.gate.refuse('proxy', req.method ?? 'GET', target, undefined, checked.problem);
      writeRawError(socket, o.status, o.code, o.message);
      return;
    }
    const { path } = checked;
    if (!this.#proxy || !this.ready().ok) {
      socket.destroy();
      return;
    }
    this.#tunnels.add(socket);
    socket.once('close', () => this.#tunnels.delete(socket));
    this.#proxy.upgrade(req, socket, head, path).catch((err: unknown) => {
      this.#log.error({ err: (err as Error).message }, 'upgrade failed');
      socket.destroy();
    });
  }

  /** Stop accepting, let in-flight requests finish (up to the shutdown timeout), then flush and stop. */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    for (const s of this.#tunnels) s.end();
    const timeoutMs = this.config.server.shutdownTimeoutMs;
    const [main] = await Promise.all([
      closeServer(this.#server, timeoutMs),
      closeServer(this.#internal, timeoutMs),
    ]);
    if (!main) this.#log.warn('in-flight requests did not finish within the shutdown timeout; closing them');
    this.#proxy?.close();
    if (this.#sweep) clearInterval(this.#sweep);
    await this.#lastUsed?.stop();
    await this.#audit.flush();
    this.#signing?.stop();
    this.store.stop();
  }
}

/** The door a path is for on a listener that serves the doors, to count a refusal before dispatch. */
function doorOf(path: string): Door {
  if (path === VERIFY_PATH) return 'verify';
  return path === AUTHZ_PATH || path.startsWith(AUTHZ_DOOR_PREFIX) ? 'authz' : 'proxy';
}
