import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// The three real upstreams of the differential path test, each its own process: Express 5, Go's
// net/http ServeMux and Python's http.server. Each prints HIT <handler> <target> for every handler it
// runs, so the test learns what the upstream really did, whatever answer reached the client.

export type UpstreamKind = 'express' | 'go' | 'python';
export const UPSTREAM_KINDS: readonly UpstreamKind[] = ['express', 'go', 'python'];

const HERE = fileURLToPath(new URL('.', import.meta.url));
const CACHE = join(
  process.env.KEYWARDEN_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'keywarden'),
);

export interface Hit {
  handler: string;
  target: string;
}

export interface RealUpstream {
  kind: UpstreamKind;
  port: number;
  url: string;
  hits: Hit[];
  stop(): Promise<void>;
}

function goBinary(): string {
  for (const dir of (process.env.PATH ?? '').split(':'))
    if (existsSync(join(dir, 'go'))) return join(dir, 'go');
  if (existsSync('/usr/local/go/bin/go')) return '/usr/local/go/bin/go';
  throw new Error('Go is needed to build the net/http upstream (scripts/test.sh installs it)');
}

/** Builds the Go upstream once per source version into ~/.cache/keywarden/upstreams/, with progress. */
export async function buildGoUpstream(): Promise<string> {
  const src = join(HERE, 'go');
  const hash = createHash('sha256')
    .update(readFileSync(join(src, 'main.go')))
    .update(readFileSync(join(src, 'go.mod')))
    .digest('hex')
    .slice(0, 16);
  const dir = join(CACHE, 'upstreams', `go-nethttp-${hash}`);
  const bin = join(dir, 'upstream');
  if (existsSync(bin)) return bin;
  mkdirSync(dir, { recursive: true });
  process.stderr.write(`[upstreams] building the Go net/http upstream (${hash}) with go build\n`);
  const t0 = Date.now();
  await new Promise<void>((resolve, reject) => {
    const child = spawn(goBinary(), ['build', '-trimpath', '-o', `${bin}.tmp`, '.'], {
      cwd: src,
      env: { ...process.env, GOTOOLCHAIN: 'local', GOFLAGS: '-mod=mod' },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    const tick = setInterval(
      () => process.stderr.write(`[upstreams]   still building, ${Math.round((Date.now() - t0) / 1000)} s\n`),
      15_000,
    );
    child.on('exit', (code) => {
      clearInterval(tick);
      code === 0 ? resolve() : reject(new Error(`go build of the upstream failed (exit ${code})`));
    });
    child.on('error', reject);
  });
  renameSync(`${bin}.tmp`, bin);
  process.stderr.write(`[upstreams]   built in ${Math.round((Date.now() - t0) / 1000)} s: ${bin}\n`);
  return bin;
}

async function command(kind: UpstreamKind): Promise<[string, string[]]> {
  switch (kind) {
    case 'go':
      return [await buildGoUpstream(), []];
    case 'express':
      return [process.execPath, [join(HERE, 'express.ts')]];
    case 'python':
      return ['python3', ['-u', join(HERE, 'python_upstream.py')]];
  }
}

/** Starts one upstream on a free loopback port; it dies with the test process (setpriv --pdeathsig). */
export async function startRealUpstream(kind: UpstreamKind): Promise<RealUpstream> {
  const [cmd, args] = await command(kind);
  const [bin, argv] = existsSync('/usr/bin/setpriv')
    ? ['/usr/bin/setpriv', ['--pdeathsig', 'SIGKILL', '--', cmd, ...args]]
    : [cmd, args];
  const child = spawn(bin, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  const hits: Hit[] = [];
  let errors = '';
  child.stderr?.on('data', (c: Buffer) => {
    errors = (errors + c.toString('utf8')).slice(-4000);
  });
  const port = await new Promise<number>((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`${kind} upstream did not start: ${errors}`)), 60_000);
    child.stdout?.on('data', (c: Buffer) => {
      buf += c.toString('utf8');
      const lines = buf.split('\n');
      buf = lines.pop() ?? '';
      for (const line of lines) {
        const listen = /^LISTEN (\d+)$/.exec(line);
        if (listen) {
          clearTimeout(timer);
          resolve(Number(listen[1]));
        }
        const hit = /^HIT (\S+) (.*)$/.exec(line);
        if (hit) hits.push({ handler: hit[1] as string, target: hit[2] as string });
      }
    });
    child.on('exit', (code) => reject(new Error(`${kind} upstream exited (${code}): ${errors}`)));
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return {
    kind,
    port,
    url: `http://127.0.0.1:${port}`,
    hits,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
