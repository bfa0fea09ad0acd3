#!/usr/bin/env bash
# keywarden on kind, for users with Docker: the SAME e2e suite scripts/test.sh runs on its local node
# (test/e2e/suite.test.ts), driven the same way, against a kind cluster with the same images.
#
# Steps (test/e2e/steps.ts; test/unit/scripts/kind-e2e.steps.test.ts fails if this list drifts from it):
#   1. install the chart with helm (local image, pullPolicy Never)
#   2. webhook: the API server calls it through its Service with a bootstrapped certificate
#   3. controller: Ready with leader election across 2 replicas
#   4. demo API: a Deployment annotated for injection gets the validator sidecar
#   5. requests from a client pod: 200 with identity headers, 401, 403, 429
#   6. requests from the host through a NodePort
#   7. disabled: true is refused with 401 within 2 s
#   8. forward auth through an nginx pod
#   9. metrics scraped from the pods
#   10. audit Parquet written to a volume and read back with keywarden audit
#   11. controller failover: kill the leader pod, the other takes over, no key lost, no double mint
#   12. pods run with only their chart ServiceAccounts
#   13. helm upgrade from the chart on main with keys live
#   14. webhook in cert-manager files mode: a pre-made certificate, renewed without a restart, trust checked
#   15. helm uninstall leaves no orphans but the documented ones
#
# Step 14 runs on kind exactly as on the local node: the suite installs stand-in cert-manager CRDs
# (test/support/fixtures/stand-in-crds) and plays cert-manager's issuer and cainjector itself, so the cluster
# must not have the real cert-manager (the step refuses to replace real CRDs).
#
# Usage: scripts/kind-e2e.sh [--keep] [--cluster NAME]
#   --keep        leave the cluster running at the end (default: delete it)
#   --cluster     kind cluster name (default: keywarden-e2e)
# Needs docker, kind and kubectl on PATH; Node 24 and helm are provided as for scripts/test.sh.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/lib.sh"

cluster="keywarden-e2e"
keep=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --keep) keep=1; shift ;;
    --cluster) cluster="${2:?--cluster needs a name}"; shift 2 ;;
    -h|--help) sed -n '2,30p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done

# The image names the suite uses (src/cli/dev/demo.ts IMAGES), the same as on the local node.
app_image="localhost/keywarden:dev"
base_image="docker.io/library/node:24.21.0-bookworm-slim"
nginx_image="localhost/keywarden-e2e-nginx:bookworm"

need() { command -v "$1" >/dev/null 2>&1 || { say "$1 is required on PATH for the kind run ($2)"; exit 1; }; }
need docker "https://docs.docker.com/get-docker/"
need kind "https://kind.sigs.k8s.io/docs/user/quick-start/#installation"
need kubectl "https://kubernetes.io/docs/tasks/tools/"
ensure_node
ensure_go
ensure_deps "$root"
cd "$root"

kubeconfig=""
cleanup() {
  local status=$?
  [[ -n "$kubeconfig" ]] && rm -f "$kubeconfig"
  if [[ $keep -eq 0 ]]; then
    say "deleting the kind cluster $cluster (use --keep to explore it instead)"
    kind delete cluster --name "$cluster" || true
  else
    say "the cluster is still running: kubectl --context kind-$cluster get pods -A; delete it with: kind delete cluster --name $cluster"
  fi
  exit $status
}

say "building the images: $app_image (the Dockerfile), $nginx_image, and pulling $base_image"
docker build -t "$app_image" "$root"
docker pull "$base_image"
docker build -t "$nginx_image" - <<'DOCKERFILE'
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends nginx-light && rm -rf /var/lib/apt/lists/*
DOCKERFILE

say "creating the kind cluster $cluster"
if kind get clusters 2>/dev/null | grep -qx "$cluster"; then
  say "kind cluster $cluster exists; reusing it (the suite expects a fresh one: delete it if a step fails on leftovers)"
else
  kind create cluster --name "$cluster" --wait 120s
fi
trap cleanup EXIT
kubeconfig="$(mktemp)"
kind get kubeconfig --name "$cluster" >"$kubeconfig"
for image in "$app_image" "$base_image" "$nginx_image"; do kind load docker-image "$image" --name "$cluster"; done
node_address="$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$cluster-control-plane")"

say "running the e2e suite against kind (node $node_address)"
KEYWARDEN_E2E_KUBECONFIG="$kubeconfig" KEYWARDEN_E2E_NODE_ADDRESS="$node_address" \
  npx vitest run --project e2e
