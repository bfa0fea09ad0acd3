import { describe, expect, it } from 'vitest';
import { runSoak } from '../../bench/soak.ts';

// A short soak (20,000 requests per door) against the same bounds as `npm run soak`'s million: a
// validator child process whose memory stays bounded and whose descriptors do not grow, answering
// forward auth, and proxying to an app over pooled upstream connections.

describe('soak (short)', () => {
  it.each(['authz', 'proxy'] as const)(
    '%s: 20,000 requests at a steady rate: RSS and descriptors within bounds, every answer right',
    {
      timeout: 120_000,
    },
    async (door) => {
      const r = await runSoak({
        door,
        requests: 20_000,
        ratePerSecond: 2_000,
        concurrency: 16,
        maxRssMb: 320,
        maxGrowthMb: 64,
        warmup: 4_000,
        keys: 1_000,
        log: () => {},
      });
      expect(r.checks).toEqual({ maxRss: true, rssGrowth: true, fds: true, answers: true, alive: true });
      expect(r.pass).toBe(true);
      expect(r.fds.end).toBeLessThanOrEqual(r.fds.start + 2);
    },
  );
});
