import {
  Agent,
  type ClientRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { Socket } from 'node:net';
import { createProxyServer, type ProxyServer } from 'http-proxy-3';
import type { Logger } from '../../observability/logger.ts';
import { hashKey } from '../../rules/index.ts';
import type { ClientAddressResolver } from '../client-address.ts';
import type { Facts, Gate, Identity, Outcome } from '../gate.ts';
import { IDENTITY_HEADERS, identityHeaders, type KeySource, stripIncoming } from '../identity/headers.ts';
import type { KeyStore } from '../key-store.ts';
import type { ValidatorMetrics } from '../metrics.ts';
import { TunnelRegistry } from '../tunnels.ts';
import { hasBody, refusalHeaders, sendError, writeRawError } from './respond.ts';

// Reverse proxy to the upstream next to us (http-proxy-3: bodies stream both ways, websocket
// upgrades pass). Before forwarding, every header a client could use to claim an identity or
// a forwarding chain is replaced with what we know.
//
// Keep-alive on both sides: client connections stay open across answers (allowed or refused), and
// upstream connections are pooled (one agent; most recently used socket first, so the pool stays
// small and warm). Hop-by-hop headers (RFC 9110 7.6.1) are never passed on, in either direction, so
// one side's `Connection: close` or `Keep-Alive` never decides about the other side's connection.
// A pooled socket the upstream closed while idle is dropped before the upstream's own idle timeout
// (its `Keep-Alive: timeout=` hint, else UPSTREAM_IDLE_MS); if a request still meets one that closed
// under it, a request without a body and with an idempotent method is sent once more on a new
// connection rather than answered 502.

const FORWARDING_HEADERS = [
  'forwarded',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-forwarded-port',
  'x-real-ip',
];
/** RFC 9110 7.6.1, plus the old Proxy-Connection; plus whatever a Connection header names. */
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade'];
/** Never removed when a Connection header names them: Node frames the body from these. */
const FRAMING = new Set(['content-length', 'transfer-encoding', 'host']);
/** Idle upstream sockets older than this are closed by us first (Node's own servers wait 5 s). */
export const UPSTREAM_IDLE_MS = 4_000;
const RETRYABLE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);
const RETRYABLE_ERRORS = new Set(['ECONNRESET', 'EPIPE']);
const STARTED = Symbol('upstreamStart');
const OUTGOING = Symbol('upstreamRequest');
const RETRIED = Symbol('retried');

type ProxiedRequest = IncomingMessage & {
  [STARTED]?: number;
  [OUTGOING]?: ClientRequest;
  [RETRIED]?: boolean;
};

/** Removes the hop-by-hop headers and those a Connection header names (framing headers stay). */
function dropHopByHop(headers: IncomingHttpHeaders): void {
  const named = headers.connection;
  if (named) {
    for (const token of (Array.isArray(named) ? named.join(',') : named).split(',')) {
      const name = token.trim().toLowerCase();
      if (name && !FRAMING.has(name)) delete headers[name];
    }
  }
  for (const h of HOP_BY_HOP) delete headers[h];
}

export class ReverseProxy {
  readonly #proxy: ProxyServer;
  readonly #gate: Gate;
  readonly #resolver: ClientAddressResolver;
  readonly #target: string;
  readonly #tunnels: TunnelRegistry;
  readonly #agent: Agent;

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
    this.#agent = new Agent({ keepAlive: true, timeout: UPSTREAM_IDLE_MS, scheduling: 'lifo' });
    this.#proxy = createProxyServer({
      target: opts.url,
      proxyTimeout: opts.timeoutMs,
      xfwd: false,
      ws: true,
      agent: this.#agent,
      // The answer is written here, without the upstream's hop-by-hop headers.
      selfHandleResponse: true,
    });
    this.#proxy.on('proxyReq', (proxyReq, req) => {
      const r = req as ProxiedRequest;
      r[STARTED] = performance.now();
      r[OUTGOING] = proxyReq;
    });
    this.#proxy.on('proxyReqWs', (proxyReq, _req, socket) => {
      proxyReq.on('upgrade', (_res, upstream: Socket) =>
        this.#tunnels.attachUpstream(socket as Socket, upstream),
      );
    });
    this.#proxy.on('proxyRes', (proxyRes, req, res) => {
      const start = (req as ProxiedRequest)[STARTED];
      const status = proxyRes.statusCode ?? 502;
      if (start !== undefined) {
        opts.metrics.upstreamSeconds.observe(
          { code_class: `${Math.floor(status / 100)}xx` },
          (performance.now() - start) / 1000,
        );
      }
      const headers = { ...proxyRes.headers };
      dropHopByHop(headers);
      // Node frames the answer to our client itself (chunked when there is no Content-Length).
      delete headers['transfer-encoding'];
      res.writeHead(status, proxyRes.statusMessage, headers);
      // Streamed by hand, with backpressure: pipeline builds an AbortController per answer and pipe
      // adds seven listeners (together a sixth of the proxy's CPU in the profile). A client that goes
      // away ends the upstream request (http-proxy-3); an upstream that breaks off breaks off ours.
      proxyRes.on('data', (chunk: Buffer) => {
        if (!res.write(chunk)) {
          proxyRes.pause();
          res.once('drain', () => proxyRes.resume());
        }
      });
      proxyRes.once('end', () => res.end());
      proxyRes.once('error', (err) => {
        opts.log.warn({ err: err.message, upstream: opts.url }, 'upstream answer cut short');
        res.destroy();
      });
    });
    this.#proxy.on('error', (err, req, resOrSocket) => {
      if (!('writeHead' in resOrSocket)) {
        opts.metrics.upstreamErrors.inc();
        (resOrSocket as Socket).destroy();
        return;
      }
      const res = resOrSocket as ServerResponse;
      const r = req as ProxiedRequest;
      if (this.#retryable(r, res, err as NodeJS.ErrnoException)) {
        r[RETRIED] = true;
        // A socket the upstream closed while idle: once more, on a connection of its own.
        this.#proxy.web(req, res, { target: this.#target, agent: false });
        return;
      }
      opts.metrics.upstreamErrors.inc();
      opts.log.warn({ err: err.message, upstream: opts.url }, 'upstream request failed');
      sendError(res, 502, 'upstream_unavailable', 'the upstream did not answer');
    });
  }

  async handle(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
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
    this.#proxy.web(req, res, { target: this.#target });
  }

  async upgrade(req: IncomingMessage, socket: Socket, head: Buffer, path: string): Promise<void> {
    const { outcome, facts } = await this.#authorize(req, path);
    if (!outcome.allowed)
      return writeRawError(socket, outcome.status, outcome.code, outcome.message, refusalHeaders(outcome));
    const { key, clientIp, requirement } = facts as Facts; // set whenever the gate got to decide
    // Decided again whenever the key changes or its time runs out (finding: a tunnel outlived its key).
    this.#tunnels.open(socket, {
      presented: {
        keyId: outcome.decision.key.keyId,
        environment: outcome.decision.environment,
        hash: hashKey(key as string),
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
    this.#agent.destroy();
  }

  /** Sent once more only when nothing was answered and nothing but headers was sent (no body). */
  #retryable(req: ProxiedRequest, res: ServerResponse, err: NodeJS.ErrnoException): boolean {
    return (
      !req[RETRIED] &&
      req[OUTGOING]?.reusedSocket === true &&
      RETRYABLE_ERRORS.has(err.code ?? '') &&
      !res.headersSent &&
      RETRYABLE_METHODS.has(req.method ?? '') &&
      !hasBody(req)
    );
  }

  /** The gate's outcome; once allowed, the request's headers are rewritten for the upstream. */
  async #authorize(
    req: IncomingMessage,
    path: string,
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
