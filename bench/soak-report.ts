// The soak's result, and its section of docs/BENCHMARKS.md (written by bench/soak.ts; bench/run.ts
// re-appends it from docs/soak.json when it rewrites the file).

export interface SoakReport {
  /** Which door was soaked (absent in reports from before the proxy soak: /authz). */
  door?: 'authz' | 'proxy';
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

const WHAT = {
  authz: '/authz requests (forward auth)',
  proxy:
    "requests through the reverse proxy (the sidecar's mode) to a bare node:http app, upstream connections pooled",
};

/** The section for one or more soak runs (docs/soak.json holds a list; an older file, one report). */
export function soakSection(reports: SoakReport | SoakReport[]): string {
  const list = Array.isArray(reports) ? reports : [reports];
  const ok = (b: boolean | undefined) => (b ? 'pass' : 'FAIL');
  const lines = [
    '## Soak',
    '',
    'Produced by `npm run soak` (bench/soak.ts; raw result in `docs/soak.json`): a validator child process',
    'over loopback at a steady target rate on keep-alive connections, 1 in 10 requests refused; RSS and',
    'open descriptors sampled from /proc once a second.',
  ];
  for (const r of list) {
    lines.push(
      '',
      `### ${r.requests.toLocaleString('en')} ${WHAT[r.door ?? 'authz']}`,
      '',
      `Target ${r.targetRate}/s (achieved ${r.achievedRate}/s), ${r.seconds} s, ${r.concurrency} keep-alive connections, ${r.keys} keys.`,
      '',
      '| measure | result | bound | verdict |',
      '| --- | --- | --- | --- |',
      `| max RSS | ${mib(r.rss.maxBytes)} | <= ${r.bounds.maxRssMb} MiB | ${ok(r.checks.maxRss)} |`,
      `| RSS growth after warm-up | ${mib(r.rss.growthBytes)} (${mib(r.rss.afterWarmupBytes)} → ${mib(r.rss.endBytes)}) | <= ${r.bounds.maxGrowthMb} MiB | ${ok(r.checks.rssGrowth)} |`,
      `| open descriptors start / end (max during) | ${r.fds.start} / ${r.fds.end} (${r.fds.max}) | ${r.bounds.fds} | ${ok(r.checks.fds)} |`,
      `| answers | ${r.unexpectedStatus} unexpected, ${r.socketErrors} socket errors | ${r.bounds.answers} | ${ok(r.checks.answers)} |`,
      '',
      `Overall: **${r.pass ? 'pass' : 'FAIL'}**, ${r.machine}, ${r.date.slice(0, 10)}.`,
    );
  }
  lines.push('');
  return lines.join('\n');
}
