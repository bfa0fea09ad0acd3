import { connect } from 'node:net';

// A raw HTTP/1.1 exchange over one connection: the request is written byte for byte (latin1), so header
// values may hold CR, LF, NUL or anything else a hostile client sends; node:http's client would refuse.

export interface RawReply {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** The connection closed without any response. */
  dropped: boolean;
}

export function rawRequest(
  port: number,
  head: string,
  body: Buffer | string = '',
  opts: { host?: string; localAddress?: string; timeoutMs?: number } = {},
): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: opts.host ?? '127.0.0.1', port, localAddress: opts.localAddress });
    const chunks: Buffer[] = [];
    socket.setTimeout(opts.timeoutMs ?? 10_000, () => {
      socket.destroy();
      reject(
        new Error(`no answer within ${opts.timeoutMs ?? 10_000} ms to ${JSON.stringify(head.slice(0, 200))}`),
      );
    });
    // The first complete response is the answer (a smuggled second request may get one too).
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      const text = Buffer.concat(chunks).toString('latin1');
      if (isComplete(text)) {
        socket.destroy();
        resolve(parseReply(text));
      }
    });
    // The server may answer (and close) before it has read everything: ignore write-side resets.
    socket.on('error', () => {});
    socket.on('close', () => resolve(parseReply(Buffer.concat(chunks).toString('latin1'))));
    // No half-close: node:http servers (httpAllowHalfOpen false) abort a request whose client sent FIN.
    socket.write(head, 'latin1');
    socket.write(body);
  });
}

function isComplete(text: string): boolean {
  const split = text.indexOf('\r\n\r\n');
  if (split < 0) return false;
  const len = /\r\ncontent-length:\s*(\d+)/i.exec(text.slice(0, split + 2));
  if (len) return Buffer.byteLength(text.slice(split + 4), 'latin1') >= Number(len[1]);
  if (/\r\ntransfer-encoding:\s*chunked/i.test(text.slice(0, split + 2)))
    return /\r\n0\r\n\r\n/.test(text.slice(split));
  return false;
}

function parseReply(text: string): RawReply {
  const m = /^HTTP\/1\.[01] (\d{3})[^\r\n]*\r\n/.exec(text);
  if (!m) return { status: 0, headers: {}, body: '', dropped: true };
  const split = text.indexOf('\r\n\r\n');
  const headLines = text
    .slice(0, split < 0 ? text.length : split)
    .split('\r\n')
    .slice(1);
  const headers: Record<string, string> = {};
  for (const l of headLines) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  let body = split < 0 ? '' : text.slice(split + 4);
  // Only the first response: a smuggled second request may have been answered on the same connection.
  if (headers['transfer-encoding'] === 'chunked') body = dechunk(body);
  else if (headers['content-length'] !== undefined) body = body.slice(0, Number(headers['content-length']));
  return { status: Number(m[1]), headers, body, dropped: false };
}

function dechunk(s: string): string {
  let out = '';
  let rest = s;
  for (;;) {
    const nl = rest.indexOf('\r\n');
    if (nl < 0) return out;
    const n = Number.parseInt(rest.slice(0, nl), 16);
    if (!Number.isFinite(n) || n === 0) return out;
    out += rest.slice(nl + 2, nl + 2 + n);
    rest = rest.slice(nl + 4 + n);
  }
}
