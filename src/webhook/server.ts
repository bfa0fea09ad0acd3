import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import express from 'express';
import type { EffectivePolicy } from '../api/policy.ts';
import { handlePodReview, INJECT_PATH, type InjectorConfig } from '../injector/index.ts';
import { failureStatus, type HandledReview } from '../kube/admission/envelope.ts';
import { answerClientErrors } from '../observability/client-error.ts';
import type { Logger } from '../observability/logger.ts';
import { closeServer, listen, listeningPort } from '../runtime/listen.ts';
import { MUTATE_PATH, VALIDATE_PATH } from './configurations.ts';
import { type AsyncReviewer, handleReviewAsync } from './handler.ts';
import type { WebhookMetrics, WebhookName } from './metrics.ts';
import { mutateApiKey } from './mutate.ts';
import { type AccessReviewer, admitApiKey } from './secret-access.ts';
import type { CertificateHolder } from './tls/holder.ts';
import { validateApiKey } from './validate.ts';

// The HTTPS server the API server calls. Timeouts are set so a slow or stuck client cannot hold a
// worker, and keep-alive outlasts the API server's idle timeout (90 s) so it never reuses a connection
// we are closing (that race would surface as a refused admission with failurePolicy Fail).

const DEFAULT_MAX_BODY_BYTES = 3 * 1024 * 1024;

export interface WebhookServerOptions {
  host?: string;
  port: number;
  holder: CertificateHolder;
  metrics: WebhookMetrics;
  policy: () => EffectivePolicy;
  /** Ready to admit (certificate in use, policy synced). */
  ready: () => { ok: boolean; reason?: string };
  log: Logger;
  maxBodyBytes?: number;
  now?: () => Date;
  /** Pod injection settings; /pods/inject is served only with them. */
  injector?: InjectorConfig | undefined;
  /** keywarden's own namespace: never a place for consumer Secrets. */
  operatorNamespace?: string;
  /** Checks the requester's own access to a spec.delivery.secretRef Secret (SubjectAccessReview). */
  access?: AccessReviewer;
  /** Called with the server-side handling time of each admission request, for the bench. */
  onTimed?: (webhook: WebhookName, ms: number) => void;
}

export interface RunningWebhookServer {
  server: Server;
  port: number;
  close(): Promise<void>;
}

const REVIEWERS: Record<Exclude<WebhookName, 'inject'>, AsyncReviewer> = {
  mutate: async (req, ctx) => mutateApiKey(req, ctx),
  validate: (req, ctx) => admitApiKey(validateApiKey, req, ctx),
};

type Answer = (text: string) => Promise<HandledReview>;
interface Route {
  webhook: WebhookName;
  answer: Answer;
}

/**
 * The request listener: admission reviews (POST to a webhook path, as the API server sends them) are
 * answered directly; everything else (health, 404s, other shapes of request) goes through express.
 * Answers are the same either way; the direct path only skips express's routing, body parser and
 * response helpers, which were most of a review's time at the server (kubectl apply makes two reviews
 * per object).
 */
export function createWebhookApp(
  opts: Omit<WebhookServerOptions, 'host' | 'port' | 'holder'>,
): RequestListener {
  const limit = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const routes = reviewRoutes(opts);
  const account = new Accounting(opts);
  const app = expressApp(opts, routes, account, limit);
  return (req, res) => {
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const route = req.method === 'POST' ? routes.get(q < 0 ? url : url.slice(0, q)) : undefined;
    // A compressed body (never sent by the API server) is left to express, which inflates it.
    const encoding = req.headers['content-encoding'];
    if (route && (encoding === undefined || encoding === 'identity'))
      answerDirect(route, account, limit, opts.log, req, res);
    else app(req, res);
  };
}

/** Every webhook goes through the same envelope; only the answer function differs. */
function reviewRoutes(opts: Omit<WebhookServerOptions, 'host' | 'port' | 'holder'>): Map<string, Route> {
  const now = opts.now ?? (() => new Date());
  const routes = new Map<string, Route>();
  for (const [webhook, path] of [
    ['mutate', MUTATE_PATH],
    ['validate', VALIDATE_PATH],
  ] as const) {
    const reviewer = REVIEWERS[webhook];
    routes.set(path, {
      webhook,
      answer: (text) =>
        handleReviewAsync(webhook, text, reviewer, {
          policy: opts.policy(),
          now: now(),
          operatorNamespace: opts.operatorNamespace,
          access: opts.access,
        }),
    });
  }
  const injector = opts.injector;
  if (injector)
    routes.set(INJECT_PATH, { webhook: 'inject', answer: async (text) => handlePodReview(text, injector) });
  return routes;
}

/** Times, counts and logs each admission request, whichever path answered it. */
class Accounting {
  readonly #opts: Pick<WebhookServerOptions, 'metrics' | 'log' | 'onTimed'>;

  constructor(opts: Pick<WebhookServerOptions, 'metrics' | 'log' | 'onTimed'>) {
    this.#opts = opts;
  }

  timed(webhook: WebhookName, res: ServerResponse): void {
    const { metrics, onTimed } = this.#opts;
    const start = process.hrtime.bigint();
    const end = metrics.latency.startTimer({ webhook });
    metrics.inFlight.inc({ webhook });
    res.once('close', () => {
      end();
      metrics.inFlight.dec({ webhook });
      metrics.requests.inc({ webhook, code: String(res.statusCode) });
      onTimed?.(webhook, Number(process.hrtime.bigint() - start) / 1e6);
    });
  }

  /** Counts and logs an answer; returns the body to send. */
  answered(webhook: WebhookName, handled: HandledReview): string {
    this.#opts.metrics.admissions.inc({ webhook, operation: handled.operation, result: handled.result });
    if (handled.result === 'error' || handled.result === 'bad_request') {
      const message =
        'response' in handled.body ? handled.body.response.status?.message : handled.body.message;
      this.#opts.log.warn(
        { webhook, result: handled.result, message },
        'admission request not handled normally',
      );
    }
    return JSON.stringify(handled.body);
  }
}

const tooLargeStatus = (limit: number) =>
  failureStatus(413, 'RequestEntityTooLarge', `the request body is larger than the limit of ${limit} bytes`);

/** Everything the direct path does not answer: compressed reviews, /healthz, /readyz, 404s, errors. */
function expressApp(
  opts: Omit<WebhookServerOptions, 'host' | 'port' | 'holder'>,
  routes: Map<string, Route>,
  account: Accounting,
  limit: number,
): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  for (const [path, { webhook, answer }] of routes) {
    const timedHandler: express.RequestHandler = (_req, res, next) => {
      account.timed(webhook, res);
      next();
    };
    const handle: express.RequestHandler = async (req, res) => {
      const handled = await answer(Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '');
      res.status(handled.httpStatus).type('json').send(account.answered(webhook, handled));
    };
    app.post(path, timedHandler, express.raw({ type: () => true, limit }), handle);
  }
  app.get('/healthz', (_req, res) => {
    res.type('text/plain').send('ok\n');
  });
  app.get('/readyz', (_req, res) => {
    const r = opts.ready();
    res
      .status(r.ok ? 200 : 503)
      .type('text/plain')
      .send(r.ok ? 'ok\n' : `not ok: ${r.reason ?? 'unknown'}\n`);
  });
  const usage = `${MUTATE_PATH}, ${VALIDATE_PATH}${routes.has(INJECT_PATH) ? ` or ${INJECT_PATH}` : ''}`;
  app.use((req, res) => {
    res
      .status(404)
      .json(
        failureStatus(404, 'NotFound', `no such endpoint: ${req.method} ${req.path} (use POST ${usage})`),
      );
  });
  // Body errors (too large, broken encoding, aborted) and anything unexpected: always a message.
  app.use((err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    const e = err as { status?: number; type?: string; message?: string };
    if (res.headersSent) return;
    if (e.type === 'entity.too.large') {
      res.status(413).json(tooLargeStatus(limit));
      return;
    }
    const status = typeof e.status === 'number' && e.status >= 400 && e.status < 500 ? e.status : 500;
    if (status === 500) opts.log.error({ err: e.message }, 'unexpected error in the webhook server');
    const reason = status === 500 ? 'InternalError' : 'BadRequest';
    res.status(status).json(failureStatus(status, reason, e.message ?? 'unexpected error'));
  });
  return app;
}

/** An uncompressed admission review, read and answered without express. */
function answerDirect(
  { webhook, answer }: Route,
  account: Accounting,
  limit: number,
  log: Logger,
  req: IncomingMessage,
  res: ServerResponse,
): void {
  account.timed(webhook, res);
  const send = (status: number, body: string) => {
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  };
  const tooLarge = () => {
    // The rest of the body is not kept; the connection closes once the answer is out.
    res.setHeader('connection', 'close');
    send(413, JSON.stringify(tooLargeStatus(limit)));
  };
  if (Number(req.headers['content-length']) > limit) {
    tooLarge();
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > limit) {
      req.removeAllListeners('data').removeAllListeners('end');
      tooLarge();
    } else chunks.push(chunk);
  });
  req.on('end', () => {
    answer(Buffer.concat(chunks, size).toString('utf8')).then(
      (handled) => send(handled.httpStatus, account.answered(webhook, handled)),
      (err: Error) => {
        log.error({ err: err.message }, 'unexpected error in the webhook server');
        send(500, JSON.stringify(failureStatus(500, 'InternalError', err.message)));
      },
    );
  });
  // An aborted body: nothing to answer (the client is gone); the socket is closed by Node.
  req.on('error', () => {});
}

export async function startWebhookServer(opts: WebhookServerOptions): Promise<RunningWebhookServer> {
  const cert = opts.holder.current;
  if (!cert) throw new Error('no serving certificate yet: load or bootstrap one before starting the server');
  const server = createServer(
    { cert: cert.certPem, key: cert.keyPem, minVersion: 'TLSv1.2', handshakeTimeout: 10_000 },
    createWebhookApp(opts),
  );
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 95_000;
  answerClientErrors(server as unknown as import('node:http').Server);
  const swap = (c: { certPem: string; keyPem: string }) =>
    server.setSecureContext({ cert: c.certPem, key: c.keyPem, minVersion: 'TLSv1.2' });
  opts.holder.on('change', swap);
  server.on('tlsClientError', (err) => opts.log.debug({ err: err.message }, 'TLS handshake failed'));
  await listen(server, opts.port, opts.host ?? '0.0.0.0');
  server.on('error', (err) => opts.log.error({ err: err.message }, 'webhook server error'));
  return {
    server,
    port: listeningPort(server),
    close: async () => {
      opts.holder.off('change', swap);
      await closeServer(server);
    },
  };
}
