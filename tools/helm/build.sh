#!/usr/bin/env bash
# Builds (once) the pinned helm from its Go module into the keywarden cache; prints its path.
set -euo pipefail
version="v3.22.0"
cache_root="${KEYWARDEN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/keywarden}"
bin_dir="$cache_root/helm-$version"
if [[ ! -x "$bin_dir/helm" ]]; then
  command -v go >/dev/null 2>&1 || { echo "[helm] Go is needed to build helm $version; install Go 1.24+" >&2; exit 1; }
  echo "[helm] building helm $version from its Go module (a cold build takes a few minutes)" >&2
  mkdir -p "$bin_dir"
  start=$SECONDS
  GOBIN="$bin_dir" go install -trimpath -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$version" "helm.sh/helm/v3/cmd/helm@$version" >&2 &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    (( (SECONDS - start) % 30 == 0 )) && echo "[helm]   still building, $((SECONDS - start)) s" >&2
  done
  wait "$pid" || { echo "[helm] building helm failed (see above); check that the Go module proxy is reachable" >&2; exit 1; }
  echo "[helm]   ready in $((SECONDS - start)) s" >&2
fi
echo "$bin_dir/helm"
