import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { createProxyServer, type ProxyServer } from 'http-proxy-3';
import type { Logger } from '../../observability/logger.ts';
import { hashKey } from '../../rules/index.ts';
import type { ClientAddressResolver } from '../client-address.ts';
import type { Facts, Gate, Outcome } from '../gate.ts';
import { type KeySource, stripIncoming } from '../identity/headers.ts';
import type { KeyStore } from '../key-store.ts';
import type { ValidatorMetrics } from '../metrics.ts';
import { TunnelRegistry } from '../tunnels.ts';
import { sendError, writeRawError } from './respond.ts';

// Reverse proxy to the upstream next to us (http-proxy-3: bodies stream both ways, websocket
// upgrades pass). Before forwarding, every header a client could use to claim an identity or
// a forwarding chain is replaced with what we know.

const FORWARDING_HEADERS = [
  'forwarded',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-forwarded-port',
  'x-real-ip',
];
const STARTED = Symbol('upstreamStart');

export class ReverseProxy {
  readonly #proxy: ProxyServer;
  readonly #gate: Gate;
  readonly #resolver: ClientAddressResolver;
  readonly #target: string;
  readonly #tunnels: TunnelRegistry;

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
    this.#proxy = createProxyServer({
      target: opts.url,
      proxyTimeout: opts.timeoutMs,
      xfwd: false,
      ws: true,
    });
    this.#proxy.on('proxyReq', (_p, req) => {
      (req as IncomingMessage & { [STARTED]?: number })[STARTED] = performance.now();
    });
    this.#proxy.on('proxyReqWs', (proxyReq, _req, socket) => {
      proxyReq.on('upgrade', (_res, upstream: Socket) =>
        this.#tunnels.attachUpstream(socket as Socket, upstream),
      );
    });
    this.#proxy.on('proxyRes', (res, req) => {
      const start = (req as IncomingMessage & { [STARTED]?: number })[STARTED];
      if (start !== undefined) {
        const status = res.statusCode ?? 0;
        opts.metrics.upstreamSeconds.observe(
          { code_class: `${Math.floor(status / 100)}xx` },
          (performance.now() - start) / 1000,
        );
      }
    });
    this.#proxy.on('error', (err, _req, resOrSocket) => {
      opts.metrics.upstreamErrors.inc();
      opts.log.warn({ err: err.message, upstream: opts.url }, 'upstream request failed');
      if ('writeHead' in resOrSocket)
        sendError(resOrSocket as ServerResponse, 502, 'upstream_unavailable', 'the upstream did not answer');
      else (resOrSocket as Socket).destroy();
    });
  }

  async handle(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const outcome = await this.#authorize(req, path);
    if (!outcome.allowed)
      return sendError(res, outcome.status, outcome.code, outcome.message, outcome.headers);
    // RateLimit-* go back to the client; identity headers go only upstream.
    for (const [k, v] of Object.entries(outcome.headers)) {
      if (/^(?:ratelimit-|retry-after)/i.test(k)) res.setHeader(k, v);
    }
    this.#proxy.web(req, res, { target: this.#target });
  }

  async upgrade(req: IncomingMessage, socket: Socket, head: Buffer, path: string): Promise<void> {
    const outcome = await this.#authorize(req, path);
    if (!outcome.allowed)
      return writeRawError(socket, outcome.status, outcome.code, outcome.message, outcome.headers);
    // Decided again whenever the key changes or its time runs out (finding: a tunnel outlived its key).
    const { facts } = outcome;
    this.#tunnels.open(socket, {
      presented: {
        keyId: outcome.decision.key.keyId,
        environment: outcome.decision.environment,
        hash: hashKey(facts.key as string),
      },
      clientIp: facts.clientIp,
      requirement: facts.requirement,
    });
    this.#proxy.ws(req, socket, head, { target: this.#target });
  }

  /** Open websocket tunnels (for tests and metrics). */
  get tunnels(): number {
    return this.#tunnels.size;
  }

  close(): void {
    this.#tunnels.stop();
    this.#proxy.close();
  }

  async #authorize(
    req: IncomingMessage,
    path: string,
  ): Promise<(Outcome & { allowed: false }) | (Outcome & { allowed: true; facts: Facts })> {
    const peer = req.socket.remoteAddress;
    const got = this.#gate.httpFacts('proxy', req.method ?? 'GET', path, req.headers, peer);
    if ('problem' in got)
      return this.#gate.refuse('proxy', req.method ?? 'GET', path, undefined, got.problem);
    const outcome = await this.#gate.evaluate(got.facts);
    if (!outcome.allowed) return outcome;
    this.#rewriteHeaders(req.headers, got.keySource, peer, outcome.headers);
    return { ...outcome, facts: got.facts };
  }

  #rewriteHeaders(
    headers: IncomingHttpHeaders,
    keySource: KeySource | undefined,
    peer: string | undefined,
    identity: Record<string, string>,
  ): void {
    const forwardedFor = this.#resolver.forwardedFor(peer, headers['x-forwarded-for']);
    const trusted = this.#resolver.isTrusted(peer);
    stripIncoming(headers, keySource);
    if (!trusted) for (const h of FORWARDING_HEADERS) delete headers[h];
    if (forwardedFor) headers['x-forwarded-for'] = forwardedFor;
    else delete headers['x-forwarded-for'];
    headers['x-forwarded-proto'] ??= 'http';
    if (headers.host) headers['x-forwarded-host'] ??= headers.host;
    for (const [k, v] of Object.entries(identity)) {
      if (!/^(?:ratelimit-|retry-after)/i.test(k)) headers[k.toLowerCase()] = v;
    }
  }
}
