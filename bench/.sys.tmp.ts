import { spawn, execFileSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { Pool } from 'undici';
import { NODE_FLAGS } from '../src/runtime/node-flags.ts';
const mode = process.argv[2] ?? 'serve-validator';
const child = spawn(process.execPath, [...(mode === 'serve-validator' ? NODE_FLAGS : []), 'bench/validator-child.ts', mode, '10000'], { stdio: ['ignore', 'pipe', 'inherit'] });
const first = await new Promise<string>((r) => createInterface({ input: child.stdout! }).once('line', r));
const { port, keys } = JSON.parse(first) as { port: number; keys: string[] };
const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 16 });
const run = async (ms: number) => { const end = performance.now() + ms; let n = 0;
await Promise.all(Array.from({ length: 16 }, async (_, w) => {
  let i = w;
  while (performance.now() < end) {
    const res = await pool.request({ path: '/authz/traefik', method: 'GET', headers: { 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/v1/devices/42', ...(keys.length ? { authorization: `Bearer ${keys[i++ % keys.length]}` } : {}) } });
    const b = await res.body.text(); n++;
    if (n === 1) console.log(JSON.stringify(res.headers).length, 'header bytes', b.length, 'body');
  }
})); return n; };
await run(2000);
const strace = spawn('strace', ['-c', '-f', '-p', String(child.pid)], { stdio: ['ignore', 'inherit', 'inherit'] });
await new Promise((r) => setTimeout(r, 500));
const n = await run(3000);
strace.kill('SIGINT');
await new Promise((r) => strace.once('exit', r));
console.log(mode, 'requests', n);
await pool.close(); child.kill();
