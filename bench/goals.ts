// The goals issue 14 set for the figures, kept apart from the benches so that a bench measures and this
// table judges. A goal bounds the ratio, the value itself, or what the subject adds to the baseline.
import type { BenchFigure } from './lib.ts';

export interface Goal {
  bench: string;
  /** The figure's name, or a pattern for names that carry a size (`1000 ApiKeys Ready`). */
  figure: string | RegExp;
  measure: 'ratio' | 'value' | 'added';
  atLeast?: number;
  atMost?: number;
}

export const GOALS: readonly Goal[] = [
  { bench: 'validator', figure: 'sidecar reverse proxy throughput', measure: 'ratio', atLeast: 0.75 },
  { bench: 'validator', figure: 'sidecar reverse proxy p99 latency', measure: 'added', atMost: 2 },
  { bench: 'validator', figure: '/authz throughput', measure: 'ratio', atLeast: 0.8 },
  { bench: 'validator', figure: '/authz p99 latency', measure: 'ratio', atMost: 1.5 },
  { bench: 'validator', figure: 'nginx auth_request → validator throughput', measure: 'ratio', atLeast: 0.9 },
  { bench: 'validator', figure: 'in-process decisions', measure: 'ratio', atLeast: 0.6 },
  { bench: 'controller-ready', figure: /^\d+ ApiKeys Ready$/, measure: 'ratio', atMost: 1.5 },
  { bench: 'controller-ready', figure: /^steady-state resync/, measure: 'value', atMost: 0 },
  { bench: 'key-store', figure: /^key store load, \d+ keys$/, measure: 'ratio', atMost: 1.3 },
  { bench: 'key-store', figure: /^key store heap/, measure: 'ratio', atMost: 0.7 },
  { bench: 'audit', figure: 'writer throughput', measure: 'ratio', atLeast: 1 },
  { bench: 'audit', figure: 'writer peak memory (max RSS)', measure: 'value', atMost: 150 },
  { bench: 'webhook', figure: /^kubectl apply of \d+ ApiKeys$/, measure: 'ratio', atMost: 1.2 },
];

export function goalFor(bench: string, f: BenchFigure): Goal | undefined {
  return GOALS.find(
    (g) => g.bench === bench && (typeof g.figure === 'string' ? g.figure === f.name : g.figure.test(f.name)),
  );
}

/** `goal` as the table shows it, e.g. `ratio ≥ 0.75` or `added ≤ 2 ms`. */
export function describeGoal(g: Goal, unit: string): string {
  const bound = g.atLeast !== undefined ? `≥ ${g.atLeast}` : `≤ ${g.atMost}`;
  return g.measure === 'ratio' ? `ratio ${bound}` : `${g.measure} ${bound} ${unit}`;
}

export function meetsGoal(g: Goal, f: BenchFigure): boolean {
  const measured = g.measure === 'ratio' ? f.ratio : g.measure === 'value' ? f.value : f.value - f.baseline;
  return (
    (g.atLeast === undefined || measured >= g.atLeast) && (g.atMost === undefined || measured <= g.atMost)
  );
}
