import { describe, expect, it } from 'vitest';
import { KeyStore } from '../../../src/validator/key-store.ts';
import { ValidatorMetrics } from '../../../src/validator/metrics.ts';
import { decisionEvent as event, makeKey } from '../../support/validator/keys.ts';

describe('validator metrics', () => {
  it('keeps per-key series opt-in and bounded', async () => {
    const store = new KeyStore();
    const off = new ValidatorMetrics(store, { perKey: { enabled: false, maxKeys: 2 } });
    off.decision(event('proxy', 'ok', 'production', 'AAAAAAAAAAAA'));
    expect(await off.registry.metrics()).not.toContain('key_id');

    const on = new ValidatorMetrics(store, { perKey: { enabled: true, maxKeys: 2 } });
    for (const id of ['AAAAAAAAAAAA', 'BBBBBBBBBBBB', 'CCCCCCCCCCCC', 'DDDDDDDDDDDD', 'AAAAAAAAAAAA']) {
      on.decision(event('proxy', 'ok', 'production', id));
    }
    on.decision(event('proxy', 'key_unknown', 'production'));
    // A key id that failed the secret check is a client's string: never a label.
    on.decision({ ...event('proxy', 'key_unknown', 'production'), keyId: 'EEEEEEEEEEEE' });
    const text = await on.registry.metrics();
    expect(text).toContain('keywarden_validator_key_decisions_total{key_id="AAAAAAAAAAAA",result="allow"} 2');
    expect(text).toContain('keywarden_validator_key_decisions_total{key_id="BBBBBBBBBBBB",result="allow"} 1');
    expect(text).toContain('keywarden_validator_key_decisions_total{key_id="other",result="allow"} 2');
    expect(text).not.toContain('CCCCCCCCCCCC');
    expect(text).not.toContain('EEEEEEEEEEEE');
  });

  it('decision counts are exact across scrapes: counted between them, never twice', async () => {
    const m = new ValidatorMetrics(new KeyStore(), { perKey: { enabled: false, maxKeys: 0 } });
    const series = (text: string, labels: string) =>
      Number(new RegExp(`^keywarden_validator_${labels} (\\d+)$`, 'm').exec(text)?.[1] ?? 'NaN');
    const allow = 'decisions_total{result="allow",reason="ok",environment="production",door="authz"}';
    const limited = 'decisions_total{result="deny",reason="rate_limited",environment="staging",door="proxy"}';
    const perEnv = 'rate_limited_requests_total{environment="staging"}';
    for (let i = 0; i < 3; i++) m.decision(event('authz', 'ok', 'production'));
    m.decision(event('proxy', 'rate_limited', 'staging'));
    let text = await m.registry.metrics();
    expect([series(text, allow), series(text, limited), series(text, perEnv)]).toEqual([3, 1, 1]);
    text = await m.registry.metrics();
    expect([series(text, allow), series(text, limited), series(text, perEnv)]).toEqual([3, 1, 1]);
    for (let i = 0; i < 2; i++) m.decision(event('proxy', 'rate_limited', 'staging'));
    m.decision(event('authz', 'ok', 'production'));
    text = await m.registry.metrics();
    expect([series(text, allow), series(text, limited), series(text, perEnv)]).toEqual([4, 3, 3]);
    expect(text).toMatch(/keywarden_validator_decision_duration_seconds_count\{door="authz"\} 4/);
  });

  it('counts keys by state and environment at scrape time', async () => {
    const store = new KeyStore();
    const now = Date.now();
    for (const k of [
      makeKey(),
      makeKey({ disabled: true }),
      makeKey({ expiresAt: new Date(now - 1000).toISOString() }),
      makeKey({ environment: 'staging' }),
    ]) {
      store.upsert(k.secret);
    }
    const m = new ValidatorMetrics(store, { perKey: { enabled: false, maxKeys: 1 }, now: () => now });
    const text = await m.registry.metrics();
    expect(text).toContain('keywarden_validator_keys{state="active",environment="production"} 1');
    expect(text).toContain('keywarden_validator_keys{state="disabled",environment="production"} 1');
    expect(text).toContain('keywarden_validator_keys{state="expired",environment="production"} 1');
    expect(text).toContain('keywarden_validator_keys{state="active",environment="staging"} 1');
    // A timestamp (the age is computed in PromQL): the store heard of keys just now.
    const last = /keywarden_validator_key_store_last_update_timestamp_seconds ([0-9.e+]+)\n/.exec(text);
    expect(Math.abs(Number(last?.[1]) - Date.now() / 1000)).toBeLessThan(60);
    // Never listed: 0 (the stale alert ignores it; the not-synced alert covers it).
    const empty = new ValidatorMetrics(new KeyStore(), { perKey: { enabled: false, maxKeys: 1 } });
    expect(await empty.registry.metrics()).toContain(
      '\nkeywarden_validator_key_store_last_update_timestamp_seconds 0\n',
    );
  });
});
