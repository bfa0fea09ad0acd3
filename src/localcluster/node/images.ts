import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BUILD_SCRIPT = fileURLToPath(new URL('../../../tools/image/build.sh', import.meta.url));

/** An image for the node: its docker-archive tarball and the name pods use. */
export interface NodeImage {
  role: string;
  archive: string;
  ref: string;
}

/**
 * Builds (or takes from ~/.cache/keywarden/images) the pod sandbox image, the Dockerfile's base image,
 * an nginx image and keywarden's own image; progress goes to stderr.
 */
export async function ensureNodeImages(): Promise<NodeImage[]> {
  const stdout: Buffer[] = [];
  const child = spawn('bash', [BUILD_SCRIPT], { stdio: ['ignore', 'pipe', 'inherit'] });
  child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  if (code !== 0) throw new Error(`building the node's images failed (exit ${code}); see the messages above`);
  return Buffer.concat(stdout)
    .toString('utf8')
    .trim()
    .split('\n')
    .map((line) => {
      const [role = '', archive = '', ref = ''] = line.split(' ');
      return { role, archive, ref };
    });
}
