import { describe, expect, it } from 'vitest';
import { parseInjectorConfig, readAnnotations } from '../../../src/injector/index.ts';
import { formatProblem } from '../../../src/rules/index.ts';
import { CONFIG } from '../../support/injector/fixtures.ts';

// Hostile annotations and injector settings: every one is refused with a problem naming its field
// (the annotation, or the settings field and line), never a crash.

const BASE = {
  'keywarden.dev/inject': 'true',
  'keywarden.dev/environment': 'staging',
  'keywarden.dev/upstream-port': '3000',
  'keywarden.dev/routes-configmap': 'routes',
};
const JWT_CONFIG = { ...CONFIG, validatorSettings: { identity: { jwt: { issuer: 'kw' } } } };

describe('readAnnotations: hostile input', () => {
  it('names each problem by its annotation', () => {
    const r = readAnnotations({ ...BASE, 'keywarden.dev/port': '99999' }, 'payments', [], CONFIG);
    expect(r).toMatchObject({
      inject: true,
      ok: false,
      problems: [
        { field: 'keywarden.dev/port', message: 'must be a port number from 1 to 65535, got "99999"' },
      ],
    });
  });

  it('gives a namespace called constructor or __proto__ no allow-list from Object.prototype', () => {
    for (const namespace of ['constructor', 'toString', 'hasOwnProperty']) {
      const r = readAnnotations(
        { ...BASE, 'keywarden.dev/jwt-audience': 'other' },
        namespace,
        [],
        JWT_CONFIG,
      );
      expect(r).toMatchObject({
        inject: true,
        ok: false,
        problems: [
          {
            field: 'keywarden.dev/jwt-audience',
            message: expect.stringMatching(
              new RegExp(`^"other" is not an audience pods in namespace ${namespace}`),
            ),
          },
        ],
      });
    }
  });

  it('treats annotation names that are prototype keys as unknown, not as settings', () => {
    const annotations = JSON.parse(
      JSON.stringify({ ...BASE, 'keywarden.dev/__proto__': 'x', 'keywarden.dev/constructor': 'y' }),
    ) as Record<string, string>;
    const r = readAnnotations(annotations, 'payments', [], CONFIG);
    expect(r.inject && !r.ok && r.problems.map((p) => p.field)).toEqual([
      'keywarden.dev/__proto__',
      'keywarden.dev/constructor',
    ]);
    const own = JSON.parse('{"__proto__": {"keywarden.dev/inject": "true"}}') as Record<string, string>;
    expect(readAnnotations(own, 'payments', [], CONFIG)).toEqual({ inject: false });
  });

  it('refuses huge and odd numbers for ports', () => {
    for (const v of ['1e3', '0x50', '99999999999999999999', '-1', '80.0', ' ']) {
      const r = readAnnotations({ ...BASE, 'keywarden.dev/admin-port': v }, 'payments', [], CONFIG);
      expect(r.inject && !r.ok && r.problems[0]?.field).toBe('keywarden.dev/admin-port');
    }
  });
});

describe('parseInjectorConfig: lines and hostile input', () => {
  const texts = (text: string) => {
    const r = parseInjectorConfig(text);
    return r.ok ? [] : r.problems.map((p) => formatProblem('injector.yaml', p));
  };

  it('gives each problem its line', () => {
    expect(texts('image: kw:1\nport: 80\nadminPort: 80\nlogLevel: loud\n')).toEqual([
      'injector.yaml:3:12: adminPort: must differ from port',
      'injector.yaml:4:11: logLevel: must be one of: fatal, error, warn, info, debug, trace, silent',
    ]);
  });

  it('refuses non-mapping documents, prototype keys, duplicate keys and alias bombs', () => {
    expect(texts('- image: kw:1\n')).toEqual([
      'injector.yaml:1:1: the injector configuration must be a mapping',
    ]);
    expect(texts('')).toEqual(['injector.yaml: the injector configuration must be a mapping']);
    expect(
      texts('image: kw:1\n__proto__: {port: 1}\njwtAudiences: {constructor: [a], __proto__: [b]}\n'),
    ).toEqual([
      expect.stringMatching(/^injector\.yaml:2:1: __proto__: unknown field/),
      // `constructor` is a valid namespace name: its list is its own, read with Object.hasOwn.
      'injector.yaml:3:34: jwtAudiences.__proto__: not a namespace name',
    ]);
    expect(texts('image: kw:1\nimage: kw:2\n')).toEqual([
      'injector.yaml:2:1: image: Map keys must be unique',
    ]);
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]', 'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]'];
    bomb.push('c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]', 'image: kw:1');
    expect(texts(bomb.join('\n'))).toEqual([
      expect.stringMatching(/^injector\.yaml: the YAML document cannot be read: /),
    ]);
    expect(texts('image: kw:1\nport: 1e400\nnamespaces: [99999999999999999999]\n')).toEqual([
      'injector.yaml:2:7: port: must be a port number from 1 to 65535',
      'injector.yaml:3:13: namespaces: must be a list of namespace names',
    ]);
  });
});
