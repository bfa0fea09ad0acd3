#!/usr/bin/env bash
# Runs every test: lint and format check, type check, schema drift check, unit tests, the
# integration tests on a real local control plane (built from Go modules on first use, then cached),
# the adversarial suite (real nginx: installed with apt-get when missing), and the e2e suite: our
# image and chart on a real node (containerd, kubelet, kube-proxy; needs root).
#   scripts/test.sh                 everything
#   scripts/test.sh unit            only the unit project (no control plane)
#   scripts/test.sh -- <vitest args> pass arguments to vitest
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/lib.sh"
ensure_node
ensure_go
ensure_deps "$root"
cd "$root"

projects=(--project unit --project integration --project adversarial --project e2e)
if [[ "${1:-}" == "unit" ]]; then projects=(--project unit); shift; fi
if [[ "${1:-}" == "e2e" ]]; then projects=(--project e2e); shift; fi
[[ "${1:-}" == "--" ]] && shift

say "lint and format (biome)"
npx biome check .
say "type check (tsc)"
npx tsc -p tsconfig.json
npx tsc -p src/console/web/tsconfig.json
say "generated types match crds/"
node scripts/gen-types.ts --check
if [[ " ${projects[*]} " == *" integration "* || " ${projects[*]} " == *" adversarial "* ]]; then
  say "control plane, helm and promtool from their Go modules (first build takes several minutes)"
  node src/cli/main.ts controlplane build >/dev/null
  bash tools/build-go-tool.sh helm >/dev/null
  bash tools/build-go-tool.sh promtool >/dev/null
  # The console's browser tests drive Debian's Chromium with playwright-core (no browser download).
  if [[ ! -x "${KEYWARDEN_CHROMIUM:-/usr/bin/chromium}" ]]; then
    say "installing Debian's chromium for the console's browser tests (apt-get install -y chromium)"
    sudo_cmd=(); [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq >&2 && "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
  fi
fi
if [[ " ${projects[*]} " == *" adversarial "* ]]; then
  say "nginx for the forward-auth attack suite (Debian nginx-light)"
  ensure_apt_package nginx-light /usr/sbin/nginx
  say "adversarial upstreams: Python http.server and the Go net/http ServeMux (built once, cached)"
  if ! command -v python3 >/dev/null 2>&1; then
    say "installing python3 (apt-get)"
    $( [[ $(id -u) -eq 0 ]] || echo sudo ) apt-get install -y python3 >&2
  fi
  node test/adversarial/upstreams/build.ts >/dev/null
fi
if [[ " ${projects[*]} " == *" e2e "* && $EUID -ne 0 ]]; then
  say "SKIPPING the node e2e suite: it needs root (network namespaces, containerd, cgroups); run as root or use scripts/kind-e2e.sh"
  kept=()
  for ((i = 0; i < ${#projects[@]}; i += 2)); do [[ ${projects[i+1]} == e2e ]] || kept+=(--project "${projects[i+1]}"); done
  projects=("${kept[@]}")
fi
if [[ " ${projects[*]} " == *" e2e "* ]]; then
  say "node e2e: Debian's containerd, runc, CNI plugins, buildah, mmdebstrap, iptables and conntrack"
  ensure_node_packages
  say "node e2e: images (pause, node base from mmdebstrap + npm, nginx, the Dockerfile; cached after the first run)"
  bash tools/image/build.sh >/dev/null
fi
mkdir -p .keywarden
say "vitest ${projects[*]}"
status=0
npx vitest run "${projects[@]}" --reporter=default --reporter=json --outputFile.json=.keywarden/vitest.json "$@" || status=$?
node -e '
  const r = JSON.parse(require("fs").readFileSync(".keywarden/vitest.json", "utf8"));
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
' || true
exit $status
