// A tiny benchmark harness. No timed assertions: every figure is reported as a ratio against a
// baseline measured in the same run on the same machine, so the numbers can be compared across runs.
import { createHash, hash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { type Agent, request } from 'node:http';

export interface BenchFigure {
  name: string;
  value: number;
  unit: string;
  /** The baseline's value, in the same unit, measured in the same run. */
  baseline: number;
  baselineName: string;
  /** value / baseline. */
  ratio: number;
}

export interface BenchResult {
  name: string;
  description: string;
  figures: BenchFigure[];
  /** Parameters worth knowing when reading the figures (sizes, rounds). */
  params?: Record<string, number | string>;
}

export interface Bench {
  name: string;
  run(): Promise<BenchResult>;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median of nothing');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

/** Results are folded into this so the work cannot be optimised away. */
export let sink = 0;

/** Operations per second of `batch` (which performs `opsPerBatch` operations), run for at least `ms`. */
export function opsPerSecond(batch: () => number, opsPerBatch: number, ms: number): number {
  let ops = 0;
  const start = performance.now();
  let elapsed = 0;
  do {
    sink = (sink + batch()) | 0;
    ops += opsPerBatch;
    elapsed = performance.now() - start;
  } while (elapsed < ms);
  return (ops * 1000) / elapsed;
}

export interface ThroughputOptions {
  opsPerBatch: number;
  warmupMs?: number;
  rounds?: number;
  roundMs?: number;
}

/**
 * Medians of subject and baseline throughput over several rounds, after a warm-up. The two alternate
 * within each round (and swap order every round), so drift in machine load hits both alike.
 */
export function compareThroughput(
  subject: () => number,
  baseline: () => number,
  { opsPerBatch, warmupMs = 500, rounds = 7, roundMs = 300 }: ThroughputOptions,
): { value: number; baseline: number } {
  opsPerSecond(subject, opsPerBatch, warmupMs);
  opsPerSecond(baseline, opsPerBatch, warmupMs);
  const s: number[] = [];
  const b: number[] = [];
  for (let round = 0; round < rounds; round++) {
    if (round % 2 === 0) {
      s.push(opsPerSecond(subject, opsPerBatch, roundMs));
      b.push(opsPerSecond(baseline, opsPerBatch, roundMs));
    } else {
      b.push(opsPerSecond(baseline, opsPerBatch, roundMs));
      s.push(opsPerSecond(subject, opsPerBatch, roundMs));
    }
  }
  return { value: median(s), baseline: median(b) };
}

/**
 * The baseline of the in-process key figures: a bare SHA-256 of each key, in its fastest form in Node
 * (the one-shot crypto.hash with the digest as a string; createHash and a Buffer digest cost 3-5× this
 * on a key). The hot path hashes the same way.
 */
export function bareSha256(keys: readonly string[]): number {
  let x = 0;
  for (const key of keys) x ^= hash('sha256', key, 'binary').charCodeAt(0);
  return x;
}

/**
 * The baseline issue 14 set its goal against: a SHA-256 of each key through a Hash object with a
 * Buffer digest, the way our hot path hashed when the goal was written. Kept beside the faster one so
 * the goal keeps its meaning and the tighter figure is shown too.
 */
export function hashObjectSha256(keys: readonly string[]): number {
  let x = 0;
  for (const key of keys) x ^= createHash('sha256').update(key).digest()[0] ?? 0;
  return x;
}

export const HASH_OBJECT_SHA256 = "bare createHash('sha256').update(s).digest() of the same keys";

export const BARE_SHA256 =
  "bare crypto.hash('sha256', s, 'latin1') of the same keys (one-shot, digest as a string)";

export function figure(
  name: string,
  unit: string,
  value: number,
  baseline: number,
  baselineName: string,
): BenchFigure {
  return { name, unit, value, baseline, baselineName, ratio: value / baseline };
}

/**
 * One GET /authz (as a forward-auth proxy asks it, for /v1/devices/`i`) with `key` as a bearer token, to
 * a validator on 127.0.0.1:`port`. Resolves with the status once the body is read; rejects on a socket error.
 */
export function authzRequest(agent: Agent, port: number, key: string, i: number): Promise<number> {
  return get(agent, port, '/authz/traefik', {
    authorization: `Bearer ${key}`,
    'x-forwarded-method': 'GET',
    'x-forwarded-uri': `/v1/devices/${i}`,
  });
}

/** The same request as the app's own, through the validator's reverse proxy on 127.0.0.1:`port`. */
export function proxiedRequest(agent: Agent, port: number, key: string, i: number): Promise<number> {
  return get(agent, port, `/v1/devices/${i}`, { authorization: `Bearer ${key}` });
}

function get(agent: Agent, port: number, path: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * CPU time a process has used so far (user + system, all its threads), in ms, from /proc (10 ms
 * ticks). Per request over a load round it is robust to how busy the rest of the machine is, which
 * requests per second are not.
 */
export function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which may hold spaces: utime and stime are the 12th and 13th.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}
