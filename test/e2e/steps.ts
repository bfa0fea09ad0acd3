// The e2e suite's steps, in the order they run. scripts/kind-e2e.sh runs this same suite on kind and
// lists the same steps in its header; test/unit/scripts/kind-e2e.steps.test.ts fails if the two lists drift.
export const E2E_STEPS = [
  'install the chart with helm (local image, pullPolicy Never)',
  'webhook: the API server calls it through its Service with a bootstrapped certificate',
  'controller: Ready with leader election across 2 replicas',
  'demo API: a Deployment annotated for injection gets the validator sidecar',
  'requests from a client pod: 200 with identity headers, 401, 403, 429',
  'requests from the host through a NodePort',
  'disabled: true is refused with 401 within 2 s',
  'forward auth through an nginx pod',
  'metrics scraped from the pods',
  'audit Parquet written to a volume and read back with keywarden audit',
  'controller failover: kill the leader pod, the other takes over, no key lost, no double mint',
  'pods run with only their chart ServiceAccounts',
  'helm upgrade from the chart on main with keys live',
  'webhook in cert-manager files mode: a pre-made certificate, renewed without a restart, trust checked',
  'helm uninstall leaves no orphans but the documented ones',
] as const;
