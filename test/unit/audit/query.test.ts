import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createAuditSink } from '../../../src/audit/index.ts';
import { formatEvents, formatUsage, renderCsv, renderTable } from '../../../src/audit/output.ts';
import { queryEvents, queryUsage } from '../../../src/audit/query.ts';
import { parseTimeArg, registerAudit } from '../../../src/cli/commands/audit.ts';
import { UsageError } from '../../../src/rules/index.ts';
import { decision, removeTrails, T0, tempTrail } from '../../support/audit/events.ts';

// The query logic on a small trail (the 100,000-event fixture, checked against DuckDB, is in
// test/integration/audit-query.test.ts), output formats, and the command's flags.

let dir: string;
const H = 3_600_000;

beforeAll(async () => {
  dir = tempTrail();
  const sink = await createAuditSink({ directory: dir, source: 'v/1', fsync: false });
  for (let i = 0; i < 300; i++) {
    sink.record(
      decision(i, {
        timeMs: T0 + (i % 3) * H + i * 1000,
        apiKeyNamespace: i % 2 ? 'team-a' : 'team-b',
        apiKeyName: `key-${i % 7}`,
      }),
    );
  }
  sink.recordLifecycle({
    action: 'disabled',
    namespace: 'team-a',
    name: 'key-1',
    keyId: 'key000000001',
    timeMs: T0 + 42,
    actor: 'bob',
  });
  await sink.close();
});

afterAll(removeTrails);

describe('queries', () => {
  it('filter by key id, ApiKey, status, reason, type and action, and combine them', async () => {
    const byKey = await queryEvents({ directory: dir, keyId: 'key000000003' });
    expect(byKey.rows.length).toBe(43);
    expect(byKey.rows.every((r) => r.key_id === 'key000000003')).toBe(true);
    const apiKey = await queryEvents({ directory: dir, namespace: 'team-a', name: 'key-1' });
    expect(apiKey.rows.every((r) => r.api_key_namespace === 'team-a' && r.api_key_name === 'key-1')).toBe(
      true,
    );
    expect(apiKey.rows.some((r) => r.event_type === 'lifecycle')).toBe(true);
    const denied = await queryEvents({
      directory: dir,
      status: [403],
      reason: ['permission_denied'],
      eventType: 'decision',
    });
    expect(denied.rows.length).toBe(60);
    const life = await queryEvents({ directory: dir, eventType: 'lifecycle', action: ['disabled'] });
    expect(life.rows.map((r) => [r.action, r.actor])).toEqual([['disabled', 'bob']]);
  });

  it('time ranges skip partitions outside them', async () => {
    const r = await queryEvents({ directory: dir, sinceMs: T0 + H, untilMs: T0 + 2 * H });
    expect(r.stats.files).toBe(1);
    expect(r.rows.every((x) => x.time.getTime() >= T0 + H && x.time.getTime() < T0 + 2 * H)).toBe(true);
    expect(r.rows.length).toBe(100);
  });

  it('limits keep the newest (or oldest) and say the result was cut', async () => {
    const newest = await queryEvents({ directory: dir }, { limit: 5 });
    expect(newest.truncated).toBe(true);
    const all = await queryEvents({ directory: dir }, { limit: 0 });
    expect(newest.rows).toEqual(all.rows.slice(0, 5));
    const oldest = await queryEvents({ directory: dir }, { limit: 5, order: 'asc' });
    expect(oldest.rows).toEqual([...all.rows].reverse().slice(0, 5));
  });

  it('says a result was cut when the limit falls exactly where a scan could stop, and not when all fit', async () => {
    // The scan may stop as soon as enough rows matched; it must see one more to know there are more
    // (the console's "Older" button and `keywarden audit`'s "more rows" notice depend on it).
    const all = await queryEvents({ directory: dir }, { limit: 0 });
    for (const limit of [1, 100, all.rows.length - 1]) {
      const r = await queryEvents({ directory: dir }, { limit });
      expect([limit, r.rows.length, r.truncated]).toEqual([limit, limit, true]);
    }
    const exact = await queryEvents({ directory: dir }, { limit: all.rows.length });
    expect(exact.truncated).toBe(false);
    expect(exact.rows.length).toBe(all.rows.length);
  });

  it('usage per key, per day and per key and day counts decisions only', async () => {
    const byKey = await queryUsage({ directory: dir }, 'key');
    expect(byKey.rows.reduce((n, r) => n + r.requests, 0)).toBe(300);
    const k3 = byKey.rows.find((r) => r.key_id === 'key000000003');
    expect(k3).toMatchObject({ requests: 43, allowed: 43 - 9, denied: 9, rate_limited: 0, other: 0 });
    const byDay = await queryUsage({ directory: dir }, 'day');
    expect(byDay.rows).toMatchObject([{ day: '2026-03-01', requests: 300 }]);
    const keyDay = await queryUsage({ directory: dir, namespace: 'team-b' }, 'key-day');
    expect(keyDay.rows.every((r) => r.day === '2026-03-01' && r.key_id)).toBe(true);
    expect(keyDay.rows.reduce((n, r) => n + r.requests, 0)).toBe(150);
  });
});

describe('output', () => {
  it('tables escape control characters from requests', () => {
    const t = renderTable(['A', 'B'], [['x\u001b[31mred', null]]);
    expect(t).toContain('x\\x1b[31mred  -');
    expect(t).not.toContain('\u001b');
  });

  it('CSV quotes per RFC 4180 and defuses spreadsheet formulas', () => {
    expect(renderCsv(['a', 'b', 'c'], [['say "hi", ok', '=HYPERLINK("x")', 403]])).toBe(
      'a,b,c\r\n"say ""hi"", ok","\'=HYPERLINK(""x"")",403\r\n',
    );
  });

  it('events and usage as JSON, CSV and table', async () => {
    const r = await queryEvents({ directory: dir, keyId: 'key000000003' }, { limit: 2 });
    const json = JSON.parse(formatEvents(r.rows, 'json')) as Record<string, unknown>[];
    expect(json).toHaveLength(2);
    expect(json[0]).toMatchObject({ event_type: 'decision', key_id: 'key000000003', source: 'v/1' });
    expect(String(json[0]?.time)).toMatch(/^2026-03-01T\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(formatEvents(r.rows, 'csv').split('\r\n')[0]).toBe(
      'time,event_type,key_id,api_key_namespace,api_key_name,environment,door,method,path,status,reason,client_ip,latency_ms,request_id,action,actor,detail,source',
    );
    expect(formatEvents([], 'json')).toBe('[]\n');
    const u = await queryUsage({ directory: dir }, 'key-day');
    expect(formatUsage(u.rows, 'key-day', 'table').split('\n')[0]).toMatch(
      /^DAY\s+KEY ID\s+API KEY\s+REQUESTS\s+ALLOWED\s+DENIED\s+RATE LIMITED\s+OTHER\s+FAILED SECRET\s+FIRST\s+LAST$/,
    );
  });
});

describe('the command', () => {
  const now = Date.parse('2026-03-10T12:00:00Z');

  it('reads times as durations ago, dates (UTC) or RFC 3339', () => {
    expect(parseTimeArg('24h', now)).toBe(now - 24 * H);
    expect(parseTimeArg('7d', now)).toBe(now - 7 * 24 * H);
    expect(parseTimeArg('1h30m', now)).toBe(now - 1.5 * H); // any Go-style duration, by the one rule
    expect(parseTimeArg('500ms', now)).toBe(now - 500);
    expect(parseTimeArg('2026-03-01', now)).toBe(Date.parse('2026-03-01T00:00:00Z'));
    expect(parseTimeArg('2026-03-01T10:00:00+02:00', now)).toBe(Date.parse('2026-03-01T08:00:00Z'));
    expect(() => parseTimeArg('yesterday', now)).toThrow(/not a time/);
  });

  async function runCli(...args: string[]): Promise<string> {
    const program = new Command('keywarden').exitOverride();
    registerAudit(program);
    let out = '';
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      out += String(chunk);
      return true;
    });
    try {
      await program.parseAsync(['node', 'keywarden', 'audit', ...args]);
    } finally {
      spy.mockRestore();
    }
    return out;
  }

  it('answers with the default subcommand, and checks a trail', async () => {
    const out = await runCli('--dir', dir, '--apikey', 'team-a/key-1', '--type', 'lifecycle', '-o', 'json');
    expect(JSON.parse(out)).toMatchObject([{ action: 'disabled', actor: 'bob' }]);
    const check = await runCli('check', '--dir', dir);
    expect(check).toMatch(/^\d+ files, 301 events, 0 unreadable, 0 leftovers, 0 plaintext keys$/m);
  });

  it('says what is wrong with its flags', async () => {
    const saved = process.env.KEYWARDEN_AUDIT_DIR;
    delete process.env.KEYWARDEN_AUDIT_DIR;
    try {
      await expect(runCli('events')).rejects.toThrow(UsageError);
      await expect(runCli('--dir', dir, '--apikey', 'key-1')).rejects.toThrow(/needs a namespace/);
      await expect(runCli('--dir', dir, '--since', '1h', '--until', '2h')).rejects.toThrow(
        /--since must be before --until/,
      );
    } finally {
      if (saved !== undefined) process.env.KEYWARDEN_AUDIT_DIR = saved;
    }
  });
});
