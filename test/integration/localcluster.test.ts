import { type ChildProcess, spawn } from 'node:child_process';
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

/** `keywarden controlplane up` as a child, once it printed its KUBECONFIG: run folder and processes. */
async function controlPlaneUp(): Promise<{
  child: ChildProcess;
  runDir: string;
  children: { pid: number; name: string }[];
}> {
  const child = spawn(process.execPath, [MAIN, 'controlplane', 'up', '--no-controller-manager'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const collect = (c: Buffer) => {
    out += c.toString();
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const kubeconfig = await eventually(async () => /export KUBECONFIG=(\S+)/.exec(out)?.[1], 120_000, 100);
  const runDir = kubeconfig.replace(/\/kubeconfig$/, '');
  const record = JSON.parse(readFileSync(join(runDir, 'pids.json'), 'utf8')) as {
    children: { pid: number; name: string }[];
  };
  return { child, runDir, children: record.children };
}

describe('the local control plane', () => {
  it('leaves no process behind when the process that started it is SIGKILLed', async () => {
    const { child, runDir, children } = await controlPlaneUp();
    const pids = children.map((c) => c.pid);
    expect(children.map((c) => c.name).sort()).toEqual(['etcd', 'kube-apiserver']);
    expect(pids.every(alive)).toBe(true);

    child.kill('SIGKILL');
    await eventually(async () => (pids.some(alive) ? undefined : true), 10_000, 100);
    expect(pids.filter(alive)).toEqual([]);
    // The next start reaps the folder the crashed run left.
    expect(existsSync(runDir)).toBe(true);
  });

  it('stops cleanly on Ctrl-C and removes its folder', async () => {
    const { child, runDir, children } = await controlPlaneUp();
    const pids = children.map((c) => c.pid);
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(pids.filter(alive)).toEqual([]);
    expect(existsSync(runDir)).toBe(false);
  });
});
