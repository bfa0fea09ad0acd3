import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const TOOLS = fileURLToPath(new URL('../../tools/', import.meta.url));

/**
 * Runs one of the repository's cached build scripts (tools/...): its progress goes to stderr, its
 * stdout (what it built) is returned. `what` names it in the error.
 */
export async function runBuildScript(script: string, args: string[], what: string): Promise<string> {
  const stdout: Buffer[] = [];
  const child = spawn('bash', [`${TOOLS}${script}`, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  if (code !== 0) throw new Error(`${what} failed (exit ${code}); see the messages above`);
  return Buffer.concat(stdout).toString('utf8').trim();
}

/** helm (or promtool), built once from its Go module by tools/build-go-tool.sh; returns its path. */
export async function ensureGoTool(name: 'helm' | 'promtool'): Promise<string> {
  return runBuildScript('build-go-tool.sh', [name], `building ${name}`);
}
