// Runs bench/*.bench.ts (all, or those named on the command line: `node bench/run.ts key-verify`),
// prints a table and writes bench/results/latest.json. `node bench/run.ts --render` runs nothing and
// only rewrites docs/BENCHMARKS.md from docs/benchmarks.json (after bench/analysis.md was edited).
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describeGoal, goalFor, meetsGoal } from './goals.ts';
import type { Bench, BenchFigure, BenchResult } from './lib.ts';

const dir = import.meta.dirname;
const SUFFIX = '.bench.ts';

const available = (await readdir(dir)).filter((f) => f.endsWith(SUFFIX)).sort();
const renderOnly = process.argv.includes('--render');
const wanted = process.argv
  .slice(2)
  .filter((a) => a !== '--render')
  .map((a) => a.replace(/^.*\//, '').replace(SUFFIX, ''));
const unknown = wanted.filter((w) => !available.includes(w + SUFFIX));
if (unknown.length > 0) {
  console.error(
    `unknown bench: ${unknown.join(', ')}; available: ${available.map((f) => f.replace(SUFFIX, '')).join(', ')}`,
  );
  process.exit(2);
}
const files = renderOnly ? [] : wanted.length > 0 ? wanted.map((w) => w + SUFFIX) : available;

const results: BenchResult[] = [];
for (const file of files) {
  const mod = (await import(pathToFileURL(join(dir, file)).href)) as { default: Bench };
  process.stderr.write(`running ${mod.default.name}...\n`);
  results.push(await mod.default.run());
}

const fmt = (n: number) =>
  n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : n.toPrecision(3);
const goalCell = (bench: string, f: BenchFigure) => {
  const g = goalFor(bench, f);
  return g ? `${describeGoal(g, f.unit)}: ${meetsGoal(g, f) ? '**met**' : '**not met**'}` : '';
};
const rows = [['bench', 'figure', 'value', 'baseline', 'ratio', 'goal']];
for (const r of results) {
  for (const f of r.figures) {
    rows.push([
      r.name,
      f.name,
      `${fmt(f.value)} ${f.unit}`,
      `${fmt(f.baseline)} ${f.unit}`,
      f.ratio.toFixed(3),
      goalCell(r.name, f).replaceAll('**', ''),
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
if (!renderOnly) {
  await mkdir(join(dir, 'results'), { recursive: true });
  await writeFile(join(dir, 'results', 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
  console.log(`wrote ${join('bench', 'results', 'latest.json')}`);
}

// docs/BENCHMARKS.md keeps the newest result of every bench: a partial run replaces only its own rows.
const docPath = join(dir, '..', 'docs', 'BENCHMARKS.md');
const storePath = join(dir, '..', 'docs', 'benchmarks.json');
type Stored = { date: string; machine: typeof report.machine; result: BenchResult };
let stored: Record<string, Stored> = {};
try {
  stored = JSON.parse(await readFile(storePath, 'utf8')) as Record<string, Stored>;
} catch {
  // first run
}
for (const r of results) stored[r.name] = { date: report.date, machine: report.machine, result: r };
await writeFile(storePath, `${JSON.stringify(stored, null, 2)}\n`);
const lines = [
  '# Benchmarks',
  '',
  'Produced by `npm run bench` (`node bench/run.ts [name...]`); do not edit by hand. Every figure is measured',
  'against a baseline in the same run on the same machine, so read the ratio rather than the raw value.',
  'The raw results are in `docs/benchmarks.json`.',
  '',
  'Where issue 14 set a goal for a figure, the goal column gives it and whether this run met it',
  '(bench/goals.ts); what is left for a missed goal is in "Where the time goes" below.',
  '',
  '| bench | figure | value | baseline | ratio | goal | baseline is | machine | date |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
];
for (const name of Object.keys(stored).sort()) {
  const { date, machine, result } = stored[name] as Stored;
  for (const f of result.figures) {
    lines.push(
      `| ${name} | ${f.name} | ${fmt(f.value)} ${f.unit} | ${fmt(f.baseline)} ${f.unit} | ${f.ratio.toFixed(3)} | ${goalCell(name, f)} | ${f.baselineName} | ${machine.cores}× ${machine.cpu}, Node ${machine.node} | ${date.slice(0, 10)} |`,
    );
  }
}
lines.push('', 'Parameters per bench:', '');
for (const name of Object.keys(stored).sort()) {
  const { result } = stored[name] as Stored;
  lines.push(
    `- **${name}**: ${result.description}${
      result.params
        ? ` (${Object.entries(result.params)
            .map(([k, v]) => `${k}=${v}`)
            .join(', ')})`
        : ''
    }`,
  );
}
// The analysis of missed goals is written by hand (profiles, not numbers) and kept beside the benches.
try {
  lines.push('', (await readFile(join(dir, 'analysis.md'), 'utf8')).trimEnd());
} catch {
  // no analysis written yet
}
// The soak (bench/soak.ts, `npm run soak`) is not a ratio bench: its section comes from docs/soak.json.
try {
  const { soakSection } = await import('./soak-report.ts');
  lines.push(
    '',
    soakSection(JSON.parse(await readFile(join(dir, '..', 'docs', 'soak.json'), 'utf8'))).trimEnd(),
  );
} catch {
  // no soak run yet
}
await writeFile(docPath, `${lines.join('\n')}\n`);
console.log(`refreshed ${join('docs', 'BENCHMARKS.md')}`);
