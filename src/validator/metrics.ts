import type { Counter, Histogram, Registry } from 'prom-client';
import type { DecisionEvent, Door } from '../api/events.ts';
import { BoundHistogram, type HistogramSeries } from '../observability/bound-histogram.ts';
import { createMetrics, type Metrics } from '../observability/metrics.ts';
import type { KeyStore } from './key-store.ts';

// Prometheus metrics. Every label has a bounded set of values: result (2), reason (the deny codes),
// environment (3 + unknown), door (3), state (4). Key ids appear only in the opt-in per-key counter,
// and only for the first `maxKeys` keys seen; the rest are counted under key_id="other".
//
// On the hot path a decision is counted against a label set bound once: the label objects are built
// the first time a set is seen, and counter increments are added up here and handed to prom-client at
// scrape time (prom-client serialises the labels of every inc() to find the series); the decision
// duration histogram is a BoundHistogram, whose series per door is bound once.

/** One label set of a decision, bound on first use. */
interface Bound {
  labels: { result: string; reason: string; environment: string; door: Door };
  pending: number;
  rateLimited: { environment: string } | undefined;
  pendingRateLimited: number;
}

/** door → environment → reason → the bound label set (each level a lookup of an already-made string). */
type BoundSets = Map<Door, Map<string, Map<string, Bound>>>;

export class ValidatorMetrics {
  readonly registry: Registry;
  readonly decisions: Counter<'result' | 'reason' | 'environment' | 'door'>;
  readonly decisionSeconds: BoundHistogram<'door'>;
  readonly rateLimited: Counter<'environment'>;
  readonly upstreamSeconds: Histogram<'code_class'>;
  readonly upstreamErrors: Counter;
  readonly refusedRecords: Counter;
  readonly lastUsedWrites: Counter<'outcome'>;
  readonly tunnelsClosed: Counter<'reason'>;
  readonly #perKey: Counter<'key_id' | 'result'> | undefined;
  readonly #perKeySeen = new Set<string>();
  readonly #perKeyMax: number;
  readonly #bound: BoundSets = new Map();
  readonly #doorSeconds = new Map<Door, HistogramSeries>();

  constructor(store: KeyStore, opts: { perKey: { enabled: boolean; maxKeys: number }; now?: () => number }) {
    const m = createMetrics();
    this.registry = m.registry;
    const bound = this.#bound;
    this.decisions = m.counter(
      'keywarden_validator_decisions_total',
      'Decisions by result (allow, deny), reason (ok or the error code), key environment and front door.',
      ['result', 'reason', 'environment', 'door'],
      function () {
        for (const b of boundSets(bound)) {
          if (b.pending > 0) this.inc(b.labels, b.pending);
          b.pending = 0;
        }
      },
    );
    this.decisionSeconds = new BoundHistogram(m.registry, {
      name: 'keywarden_validator_decision_duration_seconds',
      help: 'Time to decide on one request, from reading the key to the answer (excludes the upstream).',
      labelNames: ['door'],
      buckets: [0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.0025, 0.005, 0.01, 0.05],
    });
    this.rateLimited = m.counter(
      'keywarden_validator_rate_limited_requests_total',
      'Requests refused with 429 because their key was over its rate limit.',
      ['environment'],
      function () {
        for (const b of boundSets(bound)) {
          if (b.rateLimited && b.pendingRateLimited > 0) this.inc(b.rateLimited, b.pendingRateLimited);
          b.pendingRateLimited = 0;
        }
      },
    );
    this.upstreamSeconds = m.histogram(
      'keywarden_validator_upstream_duration_seconds',
      'Reverse proxy: time from forwarding a request to the upstream response headers.',
      ['code_class'],
      [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    );
    this.upstreamErrors = m.counter(
      'keywarden_validator_upstream_errors_total',
      'Reverse proxy: requests the upstream did not answer (connection refused, reset, timeout).',
    );
    this.refusedRecords = m.counter(
      'keywarden_validator_refused_records_total',
      'Hash Secrets refused as unreadable, misplaced or forged (no valid controller signature); their keys do not work here.',
    );
    this.lastUsedWrites = m.counter(
      'keywarden_validator_last_used_writes_total',
      'status.lastUsedAt reports by outcome (written, newer_exists, conflict, error).',
      ['outcome'],
    );
    this.tunnelsClosed = m.counter(
      'keywarden_validator_tunnels_closed_total',
      'Websocket tunnels cut because their key stopped being valid for them, by reason (the deny code).',
      ['reason'],
    );
    keyStoreGauges(m, store, opts.now ?? Date.now);
    this.#perKeyMax = opts.perKey.maxKeys;
    if (opts.perKey.enabled) {
      this.#perKey = m.counter(
        'keywarden_validator_key_decisions_total',
        'Opt-in: decisions per proven key id (bounded; keys beyond the limit count as key_id="other").',
        ['key_id', 'result'],
      );
    }
  }

  /** Records one decision. The key id is counted only for a proven key (the event names its ApiKey). */
  decision(e: DecisionEvent): void {
    const result = e.status === 200 ? 'allow' : 'deny';
    const b = this.#boundFor(e.door, result, e.reason, e.environment ?? 'unknown');
    b.pending++;
    if (b.rateLimited) b.pendingRateLimited++;
    let seconds = this.#doorSeconds.get(e.door);
    if (!seconds) {
      seconds = this.decisionSeconds.bind({ door: e.door });
      this.#doorSeconds.set(e.door, seconds);
    }
    seconds.observe(e.latencyMs / 1000);
    const keyId = e.apiKeyName !== undefined ? e.keyId : undefined;
    if (this.#perKey && keyId) {
      if (!this.#perKeySeen.has(keyId) && this.#perKeySeen.size < this.#perKeyMax)
        this.#perKeySeen.add(keyId);
      this.#perKey.inc({ key_id: this.#perKeySeen.has(keyId) ? keyId : 'other', result });
    }
  }

  #boundFor(door: Door, result: 'allow' | 'deny', reason: string, environment: string): Bound {
    let byEnv = this.#bound.get(door);
    if (!byEnv) {
      byEnv = new Map();
      this.#bound.set(door, byEnv);
    }
    let byReason = byEnv.get(environment);
    if (!byReason) {
      byReason = new Map();
      byEnv.set(environment, byReason);
    }
    let b = byReason.get(reason);
    if (!b) {
      // A reason belongs to one result (ok: allow; every code: deny), so it need not be a level.
      b = {
        labels: { result, reason, environment, door },
        pending: 0,
        rateLimited: reason === 'rate_limited' ? { environment } : undefined,
        pendingRateLimited: 0,
      };
      byReason.set(reason, b);
    }
    return b;
  }
}

function* boundSets(bound: BoundSets): Iterable<Bound> {
  for (const byEnv of bound.values()) for (const byReason of byEnv.values()) yield* byReason.values();
}

/** The key store's state, read at scrape time: keys by state and environment, last update, synced. */
function keyStoreGauges(m: Metrics, store: KeyStore, now: () => number): void {
  m.gauge(
    'keywarden_validator_keys',
    'Keys in the key store by state (active, disabled, expired) and environment.',
    ['state', 'environment'],
    function () {
      this.reset();
      const t = now();
      const counts = new Map<string, number>();
      for (const k of store.keys()) {
        const state = k.record.disabled ? 'disabled' : k.expiresAtMs <= t ? 'expired' : 'active';
        const id = `${state}|${k.record.environment}`;
        counts.set(id, (counts.get(id) ?? 0) + 1);
      }
      for (const [id, n] of counts) {
        const [state = '', environment = ''] = id.split('|');
        this.set({ state, environment }, n);
      }
    },
  );
  // A timestamp, not an age: Prometheus computes the age (time() - ...) and a stalled scrape cannot freeze it.
  m.gauge(
    'keywarden_validator_key_store_last_update_timestamp_seconds',
    'Unix time the key store last heard from the API server (event, bookmark or list); 0 before the first list.',
    [],
    function () {
      this.set(store.lastUpdateMs / 1000);
    },
  );
  m.gauge(
    'keywarden_validator_key_store_synced',
    '1 once the key store has listed every watched namespace.',
    [],
    function () {
      this.set(store.synced ? 1 : 0);
    },
  );
}
