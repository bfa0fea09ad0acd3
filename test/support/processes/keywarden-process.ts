import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { inject } from 'vitest';
import { OPERATOR_NS } from '../kube/apikeys.ts';

const MAIN = fileURLToPath(new URL('../../../src/cli/main.ts', import.meta.url));

/** A `keywarden <subcommand>` child process (a real separate process, so tests can SIGKILL it). */
export class KeywardenProcess {
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  #exit: Promise<number | null>;

  constructor(args: string[], env: Record<string, string> = {}) {
    // Under setpriv --pdeathsig, so a crashed test worker leaves no keywarden process behind.
    const [cmd, cmdArgs] = existsSync('/usr/bin/setpriv')
      ? ['/usr/bin/setpriv', ['--pdeathsig', 'SIGKILL', '--', process.execPath, MAIN, ...args]]
      : [process.execPath, [MAIN, ...args]];
    this.child = spawn(cmd, cmdArgs, {
      env: { ...process.env, KUBECONFIG: inject('kubeconfigPath'), KEYWARDEN_LOG_LEVEL: 'debug', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let buf = '';
    const onData = (chunk: Buffer) => {
      buf += chunk.toString('utf8');
      const parts = buf.split('\n');
      buf = parts.pop() ?? '';
      this.lines.push(...parts);
    };
    this.child.stdout?.on('data', onData);
    this.child.stderr?.on('data', onData);
    this.#exit = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
  }

  /** Waits for a JSON log line whose msg matches, and returns it parsed. */
  async waitForLog(msg: string | RegExp, timeoutMs = 60_000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    let seen = 0;
    while (Date.now() < deadline) {
      for (; seen < this.lines.length; seen++) {
        const line = this.lines[seen] ?? '';
        try {
          const entry = JSON.parse(line) as Record<string, unknown>;
          const m = String(entry.msg ?? '');
          if (typeof msg === 'string' ? m === msg : msg.test(m)) return entry;
        } catch {
          // not a JSON line
        }
      }
      if (this.child.exitCode !== null)
        throw new Error(`process exited (${this.child.exitCode}):\n${this.lines.slice(-30).join('\n')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`no log line "${msg}" after ${timeoutMs} ms:\n${this.lines.slice(-30).join('\n')}`);
  }

  kill(): Promise<number | null> {
    this.child.kill('SIGKILL');
    return this.#exit;
  }

  async stop(): Promise<number | null> {
    if (this.child.exitCode !== null) return this.child.exitCode;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    const code = await this.#exit;
    clearTimeout(timer);
    return code;
  }

  exited(): Promise<number | null> {
    return this.#exit;
  }
}

/** Polls until `check` returns a value that is not undefined (or throws the last error at the deadline). */
/** `keywarden controller` serving one namespace, health on a free port, plus `extraArgs`. */
export function startControllerProcess(
  ns: string,
  extraArgs: string[] = [],
  env: Record<string, string> = {},
): KeywardenProcess {
  return new KeywardenProcess(
    [
      'controller',
      '--operator-namespace',
      OPERATOR_NS,
      '--namespaces',
      ns,
      '--admin-port',
      '0',
      ...extraArgs,
    ],
    env,
  );
}

export async function eventually<T>(
  check: () => Promise<T | undefined>,
  timeoutMs = 20_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(
    `condition not met within ${timeoutMs} ms${lastError ? `: ${(lastError as Error).message}` : ''}`,
  );
}
