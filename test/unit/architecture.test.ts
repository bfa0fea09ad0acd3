// The shape the code promises a newcomer (issue 15): no folder of src/ imports a folder that imports it
// back, no hand-written file over ~350 lines, no function over ~80 lines. Measured with the TypeScript
// compiler's own parser, so a long arrow function or a JSX component counts like any other function.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const SRC = resolve(import.meta.dirname, '../../src');
const MAX_FILE_LINES = 350;
const MAX_FUNCTION_LINES = 80;
/** Written by a generator, not by hand. */
const GENERATED = new Set(['api/types.generated.ts']);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : /\.tsx?$/.test(e.name) ? [join(dir, e.name)] : [],
  );
}

const files = sourceFiles(SRC).map((path) => ({
  path,
  name: relative(SRC, path),
  text: readFileSync(path, 'utf8'),
}));
const topFolder = (path: string) => relative(SRC, path).split('/')[0] ?? '';

/** Folder → the folders of src/ it imports. */
function folderEdges(): Map<string, Set<string>> {
  const edges = new Map<string, Set<string>>();
  for (const f of files) {
    for (const m of f.text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) {
      const target = topFolder(resolve(dirname(f.path), m[1] ?? ''));
      const from = topFolder(f.path);
      if (target === from) continue;
      const set = edges.get(from) ?? new Set<string>();
      set.add(target);
      edges.set(from, set);
    }
  }
  return edges;
}

/** The bottom layers of README's "Reading the code" and what each may import. */
const LOWER_LAYERS: Record<string, string[]> = {
  rules: [],
  pki: [],
  observability: [],
  api: ['rules'],
  kube: ['api', 'rules'],
  runtime: ['observability'],
};

describe('the shape of src/', () => {
  it('keeps the bottom layers below the parts', () => {
    const edges = folderEdges();
    const upward = Object.entries(LOWER_LAYERS).flatMap(([folder, allowed]) =>
      [...(edges.get(folder) ?? [])].filter((t) => !allowed.includes(t)).map((t) => `${folder} → ${t}`),
    );
    expect(upward).toEqual([]);
  });

  it('has no import cycle between folders', () => {
    const edges = folderEdges();
    const cycles = [...edges].flatMap(([a, targets]) =>
      [...targets].filter((b) => a < b && edges.get(b)?.has(a)).map((b) => `${a} ⇄ ${b}`),
    );
    expect(cycles).toEqual([]);
  });

  it(`has no hand-written file over ${MAX_FILE_LINES} lines`, () => {
    const long = files
      .filter((f) => !GENERATED.has(f.name))
      .map((f) => ({ name: f.name, lines: f.text.split('\n').length - 1 }))
      .filter((f) => f.lines > MAX_FILE_LINES);
    expect(long).toEqual([]);
  });

  it(`has no function over ${MAX_FUNCTION_LINES} lines`, () => {
    const long: string[] = [];
    for (const f of files) {
      if (GENERATED.has(f.name)) continue;
      const sf = ts.createSourceFile(f.path, f.text, ts.ScriptTarget.Latest, true);
      const visit = (node: ts.Node) => {
        if (ts.isFunctionLike(node) && 'body' in node && node.body) {
          const first = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
          const last = sf.getLineAndCharacterOfPosition(node.getEnd()).line;
          if (last - first + 1 > MAX_FUNCTION_LINES)
            long.push(`${f.name}:${first + 1} (${last - first + 1} lines)`);
        }
        ts.forEachChild(node, visit);
      };
      visit(sf);
    }
    expect(long).toEqual([]);
  });
});
