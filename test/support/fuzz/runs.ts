// How many cases each fuzz target runs: a quick pass by default (the whole folder stays well under 20 s
// in `npm run test:unit`), or FUZZ_RUNS per target (`npm run fuzz:long` sets 100,000).

const fromEnv = Number.parseInt(process.env.FUZZ_RUNS ?? '', 10);

/** True when FUZZ_RUNS is set: the long pass. */
export const LONG = Number.isFinite(fromEnv) && fromEnv > 0;

/** Cases for one target: FUZZ_RUNS when set, else the target's quick count. */
export function runs(quick: number): number {
  return LONG ? fromEnv : quick;
}

/** Per-test timeout: the unit default for the quick pass, effectively none for the long one. */
export function timeout(quickMs = 30_000): number {
  return LONG ? 6 * 3600_000 : quickMs;
}
