import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { NODE_FLAGS } from '../../../src/runtime/node-flags.ts';

// Every place that starts keywarden outside Node's own control starts it with NODE_FLAGS, in front of
// the script (after it they would be the CLI's arguments): the image, and the wrappers in bin/. The dev
// processes and the benches import the constant. This Node must accept the flags (an unknown one stops
// the process before it starts) and must size the young generation by them.

/** The exec-form ENTRYPOINT's argv. */
function entrypoint(dockerfile: string): string[] {
  const line = /^ENTRYPOINT (\[.*\])$/m.exec(dockerfile)?.[1];
  if (!line) throw new Error('no exec-form ENTRYPOINT');
  return JSON.parse(line) as string[];
}

/** The node command line a bin/ wrapper execs, split on spaces (quotes dropped). */
function wrapperCommand(script: string): string[] {
  const line = /^exec (node .*)$/m.exec(script)?.[1];
  if (!line) throw new Error('no `exec node` line');
  return line.split(/\s+/).map((w) => w.replaceAll('"', ''));
}

describe('the Node flags', () => {
  it('are the image ENTRYPOINT, before the CLI script', () => {
    expect(entrypoint(readFileSync('Dockerfile', 'utf8'))).toEqual([
      'node',
      ...NODE_FLAGS,
      '/app/src/cli/main.ts',
    ]);
  });

  it('are in the bin/ wrappers, before the CLI script', () => {
    for (const file of ['bin/keywarden', 'bin/kubectl-keywarden']) {
      expect(wrapperCommand(readFileSync(file, 'utf8')), file).toEqual([
        'node',
        ...NODE_FLAGS,
        '$here/../src/cli/main.ts',
        '$@',
      ]);
    }
  });

  it('are refused where they would not take effect: missing, or after the script', () => {
    const flags = NODE_FLAGS.map((f) => `"${f}"`).join(', ');
    const good = `ENTRYPOINT ["node", ${flags}, "/app/src/cli/main.ts"]`;
    expect(entrypoint(good)).toEqual(['node', ...NODE_FLAGS, '/app/src/cli/main.ts']);
    for (const bad of [
      'ENTRYPOINT ["node", "/app/src/cli/main.ts"]',
      `ENTRYPOINT ["node", "/app/src/cli/main.ts", ${flags}]`,
    ])
      expect(entrypoint(bad)).not.toEqual(['node', ...NODE_FLAGS, '/app/src/cli/main.ts']);
    expect(() => entrypoint('ENTRYPOINT node /app/src/cli/main.ts')).toThrow(/exec-form/);
  });

  it('are accepted by this Node and fix the young generation at the size they name', () => {
    const semiMiB = (name: string) =>
      Number(NODE_FLAGS.find((f) => f.startsWith(`--${name}-semi-space-size=`))?.split('=')[1]);
    expect(semiMiB('min')).toBe(semiMiB('max'));
    const out = execFileSync(
      process.execPath,
      [
        ...NODE_FLAGS,
        '-e',
        `const v8 = require('node:v8');
         let keep = [];
         for (let i = 0; i < 2e6; i++) { keep.push({ i }); if (keep.length > 1000) keep = []; }
         const s = v8.getHeapSpaceStatistics().find((x) => x.space_name === 'new_space');
         console.log(s.space_size);`,
      ],
      { encoding: 'utf8' },
    );
    // new_space reports both semi-spaces once allocation has touched them.
    expect(Number(out.trim()) / 2 ** 20).toBe(2 * semiMiB('max'));
  });
});
