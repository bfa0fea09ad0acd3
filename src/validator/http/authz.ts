import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Gate } from '../gate.ts';
import { splitTarget } from '../routes.ts';
import { sendError } from './respond.ts';

// Forward auth: a proxy asks "may this request pass?" and we answer 200 (with identity headers for the
// proxy to copy upstream) or 401/403/429. Where the original method and URI come from:
//   /authz        ingress-nginx / nginx auth_request (X-Original-Method, X-Original-URL or X-Original-URI),
//                 else Traefik ForwardAuth (X-Forwarded-Method, X-Forwarded-Uri)
//   /authz/nginx  as above, forcing nginx mode
//   /authz/envoy/<original path>  Envoy ext_authz HTTP service with path_prefix /authz/envoy: the auth
//                 request keeps the original method, and its path is the prefix + the original path
// nginx understands only 2xx, 401 and 403 from auth_request (anything else becomes a 500 for the
// client), so in nginx mode every other 4xx (429, 400) is answered as 403. The body still names the
// real code, for logs.

type Style = 'nginx' | 'traefik' | 'envoy';

export const AUTHZ_PATH = '/authz';

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** The path and query of an absolute URL or origin-form target, without normalising it (no URL()). */
function targetOf(uri: string): string {
  const m = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*(.*)$/.exec(uri);
  const rest = m ? (m[1] ?? '') : uri;
  return rest === '' || rest.startsWith('?') ? `/${rest}` : rest;
}

export function originalRequest(
  req: IncomingMessage,
  sub: string,
  query: string,
): { style: Style; method: string; target: string } | { problem: string } | undefined {
  if (sub === '/envoy' || sub.startsWith('/envoy/')) {
    const path = sub.slice('/envoy'.length) || '/';
    return { style: 'envoy', method: req.method ?? 'GET', target: query ? `${path}?${query}` : path };
  }
  if (sub !== '' && sub !== '/nginx') return undefined;
  const nginxUri = header(req, 'x-original-url') ?? header(req, 'x-original-uri');
  if (sub === '/nginx' || nginxUri || header(req, 'x-original-method')) {
    if (!nginxUri) return { problem: 'nginx forward auth needs X-Original-URL or X-Original-URI' };
    return {
      style: 'nginx',
      method: header(req, 'x-original-method') ?? req.method ?? 'GET',
      target: targetOf(nginxUri),
    };
  }
  const uri = header(req, 'x-forwarded-uri');
  const method = header(req, 'x-forwarded-method');
  if (uri && method) return { style: 'traefik', method, target: targetOf(uri) };
  return {
    problem:
      'forward auth needs the original request: X-Forwarded-Method and X-Forwarded-Uri (Traefik), X-Original-URL (nginx), or the /authz/envoy/ prefix (Envoy)',
  };
}

const nginxStatus = (status: number) =>
  status >= 400 && status < 500 && status !== 401 && status !== 403 ? 403 : status;

export async function handleAuthz(
  gate: Gate,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  query: string,
): Promise<void> {
  const orig = originalRequest(req, path.slice(AUTHZ_PATH.length), query);
  if (orig === undefined) return sendError(res, 404, 'not_found', 'no such forward-auth endpoint');
  const peer = req.socket.remoteAddress;
  const nginx =
    'style' in orig ? orig.style === 'nginx' : path === '/authz/nginx' || !!header(req, 'x-original-method');
  if ('problem' in orig) {
    gate.refuse('authz', req.method ?? '', path, undefined, orig.problem);
    return sendError(res, nginx ? 403 : 400, 'bad_request', orig.problem);
  }
  const { path: origPath } = splitTarget(orig.target);
  const got = gate.httpFacts('authz', orig.method, origPath, req.headers, peer);
  const outcome =
    'problem' in got
      ? gate.refuse('authz', orig.method, origPath, undefined, got.problem)
      : await gate.evaluate(got.facts);
  if (outcome.allowed) {
    res.writeHead(200, { ...outcome.headers, 'Content-Length': '0', 'Cache-Control': 'no-store' });
    res.end();
    return;
  }
  const status = orig.style === 'nginx' ? nginxStatus(outcome.status) : outcome.status;
  sendError(res, status, outcome.code, outcome.message, outcome.headers);
}
