#!/usr/bin/env bash
# Brings keywarden up locally on a real control plane and shows it working. Ctrl-C tears it down.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/lib.sh"
ensure_node
ensure_go
ensure_deps "$root"
exec node "$root/src/cli/main.ts" dev "$@"
