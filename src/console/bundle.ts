import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

// The page's code, bundled at start from src/console/web with esbuild: Preact, Shoelace, TanStack Table
// and the very src/rules files the webhook runs (never a browser copy of them).

export interface PageBundle {
  js: string;
  css: string;
  /** Shoelace's icon and asset folder, served under /shoelace/assets. */
  shoelaceAssets: string;
}

export async function bundlePage(): Promise<PageBundle> {
  const entry = fileURLToPath(new URL('./web/app.tsx', import.meta.url));
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    outdir: '/console',
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    jsx: 'automatic',
    jsxImportSource: 'preact',
    legalComments: 'none',
    logLevel: 'silent',
  });
  const text = (ext: string) => result.outputFiles.find((f) => f.path.endsWith(ext))?.text ?? '';
  const shoelace = dirname(fileURLToPath(import.meta.resolve('@shoelace-style/shoelace')));
  return { js: text('.js'), css: text('.css'), shoelaceAssets: join(shoelace, 'assets') };
}
