import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Request, type Response } from 'express';
import { APIKEY_RESOURCE } from '../api/index.ts';
import { queryEvents } from '../audit/query.ts';
import { Informer } from '../kube/informer.ts';
import type { KubeRest } from '../kube/rest.ts';
import { bundlePage, type PageBundle } from './bundle.ts';
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
import type { ConsoleKey } from './view.ts';

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

export class ConsoleUsageError extends Error {}

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

/** Server-Sent Events of the ApiKeys the user can list, from one watch with their credentials. */
class KeyStream {
  readonly informer: Informer<ConsoleKey & { metadata: { namespace: string } }>;
  readonly #clients = new Set<Response>();
  #error: string | undefined;

  constructor(rest: KubeRest, namespace: string | undefined) {
    this.informer = new Informer(rest, {
      resource: APIKEY_RESOURCE,
      ...(namespace ? { namespace } : {}),
      maxBackoffMs: 5_000,
      onError: (err) => {
        const r = refusalOf(err);
        this.#error =
          r.status === 403
            ? `Forbidden: you may not list ApiKeys ${namespace ? `in ${namespace}` : 'in all namespaces'} (${r.message}).${namespace ? '' : ' Start the console with -n NAMESPACE.'}`
            : r.message;
        this.#send('problem', { message: this.#error });
      },
    });
    this.informer.on('add', (o) => this.#upsert(o));
    this.informer.on('update', (o) => this.#upsert(o));
    this.informer.on('delete', (o) =>
      this.#send('delete', { namespace: o.metadata.namespace, name: o.metadata.name }),
    );
    this.informer.on('synced', () => this.#snapshotAll());
    this.informer.on('relisted', () => this.#snapshotAll());
  }

  #upsert(o: ConsoleKey): void {
    if (this.#error) {
      this.#error = undefined;
      this.#send('problem', { message: null });
    }
    this.#send('upsert', o);
  }

  #snapshotAll(): void {
    this.#error = undefined;
    for (const res of this.#clients) this.#snapshot(res);
  }

  #snapshot(res: Response): void {
    res.write(`event: snapshot\ndata: ${JSON.stringify(this.informer.list())}\n\n`);
  }

  #send(event: string, data: unknown): void {
    const frame = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const res of this.#clients) res.write(frame);
  }

  attach(req: Request, res: Response): void {
    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream');
    res.setHeader('Connection', 'keep-alive');
    res.flushHeaders();
    this.#clients.add(res);
    if (this.informer.hasSynced) this.#snapshot(res);
    if (this.#error) res.write(`event: problem\ndata: ${JSON.stringify({ message: this.#error })}\n\n`);
    const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
    req.on('close', () => {
      clearInterval(ping);
      this.#clients.delete(res);
    });
  }

  close(): void {
    this.informer.stop();
    for (const res of this.#clients) res.end();
    this.#clients.clear();
  }
}

function param(req: Request, name: string): string {
  const v = req.params[name];
  return typeof v === 'string' ? v : '';
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

export async function startConsole(opts: ConsoleOptions): Promise<RunningConsole> {
  if (!isLoopback(opts.address) && !opts.allowRemote)
    throw new ConsoleUsageError(
      `refusing to serve on ${opts.address}: the console acts with your credentials, so it binds to 127.0.0.1 only. ` +
        'Pass --allow-remote to bind elsewhere (and put TLS in front).',
    );
  const page: PageBundle = await bundlePage();
  const auth = new ConsoleAuth();
  const stream = new KeyStream(opts.rest, opts.namespace);
  const { rest } = opts;

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

  const api = express.Router();
  api.use(auth.guard);
  api.use(express.json({ limit: '64kb' }));

  const send = (res: Response, work: Promise<unknown>) =>
    work.then(
      (body) => res.json(body ?? {}),
      (err) => {
        const r = refusalOf(err);
        res.status(r.status >= 400 && r.status < 600 ? r.status : 502).json(r);
      },
    );

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

  api.get('/audit', (req, res) => {
    if (!opts.auditDir) {
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
          directory: opts.auditDir,
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
  });

  app.use('/api', api);
  app.use((_req, res) => void res.status(404).type('text/plain').send('Not found\n'));

  stream.informer.start();
  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(opts.port, opts.address, (err?: Error) => (err ? reject(err) : resolve(s)));
    s.on('error', reject);
  });
  const port = (server.address() as AddressInfo).port;
  auth.bind(opts.address, port);
  const host = opts.address.includes(':') ? `[${opts.address}]` : opts.address;
  const url = `http://${host}:${port}/`;
  return {
    url,
    loginUrl: `${url}login?token=${auth.loginToken}`,
    close: async () => {
      stream.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
