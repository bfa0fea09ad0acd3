import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuditDecisionEvent } from '../../../src/audit/schema.ts';

// Small helpers for the audit unit tests: temp trails and decision events.

const made: string[] = [];

export function tempTrail(): string {
  const d = mkdtempSync(join(tmpdir(), 'kw-audit-unit-'));
  made.push(d);
  return d;
}

export function removeTrails(): void {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
}

export function files(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[])
    .map(String)
    .filter((f) => !f.endsWith('/') && /\.(parquet|tmp|journal)$/.test(f))
    .sort();
}

export const T0 = Date.parse('2026-03-01T10:00:00Z');

export function decision(i: number, overrides: Partial<AuditDecisionEvent> = {}): AuditDecisionEvent {
  return {
    timeMs: T0 + i,
    door: 'authz',
    keyId: `key${String(i % 7).padStart(9, '0')}`,
    environment: 'production',
    method: 'GET',
    path: `/v1/devices/${i}`,
    status: i % 5 === 0 ? 403 : 200,
    reason: i % 5 === 0 ? 'permission_denied' : 'ok',
    clientIp: '192.0.2.1',
    latencyMs: 0.25,
    requestId: `r-${i}`,
    ...overrides,
  };
}
