// Runs bench/*.bench.ts (all, or those named on the command line: `node bench/run.ts key-verify`),
// prints a table and writes bench/results/latest.json.
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Bench, BenchResult } from './lib.ts';

const dir = import.meta.dirname;
const SUFFIX = '.bench.ts';

const available = (await readdir(dir)).filter((f) => f.endsWith(SUFFIX)).sort();
const wanted = process.argv.slice(2).map((a) => a.replace(/^.*\//, '').replace(SUFFIX, ''));
const unknown = wanted.filter((w) => !available.includes(w + SUFFIX));
if (unknown.length > 0) {
  console.error(
    `unknown bench: ${unknown.join(', ')}; available: ${available.map((f) => f.replace(SUFFIX, '')).join(', ')}`,
  );
  process.exit(2);
}
const files = wanted.length > 0 ? wanted.map((w) => w + SUFFIX) : available;

const results: BenchResult[] = [];
for (const file of files) {
  const mod = (await import(pathToFileURL(join(dir, file)).href)) as { default: Bench };
  process.stderr.write(`running ${mod.default.name}...\n`);
  results.push(await mod.default.run());
}

const fmt = (n: number) =>
  n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : n.toPrecision(3);
const rows = [['bench', 'figure', 'value', 'baseline', 'ratio']];
for (const r of results) {
  for (const f of r.figures) {
    rows.push([
      r.name,
      f.name,
      `${fmt(f.value)} ${f.unit}`,
      `${fmt(f.baseline)} ${f.unit}`,
      f.ratio.toFixed(3),
    ]);
  }
}
const widths = rows[0]?.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length))) ?? [];
for (const [i, row] of rows.entries()) {
  console.log(row.map((cell, j) => cell.padEnd(widths[j] ?? 0)).join('  '));
  if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
}
for (const r of results) {
  for (const f of r.figures) console.log(`  ${r.name}/${f.name} baseline: ${f.baselineName}`);
}

const cpus = os.cpus();
const report = {
  date: new Date().toISOString(),
  machine: {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    node: process.version,
    platform: process.platform,
    arch: process.arch,
    memoryBytes: os.totalmem(),
    loadAverage: os.loadavg(),
  },
  results,
};
await mkdir(join(dir, 'results'), { recursive: true });
await writeFile(join(dir, 'results', 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
console.log(`wrote ${join('bench', 'results', 'latest.json')}`);
