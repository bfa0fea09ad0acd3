import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { expect } from 'vitest';
import { findPlaintextKeys } from '../../../src/audit/scan.ts';
import type { AuditDecisionEvent, LifecycleEvent } from '../../../src/audit/schema.ts';
import { generateKey, parseKey } from '../../../src/rules/index.ts';

// DuckDB as the independent reader of audit files, and a child writer process to kill.

export const REPO = join(import.meta.dirname, '..', '..', '..');

export class Duck {
  readonly #instance: DuckDBInstance;
  readonly #con: Awaited<ReturnType<DuckDBInstance['connect']>>;

  private constructor(instance: DuckDBInstance, con: Awaited<ReturnType<DuckDBInstance['connect']>>) {
    this.#instance = instance;
    this.#con = con;
  }

  static async open(): Promise<Duck> {
    const instance = await DuckDBInstance.create(':memory:', { threads: '1' });
    return new Duck(instance, await instance.connect());
  }

  /** Rows as JSON-safe objects (BIGINTs as strings, timestamps as text). */
  async all(sql: string): Promise<Record<string, unknown>[]> {
    return (await this.#con.runAndReadAll(sql)).getRowObjectsJson() as Record<string, unknown>[];
  }

  /** `read_parquet` over every complete file of a trail, with the Hive partition columns. */
  static files(dir: string): string {
    // hive_types: left to guess, DuckDB types hour=07 as VARCHAR (a leading zero is not an integer literal).
    return `read_parquet('${dir.replaceAll("'", "''")}/**/*.parquet', hive_partitioning = true, hive_types = {'date': DATE, 'hour': INTEGER}, union_by_name = true)`;
  }

  close(): void {
    this.#con.closeSync();
    this.#instance.closeSync();
  }
}

/** Every file name under dir (recursively). */
export function allFiles(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[]).map(String);
}

/** Asserts that no file under the trail holds a plaintext key (decoded columns and raw bytes). */
export async function expectNoPlaintextKeys(dir: string): Promise<void> {
  const scan = await findPlaintextKeys(dir);
  expect(scan.findings).toEqual([]);
}

export interface ChildWriter {
  child: ChildProcess;
  lines: string[];
  /** Resolves with the first line matching. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function startWriter(dir: string, mode: 'run' | 'pause' | 'recover', ...args: string[]): ChildWriter {
  const child = spawn(
    process.execPath,
    [join(REPO, 'test/support/audit/writer-child.ts'), dir, mode, ...args],
    {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const lines: string[] = [];
  const waiters: { re: RegExp; resolve: (m: RegExpExecArray) => void }[] = [];
  let partial = '';
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  child.stdout?.on('data', (d: Buffer) => {
    partial += d.toString();
    const parts = partial.split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) {
      lines.push(line);
      for (let i = waiters.length - 1; i >= 0; i--) {
        const w = waiters[i];
        const m = w?.re.exec(line);
        if (w && m) {
          waiters.splice(i, 1);
          w.resolve(m);
        }
      }
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    lines,
    exited,
    waitFor(re, timeoutMs = 30_000) {
      const seen = lines.map((l) => re.exec(l)).find((m) => m);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const t = setTimeout(
          () => reject(new Error(`no line matching ${re} within ${timeoutMs} ms; stderr: ${stderr}`)),
          timeoutMs,
        );
        waiters.push({
          re,
          resolve: (m) => {
            clearTimeout(t);
            resolve(m);
          },
        });
        void exited.then(() => {
          setTimeout(
            () => reject(new Error(`writer exited before a line matching ${re}; stderr: ${stderr}`)),
            50,
          );
        });
      });
    },
  };
}

/** The last `written <n>` a writer reported. */
export function lastWritten(lines: string[]): number {
  for (let i = lines.length - 1; i >= 0; i--) {
    const m = /^written (\d+)$/.exec(lines[i] ?? '');
    if (m) return Number(m[1]);
  }
  return 0;
}

export interface FixtureKey {
  keyId: string;
  namespace: string;
  name: string;
  /** The key string itself: fixtures leak some into paths to prove they never reach a file. */
  key: string;
}

export interface Fixture {
  keys: FixtureKey[];
  decisions: AuditDecisionEvent[];
  lifecycle: LifecycleEvent[];
  startMs: number;
  endMs: number;
}

/** A deterministic (seeded) trail: decisions spread over `days` days from 2026-03-01, plus lifecycle events. */
export function makeFixture(count: number, days = 3, seed = 42): Fixture {
  let s = seed >>> 0;
  const rand = () => {
    s = (Math.imul(s, 1_664_525) + 1_013_904_223) >>> 0;
    return s / 2 ** 32;
  };
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const namespaces = ['payments', 'billing', 'support', 'devices', 'search'];
  const keys: FixtureKey[] = [];
  for (let i = 0; i < 40; i++) {
    const namespace = namespaces[i % namespaces.length] as string;
    const key = generateKey({ type: i % 3 === 0 ? 'public' : 'private', environment: 'production' });
    const parsed = parseKey(key);
    if (!parsed.ok) throw new Error('fixture key does not parse');
    keys.push({ keyId: parsed.key.keyId, namespace, name: `${namespace}-key-${i}`, key });
  }
  const startMs = Date.parse('2026-03-01T00:00:00Z');
  const endMs = startMs + days * 86_400_000;
  const outcomes: [number, string][] = [
    [200, 'ok'],
    [200, 'ok'],
    [200, 'ok'],
    [200, 'ok'],
    [200, 'ok'],
    [200, 'ok'],
    [401, 'key_unknown'],
    [401, 'key_expired'],
    [403, 'permission_denied'],
    [403, 'source_not_allowed'],
    [429, 'rate_limited'],
  ];
  const decisions: AuditDecisionEvent[] = [];
  for (let i = 0; i < count; i++) {
    const timeMs = startMs + Math.floor(((i + rand()) * (endMs - startMs)) / count);
    // Hot keys: the first few get most of the traffic.
    const k = keys[Math.floor(rand() ** 2 * keys.length)] as FixtureKey;
    const noKey = rand() < 0.03;
    const [status, reason] = noKey ? [401, 'key_malformed'] : pick(outcomes);
    const leak = i % 5_000 === 17; // a key pasted into the URL
    decisions.push({
      timeMs,
      door: pick(['authz', 'proxy', 'verify'] as const),
      keyId: noKey ? undefined : k.keyId,
      environment: noKey ? undefined : 'production',
      method: pick(['GET', 'GET', 'POST', 'DELETE']),
      path: leak ? `/v1/devices/${k.key}` : `/v1/devices/${Math.floor(rand() * 500)}`,
      status,
      reason,
      clientIp: `203.0.113.${Math.floor(rand() * 250)}`,
      latencyMs: Math.round(rand() * 2000) / 1000,
      apiKeyNamespace: noKey || reason === 'key_unknown' ? undefined : k.namespace,
      apiKeyName: noKey || reason === 'key_unknown' ? undefined : k.name,
      requestId: `req-${i}`,
    });
  }
  const lifecycle: LifecycleEvent[] = [];
  for (const [i, k] of keys.entries()) {
    lifecycle.push({
      action: 'created',
      namespace: k.namespace,
      name: k.name,
      keyId: k.keyId,
      environment: 'production',
      timeMs: startMs + i * 1000,
      actor: 'kubectl-client-side-apply',
    });
    if (i % 4 === 0) {
      lifecycle.push({
        action: 'regenerated',
        namespace: k.namespace,
        name: k.name,
        keyId: k.keyId,
        timeMs: startMs + 86_400_000 + i * 60_000,
        actor: 'argocd-controller',
        detail: 'generation 1',
      });
    }
    if (i % 10 === 0) {
      lifecycle.push({
        action: 'disabled',
        namespace: k.namespace,
        name: k.name,
        keyId: k.keyId,
        timeMs: startMs + 2 * 86_400_000 + i * 60_000,
        reason: 'Disabled',
      });
    }
  }
  return { keys, decisions, lifecycle, startMs, endMs };
}
