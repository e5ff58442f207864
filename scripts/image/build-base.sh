#!/usr/bin/env bash
# Builds a minimal Node 24 base image with buildah, from this machine's own files, for places
# that cannot pull node:24-*-slim from a registry (CI, air-gapped builders). It stands in for the
# official image: node and npm under /usr/local, a POSIX shell and the coreutils a Dockerfile RUN
# needs, glibc and the other shared libraries `ldd` names, a root user, /tmp and the CA bundle.
#
# usage: build-base.sh [image-name]      (default localhost/kuorum-base:24)
# env:   NODE_BIN  the Node 24 binary to ship (default: the repo's pinned node_modules/node)
#        NPM_DIR   the npm package directory to ship (default: the machine's global npm)
# The image is labelled with a key of its inputs; an image with the same key is reused.
set -euo pipefail

image=${1:-localhost/kuorum-base:24}
repo=$(cd "$(dirname "$0")/../.." && pwd)
node_bin=$(readlink -f "${NODE_BIN:-$repo/node_modules/node/bin/node}")
npm_dir=$(readlink -f "${NPM_DIR:-$(dirname "$(readlink -f "$(command -v npm)")")/..}")
ca_bundle=/etc/ssl/certs/ca-certificates.crt
tools=(dash env sh mkdir chown chmod cp mv rm ln ls cat id)

die() { echo "build-base: $*" >&2; exit 1; }
command -v buildah >/dev/null || die "buildah is not installed (apt-get install -y buildah)"
[ -x "$node_bin" ] || die "no node binary at $node_bin (run npm ci first)"
node_version=$("$node_bin" --version)
[[ $node_version == v24.* ]] || die "$node_bin is $node_version, need Node 24"
[ -f "$npm_dir/bin/npm-cli.js" ] || die "no npm package at $npm_dir"
npm_version=$("$node_bin" -p "require('$npm_dir/package.json').version")

key=$( { echo "$node_version $npm_version"; cat "$0"; [ -f "$ca_bundle" ] && cat "$ca_bundle"; } | sha256sum | cut -c1-16)
if [ "$(buildah inspect --type image --format '{{index .OCIv1.Config.Labels "dev.kuorum.base-key"}}' "$image" 2>/dev/null)" = "$key" ]; then
  echo "build-base: $image is up to date (key $key)"
  exit 0
fi

ctr=$(buildah from scratch)
trap 'buildah umount "$ctr" >/dev/null 2>&1 || true; buildah rm "$ctr" >/dev/null 2>&1 || true' EXIT
root=$(buildah mount "$ctr")

# Debian's merged-/usr layout, so paths that ldd prints (/lib/..., /lib64/...) resolve.
mkdir -p "$root"/usr/{bin,sbin,lib,lib64,local/bin,local/lib/node_modules,local/etc} "$root"/{etc/ssl/certs,root,tmp,var/tmp}
for d in bin sbin lib lib64; do ln -s "usr/$d" "$root/$d"; done
chmod 1777 "$root/tmp" "$root/var/tmp"
chmod 700 "$root/root"

# Copies a file and every shared library it links against (plus the dynamic loader) into the image.
copy_with_libs() {
  local src=$1 dest=$2
  cp -L "$src" "$root$dest"
  ldd "$src" 2>/dev/null | grep -oE '/[^ ]+' | while read -r lib; do
    [ -e "$root$lib" ] || { mkdir -p "$root$(dirname "$lib")"; cp -L "$lib" "$root$lib"; }
  done
}

for tool in "${tools[@]}"; do
  [ "$tool" = sh ] && continue
  copy_with_libs "$(command -v "$tool")" "/usr/bin/$tool"
done
ln -s dash "$root/usr/bin/sh"

copy_with_libs "$node_bin" /usr/local/bin/node
cp -a "$npm_dir" "$root/usr/local/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"

# The registry may sit behind a TLS proxy whose root only this machine's bundle trusts.
if [ -f "$ca_bundle" ]; then
  cp -L "$ca_bundle" "$root$ca_bundle"
  echo "cafile=$ca_bundle" > "$root/usr/local/etc/npmrc"
fi

cat > "$root/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
PASSWD
cat > "$root/etc/group" <<'GROUP'
root:x:0:
nogroup:x:65534:
GROUP
echo 'hosts: files dns' > "$root/etc/nsswitch.conf"

buildah umount "$ctr" >/dev/null
buildah config \
  --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --env "NODE_VERSION=${node_version#v}" \
  --label "dev.kuorum.base-key=$key" \
  --label "org.opencontainers.image.description=Node $node_version runtime built from the host's files" \
  --cmd node "$ctr"
buildah commit --quiet --rm "$ctr" "$image" >/dev/null
trap - EXIT
echo "build-base: built $image (node $node_version, npm $npm_version, key $key)"
