import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TakeResult } from '../../rules/index.ts';
import { canonicalPath } from '../../rules/index.ts';
import type { Gate, Outcome } from '../gate.ts';
import { identityHeaderPairs, isIdentityHeader } from '../identity/headers.ts';
import type { StoredKey } from '../stored-key.ts';
import { rateHeaders, refusalHeaders, sendError } from './respond.ts';
import { parseTarget, type Target, targetText } from './target.ts';

// Forward auth: a proxy asks "may this request pass?" and we answer 200 (with every identity header
// for the proxy to copy upstream) or 401/403/429. Each proxy has its own door, and a door reads only
// the headers that proxy sets itself; every other header came from the client (nginx and Traefik pass
// client headers on) and is never read:
//   /authz/nginx    nginx auth_request / ingress-nginx: X-Original-Method (required: the subrequest
//                   itself is always a GET) and X-Original-URI (origin-form) and/or X-Original-URL
//                   (absolute-form); when both arrive they must name the same target, since a
//                   config sets one and the client may add the other
//   /authz/traefik  Traefik ForwardAuth: X-Forwarded-Method and X-Forwarded-Uri (origin-form)
//   /authz/envoy/<original path>  Envoy ext_authz HTTP service with path_prefix /authz/envoy: the auth
//                   request keeps the original method, and its path is the prefix + the original path
//   /authz          404 naming the three: guessing the proxy from the headers lets a client choose.
// A request that carries an identity header in any spelling is refused: only we set those, and the
// proxy would pass the client's copy on to the upstream under any name its config does not overwrite.
// nginx understands only 2xx, 401 and 403 from auth_request (anything else becomes a 500 for the
// client), so at the nginx door every other 4xx (429, 400) is answered as 403. The body still names
// the real code, for logs.

type Style = 'nginx' | 'traefik' | 'envoy';

export const AUTHZ_PATH = '/authz';
const AUTHZ_DOORS = ['/authz/nginx', '/authz/traefik', '/authz/envoy/<path>'] as const;

/** RFC 9110 token; refuses lists (a duplicated header arrives joined with ", "). */
const METHOD_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,32}$/;

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

type Original = { style: Style; method: string; target: Target } | { style: Style; problem: string };

/** The original method and target, from the headers of this door's proxy only; undefined: no such door. */
function originalRequest(req: IncomingMessage, sub: string, query: string): Original | undefined {
  if (sub === '/envoy' || sub.startsWith('/envoy/')) {
    const path = sub.slice('/envoy'.length) || '/';
    return {
      style: 'envoy',
      method: req.method ?? 'GET',
      target: parseTarget(query ? `${path}?${query}` : path, { absolute: false }),
    };
  }
  if (sub === '/nginx') {
    const method = header(req, 'x-original-method');
    if (!method || !METHOD_RE.test(method))
      return {
        style: 'nginx',
        problem:
          'nginx forward auth needs X-Original-Method set by the proxy (proxy_set_header X-Original-Method $request_method)',
      };
    const uri = header(req, 'x-original-uri');
    const url = header(req, 'x-original-url');
    if (!uri && !url)
      return {
        style: 'nginx',
        problem:
          'nginx forward auth needs X-Original-URI or X-Original-URL set by the proxy (proxy_set_header X-Original-URI $request_uri)',
      };
    const fromUri = uri === undefined ? undefined : parseTarget(uri, { absolute: false });
    const fromUrl = url === undefined ? undefined : parseTarget(url, { absolute: true });
    for (const t of [fromUri, fromUrl]) if (t && !t.ok) return { style: 'nginx', problem: t.problem };
    if (fromUri?.ok && fromUrl?.ok && targetText(fromUri) !== targetText(fromUrl))
      return { style: 'nginx', problem: 'X-Original-URI and X-Original-URL name different targets' };
    return { style: 'nginx', method, target: (fromUri ?? fromUrl) as Target };
  }
  if (sub === '/traefik') {
    const method = header(req, 'x-forwarded-method');
    const uri = header(req, 'x-forwarded-uri');
    if (!method || !METHOD_RE.test(method) || !uri)
      return {
        style: 'traefik',
        problem: 'Traefik forward auth needs X-Forwarded-Method and X-Forwarded-Uri',
      };
    return { style: 'traefik', method, target: parseTarget(uri, { absolute: false }) };
  }
  return undefined;
}

const nginxStatus = (status: number) =>
  status >= 400 && status < 500 && status !== 401 && status !== 403 ? 403 : status;

/** True when any header line's name is ours in some spelling (raw lines: each one as it arrived). */
function carriesIdentityHeader(req: IncomingMessage): boolean {
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) if (isIdentityHeader(raw[i] as string)) return true;
  return false;
}

/**
 * The answer to one forward-auth question: a promise only while the key's JWT is being signed (its
 * first request, or once in each half lifetime); every other answer is written before this returns.
 */
export function handleAuthz(
  gate: Gate,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  query: string,
): void | Promise<void> {
  const orig = originalRequest(req, path.slice(AUTHZ_PATH.length), query);
  if (orig === undefined)
    return sendError(
      res,
      404,
      'not_found',
      `forward auth is served per proxy: ${AUTHZ_DOORS.join(', ')} (see docs/validator.md)`,
    );
  const nginx = orig.style === 'nginx';
  if ('problem' in orig) return refuse(gate, res, nginx, req.method ?? '', path, orig.problem);
  if (!orig.target.ok) return refuse(gate, res, nginx, orig.method, path, orig.target.problem);
  const origPath = orig.target.path;
  if (carriesIdentityHeader(req))
    return refuse(
      gate,
      res,
      nginx,
      orig.method,
      origPath,
      'the request carries an X-Keywarden-* header: only the validator sets those',
    );
  // The original request's path gets the same one-spelling check as every path this server serves.
  const checked = canonicalPath(origPath);
  if ('problem' in checked) return refuse(gate, res, nginx, orig.method, origPath, checked.problem);
  const got = gate.httpFacts('authz', orig.method, checked.path, req.headers, req.socket.remoteAddress);
  if ('problem' in got) return refuse(gate, res, nginx, orig.method, origPath, got.problem);
  const outcome = gate.evaluateNow(got.facts);
  if (outcome instanceof Promise) return outcome.then((o) => answer(res, nginx, o));
  answer(res, nginx, outcome);
}

/** A request refused before any decision, counted and audited by the gate. */
function refuse(
  gate: Gate,
  res: ServerResponse,
  nginx: boolean,
  method: string,
  path: string,
  problem: string,
): void {
  const o = gate.refuse('authz', method, path, undefined, problem);
  sendError(res, nginx ? nginxStatus(o.status) : o.status, o.code, o.message);
}

function answer(res: ServerResponse, nginx: boolean, outcome: Outcome): void {
  if (outcome.allowed) {
    // The identity headers for the proxy to copy upstream, after the rate-limit state.
    const { key, clientIp, jwt } = outcome.identity;
    res.writeHead(200, allowedHeaders(key, clientIp, jwt, outcome.rate));
    res.end();
    return;
  }
  const status = nginx ? nginxStatus(outcome.status) : outcome.status;
  sendError(res, status, outcome.code, outcome.message, refusalHeaders(outcome));
}

/** The allowed answer's headers as writeHead's flat list: the rate-limit state, every identity header. */
function allowedHeaders(
  key: StoredKey,
  clientIp: string | undefined,
  jwt: string | undefined,
  rate: TakeResult | undefined,
): string[] {
  const ids = identityHeaderPairs(key, clientIp, jwt);
  let headers = ids;
  if (rate) {
    headers = [];
    for (const [name, value] of Object.entries(rateHeaders(rate))) headers.push(name, value);
    for (let i = 0; i < ids.length; i++) headers.push(ids[i] as string);
  }
  headers.push('Content-Length', '0', 'Cache-Control', 'no-store');
  return headers;
}
