import { describe, expect, it } from 'vitest';
import { formatProblem } from '../../../../src/rules/index.ts';
import { parseConfig } from '../../../../src/validator/config/load.ts';

// Hostile or odd YAML in the validator configuration: every case is refused with a problem naming
// its field (and line), never a crash, and nothing leaks onto Object.prototype.

const problems = (text: string) => {
  const r = parseConfig(text);
  if (r.ok) throw new Error(`expected problems for ${JSON.stringify(text)}`);
  return r.problems.map((p) => formatProblem('f.yaml', p));
};

describe('validator configuration: line numbers', () => {
  it('places audit problems at the audit field that is wrong, not at the audit block', () => {
    expect(
      problems(
        [
          'environment: staging', // 1
          'audit:', // 2
          '  directory: /tmp/a', // 3
          '  flushInterval: soon', // 4
          '  rotate:', // 5
          '    size: lots', // 6
          '  retention: {maxSize: 12XB}', // 7
        ].join('\n'),
      ),
    ).toEqual([
      expect.stringMatching(/^f\.yaml:4:18: audit\.flushInterval: "soon" is not a valid duration/),
      'f.yaml:6:11: audit.rotate.size: "lots" is not a size (e.g. 64Mi, 10Gi, 500M)',
      'f.yaml:7:24: audit.retention.maxSize: "12XB" is not a size (e.g. 64Mi, 10Gi, 500M)',
    ]);
  });

  it('names a repeated key and the line of its second appearance', () => {
    expect(problems('environment: production\nserver:\n  port: 1\n  port: 2\n')).toEqual([
      'f.yaml:4:3: port: Map keys must be unique',
    ]);
  });

  it('lists problems in file order across the schema, the parser and the section checkers', () => {
    const p = problems(
      'environment: nowhere\ntrustedProxies: [10.0.0.0/33]\nroutes: [{path: /a, permission: "x:*"}]\n',
    );
    expect(p.map((s) => s.split(':').slice(0, 2).join(':'))).toEqual(['f.yaml:1', 'f.yaml:2', 'f.yaml:3']);
  });
});

describe('validator configuration: hostile input', () => {
  it.each([
    ['a list', '- environment: production\n'],
    ['a number', '42\n'],
    ['a string', 'production\n'],
  ])('refuses a document that is %s, naming the document', (_, text) => {
    expect(problems(text)).toEqual(['f.yaml:1:1: must be an object']);
  });

  it('treats __proto__ and constructor as unknown fields and pollutes nothing', () => {
    const p = problems(
      'environment: production\n__proto__: {polluted: yes}\nserver: {constructor: {port: 1}}\nrouteS: []\n',
    );
    expect(p).toEqual([
      expect.stringMatching(/^f\.yaml:2:1: __proto__: unknown field/),
      expect.stringMatching(/^f\.yaml:3:10: server\.constructor: unknown field/),
      expect.stringMatching(/^f\.yaml:4:1: routeS: unknown field/),
    ]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('refuses numbers too large for a port, a count or a size', () => {
    expect(
      problems(
        'environment: production\nserver: {port: 1e400}\nmetrics: {perKey: {maxKeys: 99999999999999999999999}}\naudit: {directory: /a, batchSize: 99999999999999999999Ti}\n',
      ),
    ).toEqual([
      'f.yaml:2:16: server.port: must be an integer',
      'f.yaml:3:29: metrics.perKey.maxKeys: must be <= 10000',
      'f.yaml:4:35: audit.batchSize: "99999999999999999999Ti" is not a size (e.g. 64Mi, 10Gi, 500M)',
    ]);
  });

  it('refuses an alias bomb instead of expanding it', () => {
    const bomb = [
      'a: &a [x, x, x, x, x, x, x, x, x, x]',
      'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]',
      'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]',
      'd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]',
      'environment: production',
    ].join('\n');
    expect(problems(bomb)).toEqual([expect.stringMatching(/^f\.yaml: the YAML document cannot be read: /)]);
  });

  it('refuses an alias to nothing, a collection used as a key, and a number used as a key', () => {
    expect(problems('environment: *nowhere\n')).toEqual([
      'f.yaml: the YAML document cannot be read: Unresolved alias (the anchor must be set before the alias): nowhere',
    ]);
    expect(problems('environment: production\n? [a]\n: 1\n')).toEqual([
      // Named as the parser stringifies it; placed at the mapping that holds it.
      expect.stringMatching(/^f\.yaml:1:1: \[ a \]: unknown field/),
    ]);
    expect(problems('environment: production\nserver:\n  8080: x\n')).toEqual([
      expect.stringMatching(/^f\.yaml:3:3: server\.8080: unknown field/),
    ]);
  });
});
