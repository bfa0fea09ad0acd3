import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseClientAddress, parseRequiredPermission } from '../../rules/index.ts';
import type { ClientAddressResolver } from '../client-address.ts';
import type { Gate, Outcome } from '../gate.ts';
import { readKey } from '../identity/headers.ts';
import { errorBody, rateHeaders, sendError, sendJson } from './respond.ts';

// POST /v1/keys/verify {"key": "...", "permission"?: "devices:read", "sourceIp"?: "203.0.113.7"}
// For services that check keys themselves. The same decision as the other doors (it takes a
// rate-limit token too); the answer is 200 with `valid` either way, and 400 only for a bad request.
// A key restricted to sources fails without `sourceIp`: we cannot know where its caller is. `sourceIp`
// is believed only from a caller inside `trustedProxies` (a service that says where its client is, as
// a proxy does in X-Forwarded-For); from anyone else it is refused, or any client could claim to be
// inside a key's allowed sources.

export const VERIFY_PATH = '/v1/keys/verify';
const MAX_BODY = 16 * 1024;

function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        // Stop reading but keep the socket: the 413 must reach the client (the server closes after it).
        req.removeAllListeners('data');
        req.pause();
        resolve(undefined);
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export async function handleVerify(
  gate: Gate,
  trusted: Pick<ClientAddressResolver, 'isTrusted'>,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  if (req.method !== 'POST') return sendError(res, 405, 'method_not_allowed', 'use POST', { Allow: 'POST' });
  const text = await readBody(req);
  if (text === undefined) {
    res.setHeader('Connection', 'close');
    return sendError(res, 413, 'bad_request', `the body is larger than ${MAX_BODY} bytes`);
  }
  let body: { key?: unknown; permission?: unknown; sourceIp?: unknown };
  try {
    body = text.trim() === '' ? {} : JSON.parse(text);
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new Error();
  } catch {
    return sendError(
      res,
      400,
      'bad_request',
      'the body must be a JSON object: {"key": "...", "permission": "...", "sourceIp": "..."}',
    );
  }
  const bad = (message: string) => {
    const o = gate.refuse('verify', 'POST', VERIFY_PATH, undefined, message);
    sendJson(res, o.status, errorBody('bad_request', message));
  };
  if (body.key !== undefined && typeof body.key !== 'string') return bad('key must be a string');
  // The rule of a route's permission (src/rules): one concrete resource:action, never a wildcard.
  if (body.permission !== undefined && !parseRequiredPermission(body.permission).ok)
    return bad('permission must be one resource:action, e.g. devices:read (no wildcard)');
  let clientIp: string | undefined;
  if (body.sourceIp !== undefined) {
    if (!trusted.isTrusted(req.socket.remoteAddress))
      return bad('sourceIp is believed only from a caller listed in trustedProxies');
    const ip = parseClientAddress(body.sourceIp);
    if (!ip.ok) return bad('sourceIp must be an IPv4 or IPv6 address');
    clientIp = ip.address;
  }
  const key = typeof body.key === 'string' ? body.key : readKey(req.headers)?.key;
  const outcome = await gate.evaluate({
    door: 'verify',
    key,
    clientIp,
    requirement:
      typeof body.permission === 'string' ? { permission: body.permission } : { anyValidKey: true },
    method: 'POST',
    path: VERIFY_PATH,
  });
  sendVerdict(res, outcome);
}

/** The verdict as JSON: always a 200 (the caller asked a question), with the rate-limit state. */
function sendVerdict(res: ServerResponse, outcome: Outcome): void {
  const rate = outcome.rate && {
    limit: outcome.rate.limit,
    remaining: outcome.rate.remaining,
    resetSeconds: outcome.rate.resetSeconds,
  };
  // The rate-limit state only: the answer is a 200 either way, so no Bearer challenge.
  const headers = rateHeaders(outcome.rate);
  if (!outcome.allowed) {
    sendJson(
      res,
      200,
      JSON.stringify({ valid: false, code: outcome.code, message: outcome.message, rateLimit: rate }),
      headers,
    );
    return;
  }
  const r = outcome.decision.key.record;
  sendJson(
    res,
    200,
    JSON.stringify({
      valid: true,
      keyId: r.keyId,
      apiKey: { namespace: r.apiKey.namespace, name: r.apiKey.name },
      environment: r.environment,
      type: r.type,
      permissions: r.permissions,
      customers: r.customers,
      expiresAt: r.expiresAt,
      rateLimit: rate,
    }),
    headers,
  );
}
