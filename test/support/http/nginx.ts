import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// A real Debian nginx (package nginx-light, installed by scripts/test.sh) on loopback, with its own
// prefix, config, pid file and temp folders under one folder per run. Leftovers of a crashed run (an
// nginx whose folder is still there) are stopped and removed before the next one starts.

export const NGINX_BIN = '/usr/sbin/nginx';
const ROOT = join(tmpdir(), 'keywarden-nginx-tests');

export interface Nginx {
  dir: string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Whether the test process that made a run folder (`run-<pid>-<ms>`) is another one, still alive. */
function ownerAlive(run: string): boolean {
  const owner = Number(/^run-(\d+)-/.exec(run)?.[1]);
  if (!owner || owner === process.pid) return false;
  try {
    process.kill(owner, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Stops every nginx a previous run left behind (only ours: its command line names our folder), never
 * one whose test process still runs (another test run on the same machine).
 */
export function reapLeftovers(): void {
  if (!existsSync(ROOT)) return;
  for (const run of readdirSync(ROOT)) {
    if (ownerAlive(run)) continue;
    const dir = join(ROOT, run);
    const pidFile = join(dir, 'nginx.pid');
    if (existsSync(pidFile)) {
      const pid = Number(readFileSync(pidFile, 'utf8').trim());
      let cmdline = '';
      try {
        cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      } catch {}
      if (pid > 0 && cmdline.includes(dir)) {
        try {
          process.kill(pid, 'SIGTERM');
        } catch {}
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Starts nginx with `http` as the body of its http block; resolves once every `ports` accepts. */
export async function startNginx(http: string, ports: number[]): Promise<Nginx> {
  if (!existsSync(NGINX_BIN))
    throw new Error(`${NGINX_BIN} is missing: scripts/test.sh installs it (apt-get install -y nginx-light)`);
  reapLeftovers();
  const dir = join(ROOT, `run-${process.pid}-${Date.now()}`);
  for (const d of ['logs', 'tmp']) mkdirSync(join(dir, d), { recursive: true });
  const t = join(dir, 'tmp');
  const conf = `daemon off;
master_process on;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${t}/body;
  proxy_temp_path ${t}/proxy;
  fastcgi_temp_path ${t}/fastcgi;
  uwsgi_temp_path ${t}/uwsgi;
  scgi_temp_path ${t}/scgi;
${http}
}
`;
  writeFileSync(join(dir, 'nginx.conf'), conf);
  const child: ChildProcess = spawn(NGINX_BIN, ['-p', dir, '-c', join(dir, 'nginx.conf')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 10_000;
  for (const port of ports) {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`nginx exited: ${stderr}`);
      if (await accepts(port)) break;
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`nginx did not listen on ${port}: ${stderr}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    dir,
    stop: async () => {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
