// The original request target a forward-auth proxy reports (X-Original-URI, X-Original-URL,
// X-Forwarded-Uri), read by a strict rule instead of a URL parser: WHATWG URL and node's url both
// repair input (`\` as `/`, dot segments, userinfo, a missing path), and every repair is a second way
// to read the same bytes. So one shape is accepted and everything else is refused:
//   origin-form    /path[?query]                       (never `//…`, which parsers read as a host)
//   absolute-form  http(s)://host[:port]/path[?query]  (only where the door allows it)
// host is a reg-name of unreserved characters or a bracketed IPv6 literal: no userinfo (`@`), and the
// authority must end in `/`, so `http://host?/v1/admin` (path "" to RFC 3986, `/v1/admin` to a naive
// reader) is refused rather than decided as `/`. Characters outside RFC 3986 (space, `#`, `\`, `"`,
// controls, non-ASCII) are refused anywhere: a request target never carries a fragment, and a proxy
// that passes such bytes on leaves the upstream to guess.

export type Target = { ok: true; path: string; query: string } | { ok: false; problem: string };

const PCHARS = "A-Za-z0-9\\-._~!$&'()*+,;=:@%";
const ORIGIN_RE = new RegExp(`^(/(?!/)[${PCHARS}/]*)(?:\\?([${PCHARS}/?]*))?$`);
const ABSOLUTE_RE = /^https?:\/\/(?:[A-Za-z0-9\-._~]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?(\/.*)$/i;

export function parseTarget(value: string, opts: { absolute: boolean }): Target {
  let rest = value;
  if (opts.absolute && !value.startsWith('/')) {
    const m = ABSOLUTE_RE.exec(value);
    if (!m)
      return {
        ok: false,
        problem:
          'the original URL must be http(s)://host[:port]/path with no userinfo, and a path right after the host',
      };
    rest = m[1] ?? '';
  }
  const o = ORIGIN_RE.exec(rest);
  if (!o)
    return {
      ok: false,
      problem: opts.absolute
        ? 'the original URL holds characters a request target cannot carry, or its path starts with //'
        : 'the original URI must be a path (/…, not //…) with an optional query, in RFC 3986 characters',
    };
  return { ok: true, path: o[1] ?? '/', query: o[2] ?? '' };
}

/** `path?query`, the form the two headers of nginx are compared in. */
export const targetText = (t: { path: string; query: string }): string =>
  t.query ? `${t.path}?${t.query}` : t.path;
