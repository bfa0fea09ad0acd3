import { randomBytes, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { NextFunction, Request, Response } from 'express';

// The console's front door: a one-time login token (as Jupyter prints) becomes an HttpOnly,
// SameSite=Strict session cookie; every write also needs the session's CSRF token and, when the browser
// sends one, our own Origin; the Host header must name this server (no DNS rebinding); a strict CSP.

const SESSION_COOKIE = 'keywarden_console';
const CSRF_HEADER = 'x-csrf-token';

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  // data: for Shoelace's built-in system icons, which it fetch()es from data: URLs (nothing can leave by one).
  "connect-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const newToken = () => randomBytes(32).toString('base64url');

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Loopback addresses and `localhost`: what the console binds to unless told otherwise. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1' || host === '[::1]';
}

interface Session {
  csrf: string;
  createdAt: number;
}

export class ConsoleAuth {
  #loginToken: string | undefined = newToken();
  readonly #sessions = new Map<string, Session>();
  #allowedHosts: Set<string> = new Set();
  #origins: Set<string> = new Set();

  /** The token of the login URL; it works once. */
  get loginToken(): string | undefined {
    return this.#loginToken;
  }

  /** Called once the port is known: the Host and Origin values this server answers to. */
  bind(address: string, port: number): void {
    const names = new Set([address.includes(':') ? `[${address}]` : address]);
    if (isLoopback(address)) for (const n of ['127.0.0.1', 'localhost', '[::1]']) names.add(n);
    this.#allowedHosts = new Set([...names].map((n) => `${n}:${port}`));
    this.#origins = new Set([...this.#allowedHosts].map((h) => `http://${h}`));
  }

  /** Refuses requests whose Host is not this server (DNS rebinding) and sets the headers every answer carries. */
  headers = (req: Request, res: Response, next: NextFunction): void => {
    res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
    res.setHeader('Cache-Control', 'no-store');
    if (!this.#allowedHosts.has(req.headers.host ?? '')) {
      res.status(421).type('text/plain').send('This console answers only to the address it printed.\n');
      return;
    }
    next();
  };

  /** GET /login?token=…: swaps the one-time token for a session cookie and sends the browser to the page. */
  login = (req: Request, res: Response): void => {
    const token = typeof req.query.token === 'string' ? req.query.token : '';
    if (!this.#loginToken || !token || !sameSecret(token, this.#loginToken)) {
      res
        .status(401)
        .type('text/plain')
        .send(
          'This login link is not valid or was already used. Restart `keywarden console` for a new one.\n',
        );
      return;
    }
    this.#loginToken = undefined;
    const id = newToken();
    this.#sessions.set(id, { csrf: newToken(), createdAt: Date.now() });
    res.setHeader('Set-Cookie', `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Strict`);
    // 303 to the page: the token leaves the address bar and the history entry is the plain page.
    res.redirect(303, '/');
  };

  session(req: Request): Session | undefined {
    // One cookie of a fixed name and alphabet: a regex is enough, no cookie-parsing dependency.
    const m = new RegExp(`(?:^|;\\s*)${SESSION_COOKIE}=([A-Za-z0-9_-]{43})(?:;|$)`).exec(
      req.headers.cookie ?? '',
    );
    return m?.[1] ? this.#sessions.get(m[1]) : undefined;
  }

  /** 401 without a session; on writes, 403 without our Origin or the session's CSRF token. */
  guard = (req: Request, res: Response, next: NextFunction): void => {
    const session = this.session(req);
    if (!session) {
      res
        .status(401)
        .json({ reason: 'Unauthorized', message: 'Sign in with the URL keywarden console printed.' });
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      const origin = req.headers.origin;
      const site = req.headers['sec-fetch-site'];
      const token = req.headers[CSRF_HEADER];
      if (
        (origin !== undefined && !this.#origins.has(origin)) ||
        (site !== undefined && site !== 'same-origin') ||
        typeof token !== 'string' ||
        !sameSecret(token, session.csrf)
      ) {
        res
          .status(403)
          .json({ reason: 'Forbidden', message: 'Cross-site request refused (Origin or CSRF token).' });
        return;
      }
    }
    res.locals.csrf = session.csrf;
    next();
  };
}
