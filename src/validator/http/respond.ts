import type { IncomingMessage, ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { rateLimitHeaders, type TakeResult } from '../../rules/index.ts';
import type { Refused } from '../gate.ts';

// Error answers: `{"error":{"code":"key_unknown","message":"..."}}`. Codes are stable (clients may
// branch on them); messages are fixed texts that never quote the request, so never the key.

export function errorBody(code: string, message: string): string {
  return JSON.stringify({ error: { code, message } });
}

/** RateLimit-* (and Retry-After once refused) for a request that took a token; none for one that did not. */
export const rateHeaders = (rate: TakeResult | undefined): Record<string, string> =>
  rate ? rateLimitHeaders(rate) : {};

/** The headers of a refusal: the rate-limit state, and the Bearer challenge with a 401. */
export function refusalHeaders(o: Refused): Record<string, string> {
  const headers = rateHeaders(o.rate);
  if (o.status === 401) headers['WWW-Authenticate'] = 'Bearer realm="keywarden"';
  return headers;
}

/** True when the request announces a body. */
export function hasBody(req: IncomingMessage): boolean {
  const len = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (len !== undefined && len !== '0');
}

/**
 * An answer to a request whose body was not read closes the connection: otherwise Node reads and
 * discards that body (of any size) to reach the next request on a kept-alive connection.
 */
const unreadBody = (req: IncomingMessage | undefined) =>
  req !== undefined && !req.readableEnded && hasBody(req);

export function sendJson(
  res: ServerResponse,
  status: number,
  body: string,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, {
    ...headers,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
    ...(unreadBody(res.req) ? { Connection: 'close' } : {}),
  });
  res.end(body);
}

export function sendError(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): void {
  sendJson(res, status, errorBody(code, message), headers);
}

/** For refused websocket upgrades: there is no ServerResponse, only the socket. */
export function writeRawError(
  socket: Socket,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): void {
  const body = errorBody(code, message);
  const lines = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`,
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
    '',
    body,
  ];
  socket.end(lines.join('\r\n'));
}
