import { describe, expect, it } from 'vitest';
import { patternCovers } from '../../../../src/validator/config/warnings.ts';
import { parseTarget, targetText } from '../../../../src/validator/http/target.ts';
import { cgiName, identityHeaders, isIdentityHeader } from '../../../../src/validator/identity/headers.ts';
import { makeKey } from '../../../support/validator/keys.ts';

describe('parseTarget: one reading or none', () => {
  it('reads origin-form and well-formed absolute-form targets without normalising them', () => {
    expect(parseTarget('/v1/devices/1?full=1&x=%2F', { absolute: false })).toEqual({
      ok: true,
      path: '/v1/devices/1',
      query: 'full=1&x=%2F',
    });
    expect(parseTarget('/v1/../admin', { absolute: false })).toMatchObject({
      ok: true,
      path: '/v1/../admin',
    });
    expect(parseTarget('/', { absolute: false })).toEqual({ ok: true, path: '/', query: '' });
    for (const [url, path, query] of [
      ['https://api.example.com/v1/devices/1?a=b', '/v1/devices/1', 'a=b'],
      ['HTTP://API.example.com:8443/x', '/x', ''],
      ['http://[2001:db8::1]:80/v1/a?b?c', '/v1/a', 'b?c'],
      ['http://my_host.local/x', '/x', ''],
      ['/v1/origin-form/in/the/url/header', '/v1/origin-form/in/the/url/header', ''],
    ] as const) {
      expect(parseTarget(url, { absolute: true }), url).toEqual({ ok: true, path, query });
    }
  });

  it('refuses every form another parser could read differently', () => {
    const absolute = [
      'http://h?/v1/admin/users', // empty path to RFC 3986, /v1/admin/users to a naive reader
      'http://h#/v1/admin/users',
      'http://u@h/v1/devices/1',
      'http://u:p@h/v1/devices/1',
      'http://h@evil/v1/devices/1',
      'http://h\\/v1/devices/1', // WHATWG reads \ as /
      'http://h',
      'http:/v1/devices/1',
      'http:///v1/devices/1',
      'ftp://h/v1/devices/1',
      'javascript://h/v1/devices/1',
      'http://h:99999999/x',
      'http://h/v1/devices/1#frag',
      'http://h/v1/devices/1 /v1/admin',
      'http://h//v1/admin',
      ' http://h/v1/devices/1',
      'http://h/v1/d\u00e9vices',
      'http://h/v1/devices/1\r\nX: y',
    ];
    for (const t of absolute) expect(parseTarget(t, { absolute: true }).ok, JSON.stringify(t)).toBe(false);
    const origin = [
      'http://h/v1/devices/1', // absolute-form where the proxy only sends origin-form
      '//h/v1/devices/1',
      'v1/devices/1',
      '',
      '*',
      '/v1/devices/1#x',
      '/v1/devices/1, /v1/admin', // a duplicated header, joined by node
      '/v1/dev ices',
      '/v1/devices/\\..\\admin',
      '/v1/devices/{id}',
      '/v1/devices/1\u0000',
      '/v1/devices/1?q=a b',
    ];
    for (const t of origin) expect(parseTarget(t, { absolute: false }).ok, JSON.stringify(t)).toBe(false);
  });

  it('targetText puts the two nginx headers in one form for comparison', () => {
    const a = parseTarget('https://h/v1/x?y=1', { absolute: true });
    const b = parseTarget('/v1/x?y=1', { absolute: false });
    if (!a.ok || !b.ok) throw new Error('expected both to parse');
    expect(targetText(a)).toBe(targetText(b));
    expect(targetText({ path: '/a', query: '' })).toBe('/a');
  });
});

describe('identity header names', () => {
  it('reads a name as a CGI/WSGI server does: any case, _ for -', () => {
    expect(cgiName('X_Keywarden_Key_Id')).toBe('x-keywarden-key-id');
    for (const n of ['X-Keywarden-Key-Id', 'x_keywarden_jwt', 'X-KEYWARDEN_made_up', 'x_KEYWARDEN-customers'])
      expect(isIdentityHeader(n), n).toBe(true);
    for (const n of ['x-keywardenx', 'keywarden-key-id', 'x-api-key', 'x-forwarded-for'])
      expect(isIdentityHeader(n), n).toBe(false);
  });

  it('an allowed answer carries every identity header, empty when unknown', () => {
    const k = makeKey({ permissions: [], customers: [] });
    const h = identityHeaders(
      {
        record: k.record,
      } as never,
      undefined,
      undefined,
    );
    expect(Object.keys(h)).toHaveLength(9);
    expect(h['X-Keywarden-Client-Ip']).toBe('');
    expect(h['X-Keywarden-Jwt']).toBe('');
    expect(h['X-Keywarden-Permissions']).toBe('');
  });
});

describe('patternCovers (route shadowing)', () => {
  const seg = (p: string) => p.split('/').slice(1);
  it('knows which patterns match every path of another', () => {
    const yes: [string, string][] = [
      ['/v1/**', '/v1/admin/**'],
      ['/v1/**', '/v1'],
      ['/**', '/'],
      ['/v1/*', '/v1/users'],
      ['/v1/*/x', '/v1/*/x'],
      ['/v1/a', '/v1/a'],
    ];
    const no: [string, string][] = [
      ['/v1/*', '/v1/**'],
      ['/v1/*', '/v1/'],
      ['/v1/a', '/v1/*'],
      ['/v1/admin', '/v1/admin/x'],
      ['/v1/admin/**', '/v1'],
      ['/v2/**', '/v1/a'],
    ];
    for (const [a, b] of yes) expect(patternCovers(seg(a), seg(b)), `${a} ⊇ ${b}`).toBe(true);
    for (const [a, b] of no) expect(patternCovers(seg(a), seg(b)), `${a} ⊉ ${b}`).toBe(false);
  });
});
