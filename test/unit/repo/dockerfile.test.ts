import { existsSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

// No Docker engine runs here, so the image cannot be built in the tests. What can go wrong with it is
// checked instead: everything the CLI can load at run time is in the image (src/, crds/) and every
// package it imports is a production dependency (the image installs only those).

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  engines: { node: string };
};

function reachableImports(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const queue = [resolve(entry)];
  while (queue.length > 0) {
    const file = queue.pop() as string;
    if (files.has(file)) continue;
    files.add(file);
    const text = readFileSync(file, 'utf8');
    // Static imports and exports, and dynamic import('...') with a literal.
    for (const m of text.matchAll(
      /(?:^|\n)\s*(?:import|export)\s[^'";]*?from\s+'([^']+)'|import\(\s*'([^']+)'\s*\)|(?:^|\n)import\s+'([^']+)'/g,
    )) {
      const spec = m[1] ?? m[2] ?? m[3];
      if (!spec) continue;
      if (spec.startsWith('.')) {
        const target = resolve(dirname(file), spec);
        expect(existsSync(target), `${file} imports missing ${spec}`).toBe(true);
        queue.push(target);
      } else if (!spec.startsWith('node:') && !builtinModules.includes(spec)) {
        packages.add(
          spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] as string),
        );
      }
    }
  }
  return { files, packages };
}

describe('the image', () => {
  const { files, packages } = reachableImports('src/cli/main.ts');

  it('needs only production dependencies at run time', () => {
    expect(files.size).toBeGreaterThan(50);
    const notProduction = [...packages].filter((p) => !(p in pkg.dependencies));
    expect(
      notProduction,
      'imported at run time but not in dependencies (the image omits devDependencies)',
    ).toEqual([]);
  });

  it('contains every file the CLI loads, runs Node 24 as a non-root user, with the CLI as entry point', () => {
    const dockerfile = readFileSync('Dockerfile', 'utf8');
    const copied = [...dockerfile.matchAll(/^COPY (?:--from=\S+ )?(\S+) /gm)].map((m) => m[1]);
    const root = resolve('.');
    for (const f of files) {
      const top = f.slice(root.length + 1).split('/')[0] as string;
      expect(copied, `${f} is not copied into the image`).toContain(top);
    }
    expect(dockerfile).toMatch(/^FROM node:24\.\d+\.\d+-\S+$/m);
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    expect(dockerfile).toMatch(/^USER (?!0|root)\S+/m);
    // With the Node flags in between: node-flags.test.ts.
    expect(dockerfile).toMatch(/^ENTRYPOINT \["node", (?:"--[^"]+", )*"\/app\/src\/cli\/main\.ts"\]$/m);
    // The injector's init container runs this file from the image.
    expect(existsSync('src/injector/compose-main.ts')).toBe(true);
    expect(pkg.engines.node).toMatch(/>=\s*24/);
  });
});
