#!/usr/bin/env bash
# Builds an image, the node's (node/Dockerfile) by default: with docker when an engine answers,
# else with buildah (chroot isolation: no daemon, no user namespaces needed), installing buildah
# with apt when it is missing and we are root.
# env: IMAGE (default kuorum:dev), DOCKERFILE (default node/Dockerfile; operator/Dockerfile for the
#      operator), BASE_IMAGE (default: the Dockerfile's), BUILDER (docker|buildah)
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
image=${IMAGE:-kuorum:dev}
dockerfile=$repo/${DOCKERFILE:-node/Dockerfile}
[ -f "$dockerfile" ] || { echo "image: no Dockerfile at $dockerfile" >&2; exit 2; }
builder=${BUILDER:-}
build_args=()
[ -n "${BASE_IMAGE:-}" ] && build_args+=(--build-arg "BASE_IMAGE=$BASE_IMAGE")

if [ -z "$builder" ]; then
  if command -v docker >/dev/null && docker info >/dev/null 2>&1; then builder=docker; else builder=buildah; fi
fi

case $builder in
  docker)
    exec docker build -f "$dockerfile" -t "$image" "${build_args[@]}" "$repo" ;;
  buildah)
    if ! command -v buildah >/dev/null; then
      if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "image: no docker engine and no buildah; installing buildah" >&2
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq buildah >/dev/null
      else
        echo "image: needs a docker engine or buildah (apt-get install -y buildah)" >&2
        exit 1
      fi
    fi
    exec buildah bud --isolation chroot --layers --force-rm -f "$dockerfile" -t "$image" "${build_args[@]}" "$repo" ;;
  *)
    echo "image: BUILDER must be docker or buildah, not '$builder'" >&2
    exit 2 ;;
esac
