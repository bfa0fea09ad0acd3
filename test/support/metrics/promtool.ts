import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

// `promtool check metrics` on a /metrics page: what Prometheus' own linter says of it. promtool is
// built by scripts/test.sh (tools/build-go-tool.sh promtool) into the keywarden cache.

const cacheRoot =
  process.env.KEYWARDEN_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'keywarden');

export const PROMTOOL =
  [process.env.PROMTOOL, join(cacheRoot, 'tools', 'promtool')].find((p) => p && existsSync(p)) ?? '';

/** promtool's findings (empty when it accepts the page) and its exit code. */
export function promtoolCheckMetrics(page: string): Promise<{ code: number; text: string }> {
  if (!PROMTOOL)
    throw new Error(
      'promtool not found: build it with tools/build-go-tool.sh promtool (scripts/test.sh does)',
    );
  return new Promise((resolve) => {
    const child = execFile(PROMTOOL, ['check', 'metrics'], (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, text: stdout + stderr }),
    );
    child.stdin?.end(page);
  });
}
