import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { eventually } from '../support/processes/keywarden-process.ts';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('the local control plane', () => {
  it('leaves no process behind when the process that started it is SIGKILLed', async () => {
    const child = spawn(process.execPath, [MAIN, 'controlplane', 'up', '--no-controller-manager'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      out += c.toString();
    });
    const kubeconfig = await eventually(async () => /export KUBECONFIG=(\S+)/.exec(out)?.[1], 120_000, 100);
    const runDir = kubeconfig.replace(/\/kubeconfig$/, '');
    const record = JSON.parse(readFileSync(join(runDir, 'pids.json'), 'utf8')) as {
      children: { pid: number; name: string }[];
    };
    const pids = record.children.map((c) => c.pid);
    expect(record.children.map((c) => c.name).sort()).toEqual(['etcd', 'kube-apiserver']);
    expect(pids.every(alive)).toBe(true);

    child.kill('SIGKILL');
    await eventually(async () => (pids.some(alive) ? undefined : true), 10_000, 100);
    expect(pids.filter(alive)).toEqual([]);
    // The next start reaps the folder the crashed run left.
    expect(existsSync(runDir)).toBe(true);
  });

  it('stops cleanly on Ctrl-C and removes its folder', async () => {
    const child = spawn(process.execPath, [MAIN, 'controlplane', 'up', '--no-controller-manager'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      out += c.toString();
    });
    const kubeconfig = await eventually(async () => /export KUBECONFIG=(\S+)/.exec(out)?.[1], 120_000, 100);
    const runDir = kubeconfig.replace(/\/kubeconfig$/, '');
    const pids = (
      JSON.parse(readFileSync(join(runDir, 'pids.json'), 'utf8')) as { children: { pid: number }[] }
    ).children.map((c) => c.pid);
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(pids.filter(alive)).toEqual([]);
    expect(existsSync(runDir)).toBe(false);
  });
});
