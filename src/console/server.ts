import { createServer, type Server } from 'node:http';
import express, { type Request, type Response } from 'express';
import { queryEvents } from '../audit/query.ts';
import type { KubeRest } from '../kube/rest.ts';
import { UsageError } from '../rules/errors.ts';
import { type Check, type Component, OK } from '../runtime/component.ts';
import { closeServer, listen, listeningPort } from '../runtime/listen.ts';
import { bundlePage } from './bundle.ts';
import { KeyStream } from './key-stream.ts';
import {
  createKey,
  deleteKey,
  patchSpec,
  readPolicy,
  refusalOf,
  regenerate,
  revealWhenReady,
} from './keys.ts';
import { ConsoleAuth, isLoopback } from './security.ts';

export interface ConsoleOptions {
  rest: KubeRest;
  /** Where keywarden runs (its one-time copies live there). */
  operatorNamespace: string;
  /** Watch only this namespace; all namespaces when absent. */
  namespace?: string;
  address: string;
  port: number;
  /** Binding to a non-loopback address must be asked for by name. */
  allowRemote?: boolean;
  /** The audit trail's directory (a copy of the validator's volume), for the request log. */
  auditDir?: string;
}

export interface RunningConsole {
  /** The page, e.g. http://127.0.0.1:8585/ */
  url: string;
  /** The one-time sign-in URL to print. */
  loginUrl: string;
  close(): Promise<void>;
}

const INDEX_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>API Keys · keywarden</title>
<link rel="stylesheet" href="/app.css">
<script type="module" src="/app.js"></script>
</head>
<body><div id="app"></div></body>
</html>
`;

const SIGN_IN_HTML = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>keywarden console</title></head>
<body><main><h1>Sign in required</h1><p>Open the URL <code>keywarden console</code> printed in your terminal.</p></main></body></html>
`;

function param(req: Request, name: string): string {
  const v = req.params[name];
  return typeof v === 'string' ? v : '';
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** Answers with what the work resolves to, or with the API server's refusal (5xx other than its own: 502). */
const send = (res: Response, work: Promise<unknown>) =>
  work.then(
    (body) => res.json(body ?? {}),
    (err) => {
      const r = refusalOf(err);
      res.status(r.status >= 400 && r.status < 600 ? r.status : 502).json(r);
    },
  );

/**
 * `keywarden console` as a component: the page, its API (acting with the user's credentials) and the
 * stream of ApiKeys, on one loopback port. Ready once the stream's first list is in.
 */
export class WebConsole implements Component {
  readonly name = 'console';
  readonly #opts: ConsoleOptions;
  readonly #auth = new ConsoleAuth();
  readonly #stream: KeyStream;
  #server: Server | undefined;

  constructor(opts: ConsoleOptions) {
    if (!isLoopback(opts.address) && !opts.allowRemote)
      throw new UsageError(
        `refusing to serve on ${opts.address}: the console acts with your credentials, so it binds to 127.0.0.1 only. ` +
          'Pass --allow-remote to bind elsewhere (and put TLS in front).',
      );
    this.#opts = opts;
    this.#stream = new KeyStream(opts.rest, opts.namespace);
  }

  /** The page, e.g. http://127.0.0.1:8585/ */
  get url(): string {
    const host = this.#opts.address.includes(':') ? `[${this.#opts.address}]` : this.#opts.address;
    return `http://${host}:${listeningPort(this.#server)}/`;
  }

  /** The one-time sign-in URL to print. */
  get loginUrl(): string {
    return `${this.url}login?token=${this.#auth.loginToken}`;
  }

  health(): Check {
    return OK;
  }

  ready(): Check {
    return this.#stream.informer.hasSynced ? OK : { ok: false, reason: 'ApiKeys not listed yet' };
  }

  async start(): Promise<void> {
    const app = await pageApp(this.#auth);
    app.use('/api', apiRouter(this.#opts, this.#auth, this.#stream));
    app.use((_req, res) => void res.status(404).type('text/plain').send('Not found\n'));
    this.#stream.informer.start();
    const server = createServer(app);
    this.#server = server;
    await listen(server, this.#opts.port, this.#opts.address);
    this.#auth.bind(this.#opts.address, listeningPort(server));
  }

  async stop(): Promise<void> {
    this.#stream.close();
    await closeServer(this.#server);
  }
}

export async function startConsole(opts: ConsoleOptions): Promise<RunningConsole> {
  const web = new WebConsole(opts);
  await web.start();
  return { url: web.url, loginUrl: web.loginUrl, close: () => web.stop() };
}

/** The page and its assets; `/` only with a session. */
async function pageApp(auth: ConsoleAuth): Promise<express.Express> {
  const page = await bundlePage();
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(auth.headers);
  app.get('/login', auth.login);
  app.get('/favicon.ico', (_req, res) => void res.status(204).end());
  app.get('/app.js', (_req, res) => void res.type('text/javascript').send(page.js));
  app.get('/app.css', (_req, res) => void res.type('text/css').send(page.css));
  app.use('/shoelace/assets', express.static(page.shoelaceAssets, { index: false, dotfiles: 'deny' }));
  app.get('/', (req, res) => {
    if (!auth.session(req)) {
      res.status(401).type('html').send(SIGN_IN_HTML);
      return;
    }
    res.type('html').send(INDEX_HTML);
  });
  return app;
}

/** /api: behind the session and CSRF guard, JSON bodies of at most 64 kB. */
function apiRouter(opts: ConsoleOptions, auth: ConsoleAuth, stream: KeyStream): express.Router {
  const { rest } = opts;
  const api = express.Router();
  api.use(auth.guard);
  api.use(express.json({ limit: '64kb' }));
  api.get('/session', (_req, res) =>
    send(
      res,
      (async () => ({
        csrfToken: res.locals.csrf as string,
        namespace: opts.namespace ?? null,
        auditAvailable: Boolean(opts.auditDir),
        ...(await readPolicy(rest)),
      }))(),
    ),
  );
  api.get('/stream', (req, res) => stream.attach(req, res));
  keyRoutes(api, rest);
  api.get('/audit', (req, res) => answerAudit(opts.auditDir, req, res));
  return api;
}

/** Create, reveal, edit, regenerate and delete ApiKeys, each with the user's own credentials. */
function keyRoutes(api: express.Router, rest: KubeRest): void {
  api.post('/keys', (req, res) => {
    const { namespace, name, spec } = (req.body ?? {}) as {
      namespace?: string;
      name?: string;
      spec?: unknown;
    };
    if (!namespace || !name || typeof spec !== 'object' || spec === null) {
      res
        .status(400)
        .json({ status: 400, reason: 'BadRequest', message: 'namespace, name and spec are required' });
      return;
    }
    void send(res, createKey(rest, namespace, name, spec));
  });

  // The one place a plaintext key crosses the console: straight from the reveal to this response.
  api.post('/keys/:ns/:name/reveal', (req, res) =>
    send(
      res,
      revealWhenReady(rest, param(req, 'ns'), param(req, 'name')).then((key) => ({
        key,
      })),
    ),
  );

  api.patch('/keys/:ns/:name', (req, res) => {
    const { resourceVersion, spec } = (req.body ?? {}) as {
      resourceVersion?: string;
      spec?: Record<string, unknown>;
    };
    if (typeof spec !== 'object' || spec === null) {
      res.status(400).json({ status: 400, reason: 'BadRequest', message: 'spec is required' });
      return;
    }
    void send(res, patchSpec(rest, param(req, 'ns'), param(req, 'name'), str(resourceVersion), spec));
  });

  api.post('/keys/:ns/:name/regenerate', (req, res) =>
    send(res, regenerate(rest, param(req, 'ns'), param(req, 'name'), str(req.body?.gracePeriod))),
  );

  api.delete('/keys/:ns/:name', (req, res) =>
    send(res, deleteKey(rest, param(req, 'ns'), param(req, 'name'))),
  );
}

/** The request log: decisions from the audit trail, filtered and paged as the query asks. */
function answerAudit(auditDir: string | undefined, req: Request, res: Response): void {
  if (!auditDir) {
    res.json({
      available: false,
      message:
        "No audit trail is reachable. Copy the validator's audit directory (its audit.directory setting) here, " +
        'e.g. kubectl cp POD:/var/lib/keywarden/audit ./audit -c keywarden-validator, and restart the console with --audit-dir ./audit.',
    });
    return;
  }
  const q = req.query;
  const limit = Math.min(Math.max(Number(q.limit) || 50, 1), 500);
  const offset = Math.max(Number(q.offset) || 0, 0);
  const since = Number(q.since);
  const until = Number(q.until);
  const status = str(q.status)
    ?.split(',')
    .map(Number)
    .filter((n) => Number.isInteger(n));
  const reason = str(q.reason)?.split(',').filter(Boolean);
  void send(
    res,
    queryEvents(
      {
        directory: auditDir,
        namespace: str(q.namespace),
        name: str(q.name),
        sinceMs: Number.isFinite(since) && since > 0 ? since : undefined,
        untilMs: Number.isFinite(until) && until > 0 ? until : undefined,
        status: status?.length ? status : undefined,
        reason: reason?.length ? reason : undefined,
        eventType: 'decision',
      },
      { limit: offset + limit },
    ).then((r) => ({
      available: true,
      rows: r.rows.slice(offset),
      offset,
      more: r.truncated,
    })),
  );
}
