import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { upstreamTarget } from '../../../src/validator/http/forward.ts';
import { runs } from '../fuzz/runs.ts';

// The reverse proxy passes a plain request target on byte for byte and reads any other as WHATWG URL
// does (what the proxy library did before): both must give the upstream the same target, or the
// upstream could read a path the validator never decided on.

/** The proxy library's reading: pathname + search of the target against a dummy base. */
function whatwgReading(target: string): string {
  if (target === '' || target.startsWith('?')) return target;
  const u = new URL(target.startsWith('//') ? `http://base.invalid${target}` : target, 'http://base.invalid');
  return `${u.pathname}${u.search}`;
}

/** The reading, or how it failed (a target no URL can hold fails both ways alike). */
function outcome(read: (t: string) => string, t: string): string {
  try {
    return read(t);
  } catch (err) {
    return `throws ${(err as Error).name}`;
  }
}
const same = (t: string) =>
  expect(
    outcome((x) => upstreamTarget('', x), t),
    t,
  ).toBe(outcome(whatwgReading, t));

const TRICKY = [
  '/',
  '/v1/devices/42',
  '/v1/devices?',
  '/v1/devices??',
  '/v1/devices?a=1&b=/./x',
  '/v1/./admin',
  '/v1/../admin',
  '/v1/%2e%2e/admin',
  '/v1/%2E/admin',
  '/v1/.%2e/admin',
  '/v1/devices/..',
  '/.well-known/x',
  "/v1/devices?q='x'",
  "/v1/it's",
  '/v1/a"b?c<d>',
  '/v1\\admin',
  '//evil.example/v1',
  '/v1/%zz/%',
  '/v1/a;b=c,d@e:f',
  '/v1/{x}/`y`/^z|',
];

describe('the upstream target', () => {
  it('is the WHATWG reading of every tricky target', () => {
    for (const t of TRICKY) same(t);
  });

  it('is the WHATWG reading of any target (fuzz)', () => {
    const chars = fc.constantFrom(...'/.%2eE?#\'"\\abc:@;=&-_~!$()*+,[]{}^`| \t'.split(''));
    fc.assert(
      fc.property(fc.array(chars, { maxLength: 24 }), (cs) => {
        same(`/${cs.join('')}`);
      }),
      { numRuns: runs(5000) },
    );
  });

  it('goes after the upstream URL path, joined by one slash', () => {
    expect(upstreamTarget('/base', '/v1/x?a=1')).toBe('/base/v1/x?a=1');
    expect(upstreamTarget('/base', '/')).toBe('/base/');
    expect(upstreamTarget('', '/v1')).toBe('/v1');
  });
});
