import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { NODE_FLAGS } from '../src/runtime/node-flags.ts';

// Starts bench/validator-child.ts for the benches and the soak: one place for how a child is run.

const CHILD = fileURLToPath(new URL('./validator-child.ts', import.meta.url));

export interface ValidatorChild {
  child: ChildProcess;
  port: number;
  keys: string[];
}

/**
 * A child of validator-child.ts, once it listens (its first line). The validator runs with the image's
 * Node flags (what a pod runs); the baselines and the app run bare.
 */
export async function startChild(args: string[]): Promise<ValidatorChild> {
  const flags = args[0] === 'serve-validator' ? NODE_FLAGS : [];
  const child = spawn(process.execPath, [...flags, CHILD, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const first = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`${args[0]} child exited (${code}) before listening`)));
  });
  return { child, ...(JSON.parse(first) as { port: number; keys: string[] }) };
}
