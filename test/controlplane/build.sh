#!/usr/bin/env bash
# Builds the binaries of the e2e tier (kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl, etcd, etcdctl, helm) from the Go module proxy into a
# cache outside the repo, keyed by their versions. Only missing binaries are
# built, so a warm machine builds nothing.
#
#   build.sh              build what is missing, print the bin dir last
#   build.sh --print-dir  print the bin dir without building
#
# KUORUM_K8S_BIN=dir      use binaries the user already has (nothing is built;
#                         the dir must hold all of them)
# KUORUM_K8S_CACHE=dir    cache root (default ~/.cache/kuorum/k8s)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mods="$here/go"
binaries=(kube-apiserver kube-controller-manager kube-scheduler kubectl etcd etcdctl helm)

fail() { echo "controlplane build: $*" >&2; exit 1; }

# The version a module's go.mod requires of a dependency.
required() { awk -v m="$2" '$1 == m && $2 ~ /^v/ { print $2; exit }' "$mods/$1/go.mod"; }

k8s_version="$(required kubernetes k8s.io/kubernetes)"
etcd_version="$(required etcd go.etcd.io/etcd/server/v3)"
helm_version="$(required helm helm.sh/helm/v3)"
helm_client_go="$(required helm k8s.io/client-go)"
[[ -n "$k8s_version" && -n "$etcd_version" && -n "$helm_version" && -n "$helm_client_go" ]] ||
  fail "cannot read the pinned versions from $mods/*/go.mod"

if [[ -n "${KUORUM_K8S_BIN:-}" ]]; then
  for b in "${binaries[@]}"; do
    [[ -x "$KUORUM_K8S_BIN/$b" ]] || fail "KUORUM_K8S_BIN=$KUORUM_K8S_BIN has no executable $b"
  done
  echo "$KUORUM_K8S_BIN"
  exit 0
fi

cache_root="${KUORUM_K8S_CACHE:-$HOME/.cache/kuorum/k8s}"
bin="$cache_root/${k8s_version}-etcd${etcd_version#v}-helm${helm_version#v}/bin"
if [[ "${1:-}" == "--print-dir" ]]; then
  echo "$bin"
  exit 0
fi

command -v go >/dev/null || fail "go is not installed (Go 1.26+ is needed to build the control plane)"
mkdir -p "$bin"

# One build at a time per cache dir, even when two `make` runs overlap.
exec 9>"$bin/.lock"
flock 9

missing=()
for b in "${binaries[@]}"; do [[ -x "$bin/$b" ]] || missing+=("$b"); done
if ((${#missing[@]} == 0)); then
  echo "controlplane build: all binaries present in $bin" >&2
  echo "$bin"
  exit 0
fi
echo "controlplane build: building ${missing[*]} into $bin" >&2

export CGO_ENABLED=0
export GOFLAGS="${GOFLAGS:-} -mod=mod"

# When the proxy published a module version (stands in for the build date; the
# proxy does not record commit hashes, so the commit fields are left empty).
published() {
  (cd "$mods/$1" && go list -m -json "$2@$3") |
    sed -n 's/^[[:space:]]*"Time": "\([^"]*\)".*/\1/p' | head -1
}

# $1 module dir, $2 output name, $3 package, $4 ldflags
build() {
  local started=$SECONDS
  echo "controlplane build: $2 ..." >&2
  (cd "$mods/$1" && go build -p 2 -trimpath -ldflags "-s -w $4" -o "$bin/.$2.tmp" "$3")
  mv "$bin/.$2.tmp" "$bin/$2"
  echo "controlplane build: $2 built in $((SECONDS - started))s" >&2
}

wants() { [[ " ${missing[*]} " == *" $1 "* ]]; }

if wants etcd || wants etcdctl; then
  etcd_flags="-X go.etcd.io/etcd/api/v3/version.GitSHA=module-proxy"
  if wants etcd; then build etcd etcd go.etcd.io/etcd/server/v3 "$etcd_flags"; fi
  if wants etcdctl; then build etcd etcdctl go.etcd.io/etcd/etcdctl/v3 "$etcd_flags"; fi
fi

k8s_flags=""
for b in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
  wants "$b" || continue
  if [[ -z "$k8s_flags" ]]; then
    k8s_date="$(published kubernetes k8s.io/kubernetes "$k8s_version")"
    major="${k8s_version#v}"; major="${major%%.*}"
    minor="${k8s_version#v*.}"; minor="${minor%%.*}"
    # The same variables Kubernetes' hack/lib/version.sh stamps.
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
      k8s_flags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitCommit="
      k8s_flags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=${k8s_date:-1970-01-01T00:00:00Z}"
      k8s_flags+=" -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
    done
  fi
  build kubernetes "$b" "k8s.io/kubernetes/cmd/$b" "$k8s_flags"
done

if wants helm; then
  kube_minor="${helm_client_go#v0.}"; kube_minor="${kube_minor%%.*}"
  helm_flags="-X helm.sh/helm/v3/internal/version.version=$helm_version"
  helm_flags+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
  for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
    helm_flags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$kube_minor"
  done
  build helm helm helm.sh/helm/v3/cmd/helm "$helm_flags"
fi

echo "$bin"
