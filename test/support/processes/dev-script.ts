import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { CTRL_C_LINE, ENDPOINTS_HEADING } from '../../../src/cli/commands/dev.ts';

const DEV = fileURLToPath(new URL('../../../scripts/dev.sh', import.meta.url));

/** scripts/dev.sh running until it waits for Ctrl-C (or exits early). */
export interface DevRun {
  child: ChildProcess;
  /** Everything it printed so far (stdout and stderr). */
  output: () => string;
  exited: Promise<number | null>;
  /** Sends the Ctrl-C it waits for and returns its exit code. */
  stop: () => Promise<number | null>;
}

/** Starts scripts/dev.sh with `args`; resolves once it printed the Ctrl-C line or exited. */
export async function startDevScript(args: string[]): Promise<DevRun> {
  const child = spawn('bash', [DEV, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let waiting: () => void = () => {};
  const up = new Promise<void>((resolve) => {
    waiting = resolve;
  });
  const onData = (c: Buffer) => {
    out += c.toString();
    if (out.includes(CTRL_C_LINE)) waiting();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  await Promise.race([up, exited]);
  return {
    child,
    output: () => out,
    exited,
    stop: async () => {
      // dev.sh execs node: this is the Ctrl-C it waits for.
      if (child.exitCode === null) child.kill('SIGINT');
      return exited;
    },
  };
}

/** The `  <what>  <url>` lines under the endpoints heading. */
export function endpoints(out: string): Map<string, string> {
  const lines = out
    .slice(out.indexOf(ENDPOINTS_HEADING) + ENDPOINTS_HEADING.length)
    .split('\n')
    .slice(1);
  const found = new Map<string, string>();
  for (const line of lines) {
    const m = /^ {4}(\S.*?)\s+((?:https?):\/\/\S+)/.exec(line);
    if (!m) break;
    found.set(m[1] as string, m[2] as string);
  }
  return found;
}

/** The lines printed under "try it": the commands a user copies. */
export function tryItLines(out: string): string[] {
  const start = out.indexOf('  try it');
  if (start < 0) return [];
  const lines: string[] = [];
  for (const line of out.slice(start).split('\n').slice(1)) {
    if (!line.startsWith('    ')) break;
    lines.push(line.trim());
  }
  return lines;
}

/** The value of `export NAME=...` in the summary. */
export function exported(out: string, name: string): string {
  return new RegExp(`^ {2}export ${name}=(\\S+)`, 'm').exec(out)?.[1] ?? '';
}

/** Runs the "try it" lines as a user would paste them (with the printed KUBECONFIG); their output. */
export function runTryItLines(out: string): string {
  return execFileSync('bash', ['-euc', tryItLines(out).join('\n')], {
    cwd: new URL('../../..', import.meta.url),
    env: {
      ...process.env,
      KUBECONFIG: exported(out, 'KUBECONFIG'),
      PATH: `${dirname(process.execPath)}:${process.env.PATH}`,
    },
    encoding: 'utf8',
  });
}

/** The printed "try it" lines work as printed: they reveal the unseen key and call with it (200). */
export function expectTryItWorks(out: string): void {
  const tried = runTryItLines(out);
  expect(tried).toMatch(/^HTTP\/1\.1 200/);
  expect(tried).toContain('"x-keywarden-apikey-name":"try-me"');
}

/** After Ctrl-C: exit 0, the story's answers printed, the teardown announced. Returns the output. */
export async function expectStoryThenTeardown(dev: DevRun): Promise<string> {
  const out = dev.output();
  expect(await dev.exited, out.slice(-3000)).toBe(0);
  expect(out).toMatch(/public staging key, POST \/v1\/sessions\s+200\s+200/);
  expect(out).toMatch(/a burst over 10 requests\/s\s+429\s+429/);
  expect(out).toContain('==> tearing down');
  return out;
}
