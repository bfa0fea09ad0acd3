import { describe, expect, it } from 'vitest';
import { requestPathProblem } from '../../../src/rules/index.ts';

// The canonical spelling of a request path: every form an upstream could read differently is refused
// with a reason; paths a client writes for an ordinary API pass.

const hex2 = (b: number) => b.toString(16).toUpperCase().padStart(2, '0');

describe('requestPathProblem', () => {
  it('accepts ordinary paths and data characters', () => {
    for (const p of [
      '/',
      '/v1/devices/42',
      '/v1/devices/AbC-_.~9',
      '/v1/things:batchGet',
      "/v1/@me/a!$&'()*+,=",
      '/v1/files/a%22b%3C%3E%5B%5D%5E%60%7B%7C%7D',
      '/v1/users/',
      '/.well-known/jwks.json',
      '/a/..b/b.c',
    ]) {
      expect(requestPathProblem(p), p).toBeUndefined();
    }
  });

  it('refuses every percent-encoding of a character a path carries raw, naming it', () => {
    expect(requestPathProblem('/v1/%61dmin')).toMatch(/%61 encodes a, .*send a/);
    for (let b = 0x21; b < 0x7f; b++) {
      const c = String.fromCharCode(b);
      const allowed = '"<>[]^`{|}'.includes(c);
      for (const t of [`%${hex2(b)}`, `%${hex2(b).toLowerCase()}`]) {
        const problem = requestPathProblem(`/v1/a${t}b`);
        if (allowed && t === t.toUpperCase()) expect(problem, t).toBeUndefined();
        else expect(problem, t).toBeDefined();
      }
    }
    expect(requestPathProblem('/v1/a%7bb')).toMatch(/upper case \(%7B\)/);
  });

  it('refuses encoded controls, NUL, space, non-ASCII and overlong UTF-8', () => {
    for (let b = 0; b < 0x21; b++) expect(requestPathProblem(`/a%${hex2(b)}`), hex2(b)).toMatch(/control/);
    expect(requestPathProblem('/a%7F')).toMatch(/control/);
    for (let b = 0x80; b < 0x100; b++) expect(requestPathProblem(`/a%${hex2(b)}`), hex2(b)).toMatch(/0x7E/);
    for (const p of ['/v1%C0%AFadmin', '/v1%E0%80%AFadmin', '/caf%C3%A9'])
      expect(requestPathProblem(p), p).toMatch(/0x7E/);
  });

  it('refuses structure an upstream resolves its own way', () => {
    const cases: [string, RegExp][] = [
      ['/v1//admin', /empty segment/],
      ['//v1/admin', /empty segment/],
      ['/v1/./admin', /dot segment/],
      ['/v1/x/../admin', /dot segment/],
      ['/v1/admin/..', /dot segment/],
      ['/v1/.../admin', /dot segment/],
      ['/v1/%2e%2e/admin', /dot/],
      ['/v1/.%2E/admin', /dot/],
      ['/v1/admin./users', /ends in a dot/],
      ['/v1/admin;x/users', /;/],
      ['/v1/x/..;/admin', /;/],
      ['/v1/admin%3Bx', /;/],
      ['/v1\\admin', /backslash/],
      ['/v1%5Cadmin', /\\/],
      ['/v1%2Fadmin', /\//],
      ['/v1/%2561dmin', /second decoding/],
      ['/v1/admin%3F', /split/],
      ['/v1/admin%23', /split/],
      ['/v1/admin#x', /percent-encoded/],
      ['/v1/a b', /space/],
      ['/v1/a\tb', /control/],
      ['/v1/a\u0000b', /control/],
      ['/v1/ädmin', /non-ASCII/],
      ['/v1/\uff0fadmin', /non-ASCII/],
      ['/v1/a|b', /percent-encoded \(%7C\)/],
      ['/v1/a%', /two hex digits/],
      ['/v1/a%4', /two hex digits/],
      ['/v1/a%zz', /two hex digits/],
      ['http://h/v1/admin', /absolute-form/],
      ['*', /absolute-form/],
      ['v1/admin', /start with \//],
      ['', /start with \//],
    ];
    for (const [p, re] of cases) expect(requestPathProblem(p), JSON.stringify(p)).toMatch(re);
  });
});
