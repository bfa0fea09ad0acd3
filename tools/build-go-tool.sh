#!/usr/bin/env bash
# Builds (once) a pinned Go command into the keywarden cache and prints its path.
#   tools/build-go-tool.sh helm     helm.sh/helm/v3/cmd/helm            (chart tests)
#   tools/build-go-tool.sh promtool github.com/prometheus/prometheus/cmd/promtool (metrics tests)
set -euo pipefail
name="${1:?usage: build-go-tool.sh helm|promtool}"
case "$name" in
  helm) module="helm.sh/helm/v3/cmd/helm"; version="v3.22.0"; flags=(-ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=v3.22.0") ;;
  promtool) module="github.com/prometheus/prometheus/cmd/promtool"; version="v0.316.0"; flags=(-tags remove_all_sd -ldflags "-s -w") ;;
  *) echo "unknown tool $name" >&2; exit 2 ;;
esac
cache_root="${KEYWARDEN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/keywarden}"
bin_dir="$cache_root/tools/$name-$version"
if [[ ! -x "$bin_dir/$name" ]]; then
  command -v go >/dev/null 2>&1 || { echo "[$name] Go 1.24+ is needed to build $name $version" >&2; exit 1; }
  echo "[$name] building $name $version from its Go module (a cold build takes a few minutes)" >&2
  mkdir -p "$bin_dir"
  start=$SECONDS last=$SECONDS
  GOBIN="$bin_dir" go install -trimpath "${flags[@]}" "$module@$version" >&2 &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    if (( SECONDS - last >= 30 )); then last=$SECONDS; echo "[$name]   still building, $((SECONDS - start)) s" >&2; fi
  done
  wait "$pid" || { echo "[$name] building $name failed (see above); check that the Go module proxy is reachable" >&2; exit 1; }
  echo "[$name]   ready in $((SECONDS - start)) s" >&2
fi
# A stable path for tests: ~/.cache/keywarden/tools/<name>
ln -sf "$bin_dir/$name" "$cache_root/tools/$name"
echo "$cache_root/tools/$name"
