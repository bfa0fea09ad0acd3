import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Histogram } from 'prom-client';
import { Client, type Dispatcher, Pool } from 'undici';
import type { Logger } from '../../observability/logger.ts';
import type { ValidatorMetrics } from '../metrics.ts';
import { hasBody, sendError } from './respond.ts';

// One allowed HTTP request to the upstream and its answer back, on undici's dispatcher (Node's own
// fetch client): it costs about a third less CPU per request than node:http's ClientRequest, the
// largest part of the proxy's own work in the profile. What a proxy library did is kept, in the same
// order: the request target joined to the upstream URL's path (read as WHATWG URL reads it), DELETE
// and OPTIONS without a body framed with Content-Length: 0, the upstream timeout, the upstream request
// ended when our client goes away, and the upstream's hop-by-hop headers never passed back.
//
// Keep-alive: upstream connections are pooled (undici's Pool). A pooled socket is dropped before the
// upstream's own idle timeout (its `Keep-Alive: timeout=` hint, else UPSTREAM_IDLE_MS); if a request
// still meets one that closed under it, a request without a body and with an idempotent method is sent
// once more on a new connection rather than answered 502.

/**
 * Answer headers Node's HTTP client kept only once (IncomingMessage): a second Content-Type or Location
 * from the upstream never reaches our client, as before undici (which hands over every copy).
 */
const SINGLE_VALUED = new Set([
  'age',
  'authorization',
  'content-type',
  'etag',
  'expires',
  'from',
  'host',
  'if-modified-since',
  'if-unmodified-since',
  'last-modified',
  'location',
  'max-forwards',
  'proxy-authorization',
  'referer',
  'retry-after',
  'server',
  'user-agent',
]);

/** Repeated answer headers as Node's client read them: set-cookie kept as a list, the single-valued first, others joined. */
function likeNodeClient(headers: IncomingHttpHeaders): void {
  for (const name in headers) {
    const v = headers[name];
    if (!Array.isArray(v) || name === 'set-cookie') continue;
    headers[name] = SINGLE_VALUED.has(name) ? v[0] : v.join(', ');
  }
}

/** RFC 9110 7.6.1, plus the old Proxy-Connection; plus whatever a Connection header names. */
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade'];
/** Never removed when a Connection header names them: Node frames the body from these. */
const FRAMING = new Set(['content-length', 'transfer-encoding', 'host']);
/** Idle upstream sockets older than this are closed by us first (Node's own servers wait 5 s). */
export const UPSTREAM_IDLE_MS = 4_000;
const RETRYABLE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);
/** A connection closed under the request (undici's 'other side closed' is UND_ERR_SOCKET). */
const RETRYABLE_ERRORS = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET']);
/** Request headers undici frames or refuses itself; hop-by-hop ones are already gone (dropHopByHop). */
const CLIENT_FRAMED = ['transfer-encoding', 'expect'];

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
  readonly #pool: Pool;
  readonly #origin: string;
  readonly #prefix: string;
  readonly #timeoutMs: number;
  readonly #url: string;
  readonly #metrics: ValidatorMetrics;
  readonly #log: Logger;
  /** The upstream duration histogram bound per status class, on first use. */
  readonly #byClass = new Map<number, ReturnType<Histogram<'code_class'>['labels']>>();

  constructor(opts: { url: string; timeoutMs: number; metrics: ValidatorMetrics; log: Logger }) {
    const u = new URL(opts.url);
    this.#origin = u.origin;
    this.#timeoutMs = opts.timeoutMs;
    this.#pool = new Pool(u.origin, this.#clientOptions());
    this.#prefix = u.pathname.endsWith('/') ? u.pathname.slice(0, -1) : u.pathname;
    this.#url = opts.url;
    this.#metrics = opts.metrics;
    this.#log = opts.log;
  }

  #clientOptions(): Pool.Options {
    return {
      keepAliveTimeout: UPSTREAM_IDLE_MS,
      headersTimeout: this.#timeoutMs,
      bodyTimeout: this.#timeoutMs,
    };
  }

  /** Idle upstream connections closed, in-flight requests ended. */
  close(): Promise<void> {
    return this.#pool.destroy();
  }

  /** Sends `req` (its headers already rewritten for the upstream) and streams the answer to `res`. */
  forward(req: IncomingMessage, res: ServerResponse, retried = false): void {
    const { headers } = req;
    const method = req.method ?? 'GET';
    const body = hasBody(req);
    if ((method === 'DELETE' || method === 'OPTIONS') && !headers['content-length']) {
      headers['content-length'] = '0';
      delete headers['transfer-encoding'];
    }
    for (const h of CLIENT_FRAMED) delete headers[h];
    // A retry goes on a connection of its own, closed after it (upgrades are not forwarded here).
    const client: Dispatcher = retried ? new Client(this.#origin, this.#clientOptions()) : this.#pool;
    const answer = new Answer(this, req, res, retried);
    try {
      client.dispatch(
        {
          method: method as Dispatcher.HttpMethod,
          path: upstreamTarget(this.#prefix, req.url ?? '/'),
          headers: headers as Record<string, string>,
          body: body ? req : null,
          reset: retried,
        },
        answer,
      );
    } catch (err) {
      // undici refuses a header or method it cannot send: answered as the upstream failing.
      answer.onResponseError(undefined, err as Error);
    }
    if (retried) res.once('close', () => void client.close());
  }

  /** Records the upstream's status class and time. */
  observe(status: number, start: number): void {
    const cls = Math.floor(status / 100);
    let bound = this.#byClass.get(cls);
    if (!bound) {
      bound = this.#metrics.upstreamSeconds.labels({ code_class: `${cls}xx` });
      this.#byClass.set(cls, bound);
    }
    bound.observe((performance.now() - start) / 1000);
  }

  cutShort(err: Error): void {
    this.#log.warn({ err: err.message, upstream: this.#url }, 'upstream answer cut short');
  }

  failed(err: Error & { code?: string }, req: IncomingMessage, res: ServerResponse, retried: boolean): void {
    // Sent once more only when nothing was answered and nothing but headers was sent (no body).
    const retryable =
      !retried &&
      RETRYABLE_ERRORS.has(err.code ?? '') &&
      !res.headersSent &&
      !res.destroyed &&
      RETRYABLE_METHODS.has(req.method ?? '') &&
      !hasBody(req);
    if (retryable) {
      // A socket the upstream closed while idle: once more, on a connection of its own.
      this.forward(req, res, true);
      return;
    }
    this.#metrics.upstreamErrors.inc();
    this.#log.warn({ err: err.message, upstream: this.#url }, 'upstream request failed');
    if (res.headersSent) res.destroy();
    else if (!res.destroyed) sendError(res, 502, 'upstream_unavailable', 'the upstream did not answer');
  }
}

/** One request's answer, streamed from undici to our client with backpressure. */
class Answer implements Dispatcher.DispatchHandler {
  readonly #forwarder: UpstreamForwarder;
  readonly #req: IncomingMessage;
  readonly #res: ServerResponse;
  readonly #retried: boolean;
  readonly #start = performance.now();
  #started = false;
  /** Our client went away, or the answer is complete: nothing more goes to `res`. */
  #done = false;

  constructor(forwarder: UpstreamForwarder, req: IncomingMessage, res: ServerResponse, retried: boolean) {
    this.#forwarder = forwarder;
    this.#req = req;
    this.#res = res;
    this.#retried = retried;
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    // A client that goes away ends the upstream request.
    this.#res.once('close', () => {
      if (this.#done || this.#res.writableFinished) return;
      this.#done = true;
      controller.abort(new Error('the client went away'));
    });
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    status: number,
    headers: IncomingHttpHeaders,
    statusMessage?: string,
  ): void {
    this.#started = true;
    this.#forwarder.observe(status, this.#start);
    const res = this.#res;
    if (this.#done) return;
    // Two Content-Length headers are a framing our client could read apart from us: refused.
    if (Array.isArray(headers['content-length'])) {
      controller.abort(new Error('the upstream sent Content-Length twice'));
      return;
    }
    likeNodeClient(headers);
    // The answer's own header object, trimmed in place: hop-by-hop headers stay on the upstream's side.
    dropHopByHop(headers);
    // Node frames the answer to our client itself (chunked when there is no Content-Length).
    delete headers['transfer-encoding'];
    res.writeHead(status, statusMessage || undefined, headers);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.#res.write(chunk)) {
      controller.pause();
      this.#res.once('drain', () => controller.resume());
    }
  }

  onResponseEnd(): void {
    this.#done = true;
    this.#res.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, err: Error): void {
    if (this.#done) return; // our client went away first
    this.#done = true;
    if (this.#started && this.#res.headersSent) {
      // An upstream that breaks off breaks off ours.
      this.#forwarder.cutShort(err);
      this.#res.destroy();
      return;
    }
    this.#forwarder.failed(err, this.#req, this.#res, this.#retried);
  }
}
