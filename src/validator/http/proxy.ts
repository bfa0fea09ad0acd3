import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { createProxyServer, type ProxyServer } from 'http-proxy-3';
import type { Logger } from '../../observability/logger.ts';
import { type CanonicalPath, keyDigest } from '../../rules/index.ts';
import type { ClientAddressResolver } from '../client-address.ts';
import type { Facts, Gate, Identity, Outcome } from '../gate.ts';
import { IDENTITY_HEADERS, identityHeaders, type KeySource, stripIncoming } from '../identity/headers.ts';
import type { KeyStore } from '../key-store.ts';
import type { ValidatorMetrics } from '../metrics.ts';
import { TunnelRegistry } from '../tunnels.ts';
import { dropHopByHop, UpstreamForwarder } from './forward.ts';
import { refusalHeaders, sendError, writeRawError } from './respond.ts';

// Reverse proxy to the upstream next to us. Before forwarding, every header a client could use to
// claim an identity or a forwarding chain is replaced with what we know. HTTP requests go through
// forward.ts (undici, keep-alive pool, bodies streamed both ways); websocket upgrades through
// http-proxy-3, each on a connection of its own.
//
// Keep-alive on both sides: client connections stay open across answers (allowed or refused).
// Hop-by-hop headers (RFC 9110 7.6.1) are never passed on, in either direction, so one side's
// `Connection: close` or `Keep-Alive` never decides about the other side's connection.

const FORWARDING_HEADERS = [
  'forwarded',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-forwarded-port',
  'x-real-ip',
];

export class ReverseProxy {
  readonly #proxy: ProxyServer;
  readonly #gate: Gate;
  readonly #resolver: ClientAddressResolver;
  readonly #target: string;
  readonly #tunnels: TunnelRegistry;
  readonly #forwarder: UpstreamForwarder;

  constructor(opts: {
    gate: Gate;
    store: KeyStore;
    now: () => number;
    resolver: ClientAddressResolver;
    url: string;
    timeoutMs: number;
    metrics: ValidatorMetrics;
    log: Logger;
  }) {
    this.#gate = opts.gate;
    this.#tunnels = new TunnelRegistry({
      store: opts.store,
      decide: (t, nowMs) => opts.gate.recheck(t, nowMs),
      now: opts.now,
      onClose: (keyId, reason) => {
        opts.metrics.tunnelsClosed.inc({ reason });
        opts.log.info({ keyId, reason }, 'websocket tunnel closed: its key is no longer valid for it');
      },
    });
    this.#resolver = opts.resolver;
    this.#target = opts.url;
    this.#forwarder = new UpstreamForwarder(opts);
    this.#proxy = createProxyServer({
      target: opts.url,
      proxyTimeout: opts.timeoutMs,
      xfwd: false,
      ws: true,
    });
    this.#proxy.on('proxyReqWs', (proxyReq, _req, socket) => {
      proxyReq.on('upgrade', (_res, upstream: Socket) =>
        this.#tunnels.attachUpstream(socket as Socket, upstream),
      );
    });
    // Only websocket tunnels pass through http-proxy-3: its errors arrive with the client's socket.
    this.#proxy.on('error', (_err, _req, resOrSocket) => {
      opts.metrics.upstreamErrors.inc();
      if ('destroy' in resOrSocket) resOrSocket.destroy();
    });
  }

  async handle(req: IncomingMessage, res: ServerResponse, path: CanonicalPath): Promise<void> {
    const { outcome } = await this.#authorize(req, path);
    if (!outcome.allowed)
      return sendError(res, outcome.status, outcome.code, outcome.message, refusalHeaders(outcome));
    // RateLimit-* go back to the client; identity headers go only upstream (#authorize set them).
    const { rate } = outcome;
    if (rate) {
      res.setHeader('RateLimit-Limit', String(rate.limit));
      res.setHeader('RateLimit-Remaining', String(rate.remaining));
      res.setHeader('RateLimit-Reset', String(rate.resetSeconds));
    }
    this.#forwarder.forward(req, res);
  }

  async upgrade(req: IncomingMessage, socket: Socket, head: Buffer, path: CanonicalPath): Promise<void> {
    const { outcome, facts } = await this.#authorize(req, path);
    if (!outcome.allowed)
      return writeRawError(socket, outcome.status, outcome.code, outcome.message, refusalHeaders(outcome));
    const { key, clientIp, requirement } = facts as Facts; // set whenever the gate got to decide
    // Decided again whenever the key changes or its time runs out (finding: a tunnel outlived its key).
    this.#tunnels.open(socket, {
      presented: {
        keyId: outcome.decision.key.keyId,
        environment: outcome.decision.environment,
        digest: keyDigest(key as string),
      },
      clientIp,
      requirement,
    });
    // A tunnel is a connection of its own: never from (or back into) the keep-alive pool.
    this.#proxy.ws(req, socket, head, { target: this.#target, agent: false });
  }

  /** Open websocket tunnels (for tests and metrics). */
  get tunnels(): number {
    return this.#tunnels.size;
  }

  close(): void {
    this.#tunnels.stop();
    this.#proxy.close();
    void this.#forwarder.close();
  }

  /** The gate's outcome; once allowed, the request's headers are rewritten for the upstream. */
  async #authorize(
    req: IncomingMessage,
    path: CanonicalPath,
  ): Promise<{ outcome: Outcome; facts: Facts | undefined }> {
    const peer = req.socket.remoteAddress;
    const got = this.#gate.httpFacts('proxy', req.method ?? 'GET', path, req.headers, peer);
    if ('problem' in got) {
      const outcome = this.#gate.refuse('proxy', req.method ?? 'GET', path, undefined, got.problem);
      return { outcome, facts: undefined };
    }
    const outcome = await this.#gate.evaluate(got.facts);
    if (outcome.allowed) this.#rewriteHeaders(req, got.keySource, peer, outcome.identity);
    return { outcome, facts: got.facts };
  }

  #rewriteHeaders(
    req: IncomingMessage,
    keySource: KeySource | undefined,
    peer: string | undefined,
    identity: Identity,
  ): void {
    const { headers } = req;
    const upgrade = req.headers.upgrade;
    // First: a Connection header naming one of the headers set below must not remove ours.
    dropHopByHop(headers);
    if (upgrade !== undefined && arrivedAsUpgrade(req)) {
      headers.connection = 'upgrade';
      headers.upgrade = upgrade;
    }
    const forwardedFor = this.#resolver.forwardedFor(peer, headers['x-forwarded-for']);
    const trusted = this.#resolver.isTrusted(peer);
    stripIncoming(headers, keySource);
    if (!trusted) for (const h of FORWARDING_HEADERS) delete headers[h];
    if (forwardedFor) headers['x-forwarded-for'] = forwardedFor;
    else delete headers['x-forwarded-for'];
    headers['x-forwarded-proto'] ??= 'http';
    if (headers.host) headers['x-forwarded-host'] ??= headers.host;
    const ids = identityHeaders(identity.key, identity.clientIp, identity.jwt);
    for (const k in ids) headers[UPSTREAM_NAME.get(k) ?? k.toLowerCase()] = ids[k];
  }
}

/** The identity headers as Node spells incoming names (lower case), worked out once. */
const UPSTREAM_NAME = new Map<string, string>(
  Object.values(IDENTITY_HEADERS).map((n) => [n, n.toLowerCase()]),
);

/** Only a request Node handed to the 'upgrade' event keeps its Upgrade header (http-proxy-3 takes websockets only). */
function arrivedAsUpgrade(req: IncomingMessage): boolean {
  return (req as IncomingMessage & { upgrade?: boolean }).upgrade === true;
}
