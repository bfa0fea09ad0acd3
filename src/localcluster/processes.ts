import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const RUN_DIR_PREFIX = 'keywarden-cp-';
const PIDS_FILE = 'pids.json';

interface PidRecord {
  owner: number;
  children: { pid: number; name: string }[];
}

/**
 * A child process that dies with us: spawned through `setpriv --pdeathsig SIGKILL`, so even a
 * SIGKILLed test runner leaves no etcd or kube-apiserver behind. The pid is also recorded in the run
 * folder, and `reapOrphans` cleans up after runners on systems without setpriv.
 */
export class ManagedProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly logFile: string;
  #exited: Promise<number | null>;
  #exitCode: number | null | undefined;

  constructor(name: string, bin: string, args: string[], runDir: string, env?: NodeJS.ProcessEnv) {
    this.name = name;
    this.logFile = join(runDir, `${name}.log`);
    const log = createWriteStream(this.logFile, { flags: 'a' });
    const usePdeathsig = existsSync('/usr/bin/setpriv');
    const [cmd, cmdArgs] = usePdeathsig
      ? ['/usr/bin/setpriv', ['--pdeathsig', 'SIGKILL', '--', bin, ...args]]
      : [bin, args];
    this.child = spawn(cmd, cmdArgs, { stdio: ['ignore', 'pipe', 'pipe'], ...(env ? { env } : {}) });
    this.child.stdout?.pipe(log, { end: false });
    this.child.stderr?.pipe(log, { end: false });
    this.#exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        this.#exitCode = code ?? (signal ? -1 : null);
        resolve(this.#exitCode);
      });
      this.child.on('error', () => resolve(-1));
    });
    recordChild(runDir, this.child.pid, name);
  }

  get running(): boolean {
    return this.#exitCode === undefined;
  }

  exited(): Promise<number | null> {
    return this.#exited;
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 5_000): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.#exited;
    clearTimeout(timer);
  }

  kill(): Promise<number | null> {
    if (this.running) this.child.kill('SIGKILL');
    return this.#exited;
  }

  tail(lines = 30): string {
    try {
      return readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }
}

function recordChild(runDir: string, pid: number | undefined, name: string): void {
  if (pid === undefined) return;
  const file = join(runDir, PIDS_FILE);
  let record: PidRecord = { owner: process.pid, children: [] };
  try {
    record = JSON.parse(readFileSync(file, 'utf8')) as PidRecord;
  } catch {
    // first child of this run
  }
  record.children.push({ pid, name });
  writeFileSync(file, JSON.stringify(record));
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}

/** Kills control-plane processes left by runs whose owner died, and removes their folders. */
export function reapOrphans(): number {
  let reaped = 0;
  const base = tmpdir();
  for (const entry of readdirSync(base)) {
    if (!entry.startsWith(RUN_DIR_PREFIX)) continue;
    const dir = join(base, entry);
    let record: PidRecord;
    try {
      record = JSON.parse(readFileSync(join(dir, PIDS_FILE), 'utf8')) as PidRecord;
    } catch {
      continue;
    }
    if (isAlive(record.owner)) continue;
    for (const { pid, name } of record.children) {
      // Only kill a pid that still runs the same binary (pids get reused).
      if (isAlive(pid) && commandLine(pid).includes(name === 'etcd' ? 'etcd' : name)) {
        try {
          process.kill(pid, 'SIGKILL');
          reaped++;
        } catch {
          // already gone
        }
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }
  return reaped;
}
