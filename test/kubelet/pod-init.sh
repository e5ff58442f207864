#!/bin/sh
# Runs as the first process of a container, already inside the pod's network namespace and a
# fresh mount + UTS namespace (nsenter --net=... unshare --mount --uts --propagation private).
# Usage: pod-init.sh <mounts-file> <hostname> <working-dir> -- <argv...>
# Each line of <mounts-file> is "<host path>\t<mount path>\t<ro|rw>": the host path is bind-mounted
# at the mount path, visible to this container only. Missing mount points are created on the
# host filesystem (empty directories or files), since a process cannot chroot here.
set -eu
mounts=$1 name=$2 workdir=$3
shift 4
hostname "$name"
tab=$(printf '\t')
while IFS="$tab" read -r src dst mode; do
  [ -n "$src" ] || continue
  if [ -d "$src" ]; then
    mkdir -p "$dst"
  else
    mkdir -p "$(dirname "$dst")"
    [ -e "$dst" ] || : >"$dst"
  fi
  mount --bind "$src" "$dst"
  if [ "$mode" = ro ]; then mount -o remount,bind,ro "$dst"; fi
done <"$mounts"
mkdir -p "$workdir"
cd "$workdir"
exec "$@"
