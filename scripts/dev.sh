#!/usr/bin/env bash
# Brings keywarden up locally and shows it working; Ctrl-C tears it down.
#   scripts/dev.sh               as root: the node-backed system (a local node with containerd, kubelet and
#                                kube-proxy, our image built from the Dockerfile, the chart installed with
#                                helm, the validator injected into the demo API's pod); installs Debian's
#                                node packages with apt-get first. Not root: falls back to --processes.
#   scripts/dev.sh --processes   the faster process-only mode: keywarden's parts as processes next to a
#                                control plane with no node (no root, no images).
#   scripts/dev.sh --exit        tear down right after the demo instead of waiting for Ctrl-C.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/lib.sh"
case " $* " in
  *" -h "* | *" --help "*) sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac
ensure_node
ensure_go
ensure_deps "$root"
if [[ " $* " != *" --processes "* && $EUID -eq 0 ]]; then
  say "node mode: Debian's containerd, runc, CNI plugins, buildah, mmdebstrap, iptables and conntrack"
  ensure_node_packages || say "could not install them: keywarden dev will say what is missing and run --processes"
fi
exec node "$root/src/cli/main.ts" dev "$@"
