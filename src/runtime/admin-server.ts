import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { answerClientErrors } from '../observability/client-error.ts';
import type { Check } from './component.ts';
import { listen } from './listen.ts';

// /healthz, /readyz and /metrics on one plain-HTTP port, as controller-runtime's manager serves them,
// and nothing else: no router, no static files, no request body read. Every other path is a 404,
// every other method on these paths a 405.

export interface AdminEndpoints {
  health(): Check;
  ready(): Check;
  metrics(): Promise<{ contentType: string; body: string }>;
}

const PATHS = ['/healthz', '/readyz', '/metrics'] as const;
type AdminPath = (typeof PATHS)[number];

export async function startAdminServer(opts: {
  port: number;
  host: string;
  endpoints: AdminEndpoints;
}): Promise<Server> {
  const server = createServer({ requestTimeout: 10_000, headersTimeout: 5_000 }, (req, res) =>
    answer(opts.endpoints, req, res),
  );
  answerClientErrors(server);
  await listen(server, opts.port, opts.host);
  return server;
}

function answer(endpoints: AdminEndpoints, req: IncomingMessage, res: ServerResponse): void {
  // A body is never read here: answer, then close rather than read what the client still sends.
  if (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined)
    res.setHeader('connection', 'close');
  const url = req.url ?? '';
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  if (!PATHS.includes(path as AdminPath)) {
    send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
    return;
  }
  if (path === '/metrics') {
    endpoints.metrics().then(
      (m) => send(res, 200, m.contentType, m.body),
      () => send(res, 500, 'text/plain; charset=utf-8', 'metrics could not be collected\n'),
    );
    return;
  }
  const r = path === '/healthz' ? endpoints.health() : endpoints.ready();
  send(
    res,
    r.ok ? 200 : 503,
    'text/plain; charset=utf-8',
    r.ok ? 'ok\n' : `not ok: ${r.reason ?? 'unknown'}\n`,
  );
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
