#!/usr/bin/env bash
# Builds (once) the local cluster keywarden tests on, from published Go modules pinned by the wrapper
# modules next to this script: etcd, and ONE multi-call binary `kube` (kubernetes/cmd/kube) holding
# kube-apiserver, kube-controller-manager, kube-scheduler, kube-proxy, kubelet and kubectl, compiled and
# linked once; each component is a symlink to it (it dispatches on the name it is started as).
# The binaries are cached outside the repo under a key made of the versions and the go.sum hashes, so a
# second run is instant. Prints the binary folder on its last line of stdout.
#
#   tools/controlplane/build.sh            build if missing, print the folder
#   KUBEBUILDER_ASSETS=/path build.sh      use envtest binaries from there (kubectl is built if absent)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
k8s_version="1.34.4"
etcd_version="3.6.5"
k8s_minor="${k8s_version#1.}"; k8s_minor="${k8s_minor%%.*}"

log() { printf '[control-plane] %s\n' "$*" >&2; }

if ! command -v go >/dev/null 2>&1; then
  log "Go is not on PATH. Install Go 1.24 or newer (https://go.dev/doc/install), or set KUBEBUILDER_ASSETS."
  exit 1
fi

# The key changes with any pinned version; build flags changes must bump build_rev.
build_rev=2
sum_key="$( (echo "$build_rev"; cat "$here"/kubernetes/go.{mod,sum} "$here"/kubernetes/cmd/kube/main.go "$here"/etcd/go.{mod,sum}) | sha256sum | cut -c1-12)"
cache_root="${KEYWARDEN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/keywarden}"
bin_dir="$cache_root/controlplane/k8s-v${k8s_version}-etcd-v${etcd_version}-${sum_key}/bin"

# Runs `go build -v` and reports how many packages it has compiled, every 20 s, so a cold build
# (several minutes per binary on 2 cores) never looks hung.
build_with_progress() {
  local name="$1" dir="$2"; shift 2
  local out="$bin_dir/.$name.tmp" vlog
  vlog="$(mktemp)"
  log "building $name (a cold build takes several minutes; later runs reuse the Go build cache)"
  local start=$SECONDS last=$SECONDS
  ( cd "$dir" && go build -mod=mod -trimpath -v -o "$out" "$@" ) 2>"$vlog" &
  local pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    if (( SECONDS - last >= 20 )); then
      last=$SECONDS
      log "  $name: $(grep -c . "$vlog" || true) packages compiled, $((SECONDS - start)) s"
    fi
  done
  if ! wait "$pid"; then
    grep -v '^[a-zA-Z0-9_./-]*$' "$vlog" >&2 || tail -30 "$vlog" >&2
    rm -f "$vlog" "$out"
    log "building $name failed (output above). Check that the Go module proxy is reachable and retry."
    exit 1
  fi
  rm -f "$vlog"
  mv "$out" "$bin_dir/$name"
  log "  $name ready in $((SECONDS - start)) s"
}

ldflags_k8s="-s -w -X k8s.io/component-base/version.gitVersion=v${k8s_version} \
-X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${k8s_minor} \
-X k8s.io/component-base/version.gitTreeState=clean \
-X k8s.io/client-go/pkg/version.gitVersion=v${k8s_version} \
-X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=${k8s_minor}"

mkdir -p "$bin_dir"

if [[ -n "${KUBEBUILDER_ASSETS:-}" ]]; then
  for b in kube-apiserver etcd; do
    [[ -x "$KUBEBUILDER_ASSETS/$b" ]] || { log "KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS has no $b; unset it to build from source."; exit 1; }
  done
  if [[ -x "$KUBEBUILDER_ASSETS/kubectl" ]]; then echo "$KUBEBUILDER_ASSETS"; exit 0; fi
fi

components=(kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubelet kubectl)
if [[ -n "${KUBEBUILDER_ASSETS:-}" ]]; then
  # envtest assets bring the API server; only kubectl is missing.
  [[ -x "$bin_dir/kubectl" ]] || build_with_progress kubectl "$here/kubernetes" -ldflags "$ldflags_k8s" k8s.io/kubernetes/cmd/kubectl
else
  [[ -x "$bin_dir/kube" ]] || build_with_progress kube "$here/kubernetes" -ldflags "$ldflags_k8s" ./cmd/kube
  for name in "${components[@]}"; do ln -sfn kube "$bin_dir/$name"; done
fi
if [[ -z "${KUBEBUILDER_ASSETS:-}" && ! -x "$bin_dir/etcd" ]]; then
  build_with_progress etcd "$here/etcd" -ldflags "-s -w" go.etcd.io/etcd/server/v3
fi

if [[ -n "${KUBEBUILDER_ASSETS:-}" ]]; then
  # envtest assets lack kubectl: expose a merged folder.
  merged="$cache_root/controlplane/assets-$(echo "$KUBEBUILDER_ASSETS" | sha256sum | cut -c1-12)"
  mkdir -p "$merged"
  for f in "$KUBEBUILDER_ASSETS"/*; do ln -sf "$f" "$merged/"; done
  ln -sf "$bin_dir/kubectl" "$merged/kubectl"
  echo "$merged"
else
  echo "$bin_dir"
fi
