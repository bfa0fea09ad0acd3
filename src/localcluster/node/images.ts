import { runBuildScript } from '../build-script.ts';

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
  const out = await runBuildScript('image/build.sh', [], "building the node's images");
  return out.split('\n').map((line) => {
    const [role = '', archive = '', ref = ''] = line.split(' ');
    return { role, archive, ref };
  });
}
