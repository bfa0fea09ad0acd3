#!/usr/bin/env bash
# keywarden on kind, for users with Docker. The same steps as `keywarden dev` (scripts/dev.sh), but on
# a real cluster with the image and the Helm chart, and with the validator injected as a sidecar:
#
#   1. build the image                       5. apply the examples (policy and ApiKeys)
#   2. create a kind cluster                 6. deploy a demo API annotated for injection
#   3. load the image into it                7. reveal a key (once)
#   4. install the CRDs and the Helm chart   8. send allowed and denied requests through the sidecar
#
# Usage: scripts/kind-e2e.sh [--keep] [--cluster NAME]
#   --keep        leave the cluster running at the end (default: delete it)
#   --cluster     kind cluster name (default: keywarden)
# Needs docker, kind and kubectl on PATH; Node 24 and helm are provided as for scripts/dev.sh
# (a helm on PATH is used when present, otherwise the pinned one is built with Go).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/lib.sh"

cluster="keywarden"
keep=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --keep) keep=1; shift ;;
    --cluster) cluster="${2:?--cluster needs a name}"; shift 2 ;;
    -h|--help) sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done

image="keywarden:dev"
operator_ns="keywarden-system"
demo_ns="demo"
release="keywarden"
kubeconfig=""

step() { printf '\n==> %s\n' "$*"; }
need() { command -v "$1" >/dev/null 2>&1 || { say "$1 is required on PATH for the kind run ($2)"; exit 1; }; }
k() { kubectl "$@"; }
keywarden() { node "$root/src/cli/main.ts" "$@"; }

need docker "https://docs.docker.com/get-docker/"
need kind "https://kind.sigs.k8s.io/docs/user/quick-start/#installation"
need kubectl "https://kubernetes.io/docs/tasks/tools/"
ensure_node
ensure_go
ensure_deps "$root"
if command -v helm >/dev/null 2>&1 && helm version --short 2>/dev/null | grep -q '^v3\.'; then
  helm_bin="$(command -v helm)"
else
  helm_bin="$(bash "$root/tools/helm/build.sh")"
fi

cleanup() {
  local status=$?
  [[ -n "$kubeconfig" ]] && rm -f "$kubeconfig"
  if [[ $keep -eq 0 ]]; then
    step "deleting the kind cluster $cluster (use --keep to explore it instead)"
    kind delete cluster --name "$cluster" || true
  else
    printf '\nThe cluster is still running: kubectl --context kind-%s get apikeys -A\nDelete it with: kind delete cluster --name %s\n' "$cluster" "$cluster"
  fi
  exit $status
}

step "1. building the image $image"
docker build -t "$image" "$root"

step "2. creating the kind cluster $cluster"
if kind get clusters 2>/dev/null | grep -qx "$cluster"; then
  echo "kind cluster $cluster exists; reusing it"
else
  kind create cluster --name "$cluster" --wait 120s
fi
trap cleanup EXIT
# Every command below talks to this cluster only, whatever the current kubectl context is.
kubeconfig="$(mktemp)"
kind get kubeconfig --name "$cluster" >"$kubeconfig"
export KUBECONFIG="$kubeconfig"

step "3. loading the image into the cluster"
kind load docker-image "$image" --name "$cluster"

step "4. installing the CRDs and the Helm chart"
# Helm installs crds/ on first install only; applying them keeps an existing cluster current.
k apply --server-side --force-conflicts -f "$root/crds/"
k wait --for=condition=Established --timeout=60s crd/apikeys.keywarden.dev crd/apikeypolicies.keywarden.dev
# A fresh demo namespace each run, so every key is new and can be revealed.
k delete namespace "$demo_ns" --ignore-not-found --wait=true
k create namespace "$demo_ns"
"$helm_bin" upgrade --install "$release" "$root/charts/keywarden" \
  --namespace "$operator_ns" --create-namespace \
  --set image.repository=keywarden --set image.tag=dev --set image.pullPolicy=Never \
  --set "validator.namespaces[0].name=$demo_ns" \
  --set policy.create=false \
  --wait --timeout 5m
k -n "$operator_ns" get pods

step "5. applying the examples"
# The same files keywarden dev applies: the policy, then the keys. The webhook may need a moment to
# publish its CA into the webhook configurations, so the first apply is retried.
examples=("$root/examples/apikeypolicy.yaml" "$root/examples/apikey-development.yaml" "$root/examples/apikey-production-private.yaml" "$root/examples/apikey-staging-public.yaml")
for f in "${examples[@]}"; do
  for attempt in $(seq 1 30); do
    if k apply -n "$demo_ns" -f "$f"; then break; fi
    [[ $attempt -eq 30 ]] && { say "could not apply $f"; exit 1; }
    sleep 2
  done
done
k -n "$demo_ns" wait --for=condition=Ready --timeout=120s apikey/dev-laptop apikey/webapp-public apikey/billing-admin
k -n "$demo_ns" get apikeys

step "6. deploying a demo API annotated for injection"
# DEMO_APP_BEGIN
k apply -n "$demo_ns" -f - <<'YAML'
# The routes the injected validator enforces (the same as examples/validator-config.yaml).
apiVersion: v1
kind: ConfigMap
metadata:
  name: demo-api-routes
data:
  routes.yaml: |
    routes:
      - path: /v1/sessions
        methods: [POST]
        permission: sessions:create
      - path: /v1/tickets
        methods: [POST]
        permission: tickets:create
      - path: /v1/tickets/**
        methods: [GET]
        permission: tickets:read
      - path: /v1/devices/**
        methods: [GET]
        permission: devices:read
      - path: /v1/devices/**
        methods: [POST, PUT, PATCH, DELETE]
        permission: devices:write
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: demo-api
spec:
  replicas: 1
  selector:
    matchLabels: { app: demo-api }
  template:
    metadata:
      labels: { app: demo-api }
      annotations:
        keywarden.dev/inject: "true"
        keywarden.dev/environment: development
        keywarden.dev/upstream-port: http
        keywarden.dev/routes-configmap: demo-api-routes
    spec:
      # Made by the chart in each validator namespace; bound to read hash Secrets here only.
      serviceAccountName: keywarden-validator
      containers:
        - name: api
          image: keywarden:dev
          imagePullPolicy: Never
          command:
            - node
            - -e
            - |
              require('node:http').createServer((req, res) => {
                const identity = Object.fromEntries(Object.entries(req.headers).filter(([h]) => h.startsWith('x-keywarden-') && h !== 'x-keywarden-jwt'));
                res.setHeader('content-type', 'application/json');
                res.end(JSON.stringify({ upstream: 'demo-api', method: req.method, path: req.url, identity }));
              }).listen(3000, '127.0.0.1');
          ports:
            - { name: http, containerPort: 3000 }
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            runAsNonRoot: true
            capabilities: { drop: [ALL] }
---
# Traffic goes to the validator's port only: a pod without the sidecar gets none.
apiVersion: v1
kind: Service
metadata:
  name: demo-api
spec:
  selector: { app: demo-api }
  ports:
    - { name: http, port: 80, targetPort: keywarden }
YAML
# DEMO_APP_END
k -n "$demo_ns" rollout status deploy/demo-api --timeout=180s
containers="$(k -n "$demo_ns" get pods -l app=demo-api -o jsonpath='{.items[0].spec.containers[*].name}')"
echo "demo-api pod containers: $containers"
[[ " $containers " == *" keywarden-validator "* ]] || { say "the validator sidecar was not injected"; exit 1; }

step "7. revealing keys (each can be revealed once)"
dev_key="$(keywarden reveal dev-laptop -n "$demo_ns" --operator-namespace "$operator_ns")"
staging_key="$(keywarden reveal webapp-public -n "$demo_ns" --operator-namespace "$operator_ns")"
echo "dev-laptop:    ${dev_key:0:22}... (revealed; the one-time copy is gone)"
echo "webapp-public: ${staging_key:0:22}..."

step "8. sending requests through the injected validator"
# From a pod in the cluster, as a client of the Service would.
k -n "$demo_ns" run kw-client --image="$image" --image-pull-policy=Never --restart=Never --rm -i --quiet \
  --env="DEV_KEY=$dev_key" --env="STAGING_KEY=$staging_key" --command -- node --input-type=module -e '
const base = "http://demo-api";
const tampered = process.env.DEV_KEY.slice(0, -1) + (process.env.DEV_KEY.endsWith("A") ? "B" : "A");
const cases = [
  ["GET  /v1/devices/42 with the development key", "GET", "/v1/devices/42", process.env.DEV_KEY, 200],
  ["POST /v1/sessions with the development key", "POST", "/v1/sessions", process.env.DEV_KEY, 200],
  ["POST /v1/tickets without tickets:create", "POST", "/v1/tickets", process.env.DEV_KEY, 403],
  ["GET  /v1/devices/42 without a key", "GET", "/v1/devices/42", undefined, 401],
  ["GET  /v1/devices/42 with a mistyped key", "GET", "/v1/devices/42", tampered, 401],
  ["GET  /v1/devices/42 with a staging key", "GET", "/v1/devices/42", process.env.STAGING_KEY, 401],
];
let failed = 0;
for (const [what, method, path, key, want] of cases) {
  const res = await fetch(base + path, { method, headers: key ? { authorization: `Bearer ${key}` } : {} });
  const body = (await res.text()).slice(0, 160);
  const ok = res.status === want;
  if (!ok) failed++;
  console.log(`${ok ? "ok  " : "FAIL"} ${what}: ${res.status} (expected ${want}) ${body}`);
}
process.exit(failed ? 1 : 0);
'

printf '\nkeywarden kind run: every request got the expected answer.\n'
