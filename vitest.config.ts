import { defineConfig } from 'vitest/config';

// Four projects: `unit` is pure and fast; `integration` and `adversarial` run against a real local
// control plane, started once by the global setup and torn down at the end (even when a test crashes);
// `e2e` runs the image and chart on a real node. They run one after another (`groupOrder`): the fault
// suite and the e2e steps hold timing bounds that two cores shared with another project would break.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          sequence: { groupOrder: 0 },
          include: ['test/unit/**/*.test.ts'],
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'integration',
          sequence: { groupOrder: 1 },
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/integration/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 600_000,
          fileParallelism: false,
        },
      },
      {
        // Attacks on the real parts (real nginx, Express/Go/Python upstreams, real RBAC): see
        // docs/threat-model.md for the actor and the "never" each file attacks.
        test: {
          name: 'adversarial',
          sequence: { groupOrder: 2 },
          include: ['test/adversarial/**/*.test.ts'],
          globalSetup: ['test/integration/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 600_000,
          fileParallelism: false,
        },
      },
      {
        // keywarden as users run it: our image and chart on a real node (test/e2e/global-setup.ts starts
        // one, or uses the cluster scripts/kind-e2e.sh made). One file, steps in order.
        test: {
          name: 'e2e',
          sequence: { groupOrder: 3 },
          include: ['test/e2e/**/*.test.ts'],
          globalSetup: ['test/e2e/global-setup.ts'],
          testTimeout: 300_000,
          hookTimeout: 1_800_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
