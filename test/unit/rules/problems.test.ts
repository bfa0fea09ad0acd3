import { describe, expect, it } from 'vitest';
import { fieldName, formatProblem, own, problem, readYaml } from '../../../src/rules/index.ts';

describe('problems', () => {
  it('names fields as a person writes them and places them in a file when they have a line', () => {
    expect(fieldName(['routes', 2, 'permission'])).toBe('routes[2].permission');
    expect(formatProblem('f.yaml', { field: 'a.b', message: 'is wrong', line: 3, column: 5 })).toBe(
      'f.yaml:3:5: a.b: is wrong',
    );
    expect(formatProblem('pod', problem('keywarden.dev/port', 'is wrong'))).toBe(
      'pod: keywarden.dev/port: is wrong',
    );
    expect(formatProblem('', problem('', 'the whole thing'))).toBe('the whole thing');
  });

  it('reads only own keys, never the prototype', () => {
    expect(own({}, 'constructor')).toBeUndefined();
    expect(own({}, '__proto__')).toBeUndefined();
    expect(own({ constructor: 'x' }, 'constructor')).toBe('x');
  });
});

describe('readYaml', () => {
  it('places a field at its value, or at its key, or at the nearest parent that exists', () => {
    const r = readYaml('a:\n  b: 1\n  c: [x, y]\n', 'empty');
    if (!r.ok) throw new Error('expected a document');
    expect(r.value.at(['a', 'c', 1], 'm')).toMatchObject({ field: 'a.c[1]', line: 3, column: 10 });
    expect(r.value.at(['a', 'b'], 'm', true)).toMatchObject({ line: 2, column: 3 });
    expect(r.value.at(['a', 'missing', 'deeper'], 'm')).toMatchObject({ field: 'a.missing.deeper', line: 2 });
  });

  it("refuses empty input with the caller's sentence, and syntax errors with their line", () => {
    expect(readYaml('# nothing\n', 'the file is empty')).toMatchObject({
      ok: false,
      problems: [{ message: 'the file is empty', line: 0 }],
    });
    expect(readYaml('a: [\n', 'empty')).toMatchObject({ ok: false, problems: [{ line: 2 }] });
  });
});
