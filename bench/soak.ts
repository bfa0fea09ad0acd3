import { readdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { Agent } from 'node:http';
import os from 'node:os';
import { join } from 'node:path';
import { UPSTREAM_IDLE_MS } from '../src/validator/http/forward.ts';
import { authzRequest, proxiedRequest } from './lib.ts';
import { type SoakReport, soakSection } from './soak-report.ts';
import { startChild } from './validator-children.ts';

export type SoakDoor = 'authz' | 'proxy';

export interface SoakOptions {
  /** Forward auth (/authz), or the reverse proxy in front of a bare app. */
  door: SoakDoor;
  requests: number;
  ratePerSecond: number;
  concurrency: number;
  maxRssMb: number;
  maxGrowthMb: number;
  /** Requests before the baseline RSS is taken (caches, JIT, sockets settle). */
  warmup: number;
  keys: number;
  log?: (line: string) => void;
}

export function optionsFromEnv(env = process.env): SoakOptions {
  const n = (name: string, dflt: number) => {
    const v = Number(env[name]);
    return Number.isFinite(v) && v > 0 ? v : dflt;
  };
  const requests = n('SOAK_REQUESTS', 1_000_000);
  return {
    door: 'authz',
    requests,
    ratePerSecond: n('SOAK_RATE', 4_000),
    concurrency: n('SOAK_CONCURRENCY', 16),
    maxRssMb: n('SOAK_MAX_RSS_MB', 320),
    maxGrowthMb: n('SOAK_MAX_GROWTH_MB', 64),
    warmup: Math.min(n('SOAK_WARMUP', 20_000), Math.floor(requests / 5)),
    keys: n('SOAK_KEYS', 1_000),
  };
}

function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}
const fdCount = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;

export async function runSoak(opts: SoakOptions): Promise<SoakReport> {
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const app = opts.door === 'proxy' ? await startChild(['serve-node']) : undefined;
  const validator = await startChild([
    'serve-validator',
    String(opts.keys),
    ...(app ? [`http://127.0.0.1:${app.port}`] : []),
  ]).catch((err: unknown) => {
    app?.child.kill('SIGKILL');
    throw err;
  });
  const { child, port, keys } = validator;
  const pid = child.pid ?? 0;
  const send = opts.door === 'proxy' ? proxiedRequest : authzRequest;
  try {
    const refused = keys.slice(0, 10).map((k) => `${k.slice(0, -8)}AAAAAAAA`);
    const fdStart = fdCount(pid);
    const rssStart = rssBytes(pid);
    const agent = new Agent({ keepAlive: true, maxSockets: opts.concurrency });
    const samples: { t: number; sent: number; rssBytes: number; fds: number }[] = [];
    let sent = 0;
    let done = 0;
    let inFlight = 0;
    let unexpected = 0;
    let errors = 0;
    let rssAfterWarmup = 0;
    const t0 = performance.now();
    const sample = () => {
      try {
        samples.push({
          t: (performance.now() - t0) / 1000,
          sent,
          rssBytes: rssBytes(pid),
          fds: fdCount(pid),
        });
      } catch {
        // the child is gone: reported below
      }
    };
    sample();
    const sampler = setInterval(() => {
      sample();
      const s = samples.at(-1);
      if (s && samples.length % 10 === 0)
        log(
          `soak: ${done}/${opts.requests} done, rss ${(s.rssBytes / 2 ** 20).toFixed(1)} MiB, fds ${s.fds}`,
        );
    }, 1_000);

    const one = async (i: number) => {
      const bad = i % 10 === 9;
      const key = bad ? (refused[i % refused.length] ?? '') : (keys[i % keys.length] ?? '');
      inFlight++;
      const status = await send(agent, port, key, i).catch(() => undefined);
      inFlight--;
      done++;
      if (status === undefined) errors++;
      else {
        if (status !== (bad ? 401 : 200)) unexpected++;
        if (done === opts.warmup) rssAfterWarmup = rssBytes(pid);
      }
    };

    // Steady rate: every 10 ms, send what the schedule says is due (never more than the concurrency
    // allows in flight; a validator too slow for the rate shows as a lower achieved rate).
    await new Promise<void>((resolve) => {
      const tick = setInterval(() => {
        const due = Math.min(
          opts.requests,
          Math.floor(((performance.now() - t0) / 1000) * opts.ratePerSecond),
        );
        while (sent < due && inFlight < opts.concurrency * 4) void one(sent++);
        if (done >= opts.requests) {
          clearInterval(tick);
          resolve();
        }
      }, 10);
    });
    const seconds = (performance.now() - t0) / 1000;
    clearInterval(sampler);
    agent.destroy();
    // Let the validator see the client sockets close (and, proxying, drop its idle upstream ones).
    await new Promise((r) => setTimeout(r, opts.door === 'proxy' ? UPSTREAM_IDLE_MS + 1_000 : 500));
    sample();
    const fdEnd = fdCount(pid);
    const rssEnd = rssBytes(pid);
    const maxRss = Math.max(...samples.map((s) => s.rssBytes), rssEnd);
    const maxFds = Math.max(...samples.map((s) => s.fds));
    const growth = rssEnd - (rssAfterWarmup || rssStart);
    const checks = {
      maxRss: maxRss <= opts.maxRssMb * 2 ** 20,
      rssGrowth: growth <= opts.maxGrowthMb * 2 ** 20,
      fds: fdEnd <= fdStart + 2,
      answers: unexpected === 0 && errors === 0,
      alive: child.exitCode === null,
    };
    const cpus = os.cpus();
    return {
      door: opts.door,
      date: new Date().toISOString(),
      machine: `${cpus.length}× ${cpus[0]?.model ?? 'unknown'}, Node ${process.version}`,
      requests: opts.requests,
      targetRate: opts.ratePerSecond,
      achievedRate: Math.round(opts.requests / seconds),
      seconds: Math.round(seconds * 10) / 10,
      concurrency: opts.concurrency,
      keys: opts.keys,
      rss: {
        startBytes: rssStart,
        afterWarmupBytes: rssAfterWarmup,
        endBytes: rssEnd,
        maxBytes: maxRss,
        growthBytes: growth,
      },
      fds: { start: fdStart, end: fdEnd, max: maxFds },
      unexpectedStatus: unexpected,
      socketErrors: errors,
      bounds: {
        maxRssMb: opts.maxRssMb,
        maxGrowthMb: opts.maxGrowthMb,
        fds: 'end <= start + 2',
        answers: '200 for a valid key, 401 for a refused one; no socket error',
      },
      checks,
      pass: Object.values(checks).every(Boolean),
      samples: samples.filter((_, i) => i % Math.max(1, Math.ceil(samples.length / 60)) === 0),
    };
  } finally {
    child.kill('SIGKILL');
    app?.child.kill('SIGKILL');
  }
}

if (import.meta.main) {
  const base = optionsFromEnv();
  const doors: SoakDoor[] =
    process.env.SOAK_DOORS === 'authz' || process.env.SOAK_DOORS === 'proxy'
      ? [process.env.SOAK_DOORS]
      : ['authz', 'proxy'];
  const reports: SoakReport[] = [];
  for (const door of doors) {
    const opts = { ...base, door };
    process.stderr.write(
      `soak (${door}): ${opts.requests} requests at ${opts.ratePerSecond}/s, concurrency ${opts.concurrency}, bounds: RSS <= ${opts.maxRssMb} MiB, growth <= ${opts.maxGrowthMb} MiB, fds end <= start + 2\n`,
    );
    const report = await runSoak(opts);
    const { samples: _samples, ...summary } = report;
    console.log(JSON.stringify(summary, null, 2));
    reports.push(report);
  }
  const root = join(import.meta.dirname, '..');
  await writeFile(join(root, 'docs', 'soak.json'), `${JSON.stringify(reports, null, 2)}\n`);
  const docPath = join(root, 'docs', 'BENCHMARKS.md');
  const doc = readFileSync(docPath, 'utf8');
  const start = doc.indexOf('\n## Soak');
  await writeFile(
    docPath,
    `${start < 0 ? doc.trimEnd() : doc.slice(0, start).trimEnd()}\n\n${soakSection(reports)}`,
  );
  const pass = reports.every((r) => r.pass);
  console.log(
    `soak ${pass ? 'PASSED' : 'FAILED'}; wrote docs/soak.json and the Soak section of docs/BENCHMARKS.md`,
  );
  process.exit(pass ? 0 : 1);
}
