// The one canonical spelling of a request path, decided before any route is matched. An upstream
// reads a path its own way (Express 5 ignores case and a trailing slash, Go's ServeMux decodes `%61`
// and cleans `..`, Tomcat strips `;params`, Windows drops a trailing dot, some decoders accept
// overlong UTF-8), so a path with two readings could match a broad route here and reach a narrow
// handler there. Such a path is refused, never normalised: we cannot know which reading the upstream
// takes. What is left has exactly one spelling per character:
//   - raw: the unreserved characters, the sub-delimiters except `;` (`! $ & ' ( ) * + , =`), `:` and
//     `@` (RFC 3986 pchar). Their percent-encodings are refused (`%61`, `%2E`, `%3A`): decoders differ.
//   - encoded, in upper-case hex: the printable ASCII characters a path may not carry raw
//     (`" < > [ ] ^ ` { | }`), which are data.
//   - never: `;`, `\`, `%`-encoded `/ \ ; % ? #`, controls, NUL, spaces (raw or encoded), any byte
//     above 0x7E (raw UTF-8 or `%80`-`%FF`), empty segments (`//`), segments made of dots, and
//     segments ending in a dot.
// Letter case and a trailing slash are left to route matching (src/validator/routes.ts), which refuses
// a path whose reading changes when either is ignored.
// Hand-written: URL parsers normalise (which is what we must not do) and none reports why.

const HEX = '0123456789ABCDEF';
/** Printable ASCII a path carries raw (RFC 3986 pchar without `;` and `%`), by character code. */
const RAW_PATH_CHARS = new Uint8Array(128);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,=:@/")
  RAW_PATH_CHARS[c.charCodeAt(0)] = 1;
const isRawPathChar = (code: number) => code < 128 && RAW_PATH_CHARS[code] === 1;
/** Printable ASCII that may appear only percent-encoded: data, not structure. */
const ENCODED_ONLY_CHARS = new Set('"<>[]^`{|}');

const hex = (c: string) => HEX.indexOf(c.toUpperCase());

function encodedProblem(triplet: string, code: number): string | undefined {
  const c = String.fromCharCode(code);
  if (code < 0x21 || code === 0x7f)
    return `${triplet} encodes a control character, NUL or space, which upstreams strip or stop at`;
  if (code > 0x7e)
    return `${triplet} encodes a byte above 0x7E: non-ASCII (UTF-8) path bytes are refused, upstreams decode overlong forms and fold Unicode case differently`;
  if (c === '/' || c === '\\') return `${triplet} encodes ${c}, which some upstreams read as a separator`;
  if (c === '.') return `${triplet} encodes a dot, which some upstreams resolve as a dot segment`;
  if (c === ';') return `${triplet} encodes ;, which some upstreams strip as a path parameter`;
  if (c === '%') return `${triplet} encodes %, which a second decoding turns into another character`;
  if (c === '?' || c === '#') return `${triplet} encodes ${c}, which some upstreams split the path at`;
  if (isRawPathChar(code))
    return `${triplet} encodes ${c}, which a path carries as is: send ${c} (upstreams decode it differently)`;
  if (triplet !== triplet.toUpperCase())
    return `${triplet} must be written in upper case (${triplet.toUpperCase()})`;
  return undefined;
}

function rawProblem(c: string, code: number): string | undefined {
  if (code < 0x21 || code === 0x7f) return 'the path contains a control character, NUL or space';
  if (code > 0x7e) return 'the path contains a non-ASCII byte: percent-encoding is refused too, send ASCII';
  if (c === '\\') return 'the path contains a backslash, which some upstreams read as /';
  if (c === ';') return 'the path contains ;, which Tomcat, Jetty and Spring strip as a path parameter';
  if (ENCODED_ONLY_CHARS.has(c) || c === '#')
    return `the path contains ${c}, which must be percent-encoded (%${HEX[code >> 4]}${HEX[code & 15]})`;
  return undefined;
}

const SLASH = 0x2f;
const DOT = 0x2e;
const PERCENT = 0x25;

/**
 * Why `path` (the request target up to `?`) is not canonical, or undefined when it is. The message is
 * for the client: it quotes at most the offending percent-encoding, never the path. One pass over the
 * characters (this runs on every request); segment problems are reported only after every character
 * passed, as character problems come first.
 */
export function requestPathProblem(path: string): string | undefined {
  if (path.charCodeAt(0) !== SLASH)
    return path === '*' || /^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(path)
      ? 'the request target must be a path (absolute-form and * targets are for proxies)'
      : 'the path must start with /';
  let segment: string | undefined;
  let start = 1;
  let allDots = true;
  for (let i = 1; i < path.length; i++) {
    const code = path.charCodeAt(i);
    if (code === SLASH) {
      segment ??= segmentProblem(path, start, i, allDots, false);
      start = i + 1;
      allDots = true;
    } else if (code === PERCENT) {
      const h1 = i + 2 < path.length ? hex(path.charAt(i + 1)) : -1;
      const h2 = i + 2 < path.length ? hex(path.charAt(i + 2)) : -1;
      if (h1 < 0 || h2 < 0) return 'the path contains a % that is not followed by two hex digits';
      const problem = encodedProblem(path.slice(i, i + 3), h1 * 16 + h2);
      if (problem) return problem;
      allDots = false;
      i += 2;
    } else if (isRawPathChar(code)) {
      if (code !== DOT) allDots = false;
    } else {
      const problem = rawProblem(path.charAt(i), code);
      if (problem) return problem;
      allDots = false;
    }
  }
  return segment ?? segmentProblem(path, start, path.length, allDots, true);
}

/** The segment path[start, end): empty (`//`), all dots, or ending in a dot. */
function segmentProblem(
  path: string,
  start: number,
  end: number,
  allDots: boolean,
  last: boolean,
): string | undefined {
  // An empty last segment is a trailing slash (or the root path): route matching deals with it.
  if (start === end) return last ? undefined : 'the path contains an empty segment (//)';
  if (allDots) return 'the path contains a dot segment (. or ..)';
  if (path.charCodeAt(end - 1) === DOT) return 'a path segment ends in a dot, which some upstreams drop';
  return undefined;
}

declare const CANONICAL: unique symbol;
/** A path requestPathProblem found nothing wrong with: what route matching and the gate take. */
export type CanonicalPath = string & { readonly [CANONICAL]: true };

/** The path, checked once per request: branded canonical, or the problem with it. */
export function canonicalPath(path: string): { path: CanonicalPath } | { problem: string } {
  const problem = requestPathProblem(path);
  return problem === undefined ? { path: path as CanonicalPath } : { problem };
}
