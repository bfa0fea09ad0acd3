import {
  Agent,
  type ClientRequest,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type RequestOptions,
  type ServerResponse,
} from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Histogram } from 'prom-client';
import type { Logger } from '../../observability/logger.ts';
import type { ValidatorMetrics } from '../metrics.ts';
import { hasBody, sendError } from './respond.ts';

// One allowed HTTP request to the upstream and its answer back, on node:http directly: a proxy
// library's per-request set-up (a URL parsed per request, the options and headers copied, pipe's
// listeners) was a third of the reverse proxy's CPU in the profile. What it did is kept, in the same
// order: the request target joined to the upstream URL's path (read as WHATWG URL reads it), DELETE
// and OPTIONS without a body framed with Content-Length: 0, the upstream timeout, the upstream
// request ended when our client goes away, and the upstream's hop-by-hop headers never passed back.
//
// Keep-alive: upstream connections are pooled (one agent; most recently used socket first, so the
// pool stays small and warm). A pooled socket the upstream closed while idle is dropped before the
// upstream's own idle timeout (its `Keep-Alive: timeout=` hint, else UPSTREAM_IDLE_MS); if a request
// still meets one that closed under it, a request without a body and with an idempotent method is sent
// once more on a new connection rather than answered 502.

/** RFC 9110 7.6.1, plus the old Proxy-Connection; plus whatever a Connection header names. */
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade'];
/** Never removed when a Connection header names them: Node frames the body from these. */
const FRAMING = new Set(['content-length', 'transfer-encoding', 'host']);
/** Idle upstream sockets older than this are closed by us first (Node's own servers wait 5 s). */
export const UPSTREAM_IDLE_MS = 4_000;
const RETRYABLE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);
const RETRYABLE_ERRORS = new Set(['ECONNRESET', 'EPIPE']);

/** Removes the hop-by-hop headers and those a Connection header names (framing headers stay). */
export function dropHopByHop(headers: IncomingHttpHeaders): void {
  const named = headers.connection;
  if (named) {
    for (const token of (Array.isArray(named) ? named.join(',') : named).split(',')) {
      const name = token.trim().toLowerCase();
      if (name && !FRAMING.has(name)) delete headers[name];
    }
  }
  for (const h of HOP_BY_HOP) delete headers[h];
}

/**
 * A request target spelled in characters WHATWG URL leaves as they are, with no dot segment: passed on
 * byte for byte. Anything else is read by WHATWG URL first, as the proxy library did.
 */
const PLAIN_TARGET_RE = /^\/(?!\/)[A-Za-z0-9\-._~!$&()*+,;=:@%/?]*$/;
const DOT_OR_ENCODED_DOT_RE = /\/\.|%2e/i;

/** The target as the upstream gets it: `pathname` + `search` of the request target, after `prefix`. */
export function upstreamTarget(prefix: string, target: string): string {
  let t: string;
  if (PLAIN_TARGET_RE.test(target) && !DOT_OR_ENCODED_DOT_RE.test(target)) {
    t = target.endsWith('?') && target.indexOf('?') === target.length - 1 ? target.slice(0, -1) : target;
  } else if (target === '' || target.startsWith('?')) {
    t = target;
  } else {
    const u = new URL(
      target.startsWith('//') ? `http://base.invalid${target}` : target,
      'http://base.invalid',
    );
    t = `${u.pathname}${u.search}`;
  }
  return prefix + t;
}

export class UpstreamForwarder {
  readonly agent: Agent;
  readonly #base: RequestOptions;
  readonly #request: typeof httpRequest;
  readonly #prefix: string;
  readonly #timeoutMs: number;
  readonly #url: string;
  readonly #metrics: ValidatorMetrics;
  readonly #log: Logger;
  /** The upstream duration histogram bound per status class, on first use. */
  readonly #byClass = new Map<number, ReturnType<Histogram<'code_class'>['labels']>>();

  constructor(opts: { url: string; timeoutMs: number; metrics: ValidatorMetrics; log: Logger }) {
    const u = new URL(opts.url);
    const tls = u.protocol === 'https:';
    // An https upstream needs an https agent: Node refuses an http one (ERR_INVALID_PROTOCOL, thrown
    // on every request; the keep-alive pool had broken https upstreams before this file).
    const pool = { keepAlive: true, timeout: UPSTREAM_IDLE_MS, scheduling: 'lifo' } as const;
    this.agent = tls ? new HttpsAgent(pool) : new Agent(pool);
    this.#request = tls ? (httpsRequest as typeof httpRequest) : httpRequest;
    const hostname = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
    this.#base = { hostname, port: Number(u.port || (u.protocol === 'https:' ? 443 : 80)) };
    this.#prefix = u.pathname.endsWith('/') ? u.pathname.slice(0, -1) : u.pathname;
    this.#timeoutMs = opts.timeoutMs;
    this.#url = opts.url;
    this.#metrics = opts.metrics;
    this.#log = opts.log;
  }

  /** Sends `req` (its headers already rewritten for the upstream) and streams the answer to `res`. */
  forward(req: IncomingMessage, res: ServerResponse, retried = false): void {
    const { headers } = req;
    const method = req.method ?? 'GET';
    if ((method === 'DELETE' || method === 'OPTIONS') && !headers['content-length']) {
      headers['content-length'] = '0';
      delete headers['transfer-encoding'];
    }
    // A retry goes on a connection of its own, closed after it (upgrades are not forwarded here).
    if (retried) headers.connection = 'close';
    const start = performance.now();
    const up = this.#request({
      ...this.#base,
      method,
      path: upstreamTarget(this.#prefix, req.url ?? '/'),
      headers,
      agent: retried ? false : this.agent,
    });
    up.setTimeout(this.#timeoutMs, () => up.destroy());
    // A client that goes away ends the upstream request.
    res.once('close', () => {
      if (!res.writableFinished) up.destroy();
    });
    const onError = (err: NodeJS.ErrnoException) => {
      if (req.socket.destroyed && err.code === 'ECONNRESET') {
        up.destroy();
        return;
      }
      this.#failed(err, req, res, up, retried);
    };
    req.on('error', onError);
    up.on('error', onError);
    up.once('response', (answer: IncomingMessage) => this.#answer(answer, res, start));
    if (hasBody(req)) req.pipe(up);
    else up.end();
  }

  #answer(answer: IncomingMessage, res: ServerResponse, start: number): void {
    const status = answer.statusCode ?? 502;
    const cls = Math.floor(status / 100);
    let bound = this.#byClass.get(cls);
    if (!bound) {
      bound = this.#metrics.upstreamSeconds.labels({ code_class: `${cls}xx` });
      this.#byClass.set(cls, bound);
    }
    bound.observe((performance.now() - start) / 1000);
    // The answer's own header object, trimmed in place: hop-by-hop headers stay on the upstream's side.
    const headers = answer.headers;
    dropHopByHop(headers);
    // Node frames the answer to our client itself (chunked when there is no Content-Length).
    delete headers['transfer-encoding'];
    res.writeHead(status, answer.statusMessage, headers);
    // Streamed by hand, with backpressure: pipeline builds an AbortController per answer and pipe
    // adds seven listeners. An upstream that breaks off breaks off ours.
    answer.on('data', (chunk: Buffer) => {
      if (!res.write(chunk)) {
        answer.pause();
        res.once('drain', () => answer.resume());
      }
    });
    answer.once('end', () => res.end());
    answer.once('error', (err) => {
      this.#log.warn({ err: err.message, upstream: this.#url }, 'upstream answer cut short');
      res.destroy();
    });
  }

  #failed(
    err: NodeJS.ErrnoException,
    req: IncomingMessage,
    res: ServerResponse,
    up: ClientRequest,
    retried: boolean,
  ): void {
    // Sent once more only when nothing was answered and nothing but headers was sent (no body).
    const retryable =
      !retried &&
      up.reusedSocket &&
      RETRYABLE_ERRORS.has(err.code ?? '') &&
      !res.headersSent &&
      RETRYABLE_METHODS.has(req.method ?? '') &&
      !hasBody(req);
    if (retryable) {
      // A socket the upstream closed while idle: once more, on a connection of its own.
      this.forward(req, res, true);
      return;
    }
    this.#metrics.upstreamErrors.inc();
    this.#log.warn({ err: err.message, upstream: this.#url }, 'upstream request failed');
    sendError(res, 502, 'upstream_unavailable', 'the upstream did not answer');
  }
}
