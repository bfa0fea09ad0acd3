// The soak's result, and its section of docs/BENCHMARKS.md (written by bench/soak.ts; bench/run.ts
// re-appends it from docs/soak.json when it rewrites the file).

export interface SoakReport {
  date: string;
  machine: string;
  requests: number;
  targetRate: number;
  achievedRate: number;
  seconds: number;
  concurrency: number;
  keys: number;
  rss: {
    startBytes: number;
    afterWarmupBytes: number;
    endBytes: number;
    maxBytes: number;
    growthBytes: number;
  };
  fds: { start: number; end: number; max: number };
  unexpectedStatus: number;
  socketErrors: number;
  bounds: { maxRssMb: number; maxGrowthMb: number; fds: string; answers: string };
  checks: Record<string, boolean>;
  pass: boolean;
  samples: { t: number; sent: number; rssBytes: number; fds: number }[];
}

const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;

export function soakSection(r: SoakReport): string {
  const ok = (b: boolean | undefined) => (b ? 'pass' : 'FAIL');
  return [
    '## Soak',
    '',
    `Produced by \`npm run soak\` (bench/soak.ts; raw result in \`docs/soak.json\`): ${r.requests.toLocaleString('en')} /authz requests`,
    `through a validator child process over loopback at a steady ${r.targetRate}/s target (achieved ${r.achievedRate}/s,`,
    `${r.seconds} s, ${r.concurrency} keep-alive connections, ${r.keys} keys, 1 in 10 refused), RSS and open descriptors`,
    'sampled from /proc once a second.',
    '',
    '| measure | result | bound | verdict |',
    '| --- | --- | --- | --- |',
    `| max RSS | ${mib(r.rss.maxBytes)} | <= ${r.bounds.maxRssMb} MiB | ${ok(r.checks.maxRss)} |`,
    `| RSS growth after warm-up | ${mib(r.rss.growthBytes)} (${mib(r.rss.afterWarmupBytes)} → ${mib(r.rss.endBytes)}) | <= ${r.bounds.maxGrowthMb} MiB | ${ok(r.checks.rssGrowth)} |`,
    `| open descriptors start / end (max during) | ${r.fds.start} / ${r.fds.end} (${r.fds.max}) | ${r.bounds.fds} | ${ok(r.checks.fds)} |`,
    `| answers | ${r.unexpectedStatus} unexpected, ${r.socketErrors} socket errors | ${r.bounds.answers} | ${ok(r.checks.answers)} |`,
    '',
    `Overall: **${r.pass ? 'pass' : 'FAIL'}**, ${r.machine}, ${r.date.slice(0, 10)}.`,
    '',
  ].join('\n');
}
