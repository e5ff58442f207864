# Every target runs on the Node.js 24 from node_modules (the pinned `node` devDependency).
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)

SEEDS ?= 2000
VITEST := vitest run

.PHONY: all install build lint typecheck test unit sim run cluster clean

all: build

node_modules/.package-lock.json: package.json package-lock.json
	npm ci
	@touch $@

install: node_modules/.package-lock.json

build: install
	tsc -p tsconfig.json

typecheck: install
	tsc -p tsconfig.json --noEmit

lint: install
	eslint .

unit: install
	$(VITEST) --project unit

# The seeded whole-cluster simulation; SEEDS=N runs N schedules.
sim: install
	KUORUM_SIM_SEEDS=$(SEEDS) $(VITEST) --project sim

# Every tier, one after another (they share two cores): static checks, unit, the seeded
# simulation (its default size), the Go checker's own tests, real processes on loopback and in
# network namespaces, then the real Kubernetes control plane.
test: lint typecheck build controlplane
	$(VITEST) --project unit
	$(VITEST) --project sim
	cd test/linearizability && go test ./...
	cd test/bench/loadgen && go test ./...
	$(VITEST) --project cluster
	$(VITEST) --project e2e

# The node's container image (node/Dockerfile): docker when an engine answers, else buildah.
# make image IMAGE=name:tag BASE_IMAGE=... BUILDER=docker|buildah
IMAGE ?= kuorum:dev
.PHONY: image image-operator
image:
	IMAGE='$(IMAGE)' BASE_IMAGE='$(BASE_IMAGE)' BUILDER='$(BUILDER)' scripts/image/build.sh

# The operator's image (operator/Dockerfile), the one the Helm chart runs by default.
# make image-operator OPERATOR_IMAGE=name:tag BASE_IMAGE=... BUILDER=docker|buildah
OPERATOR_IMAGE ?= kuorum-operator:dev
image-operator:
	IMAGE='$(OPERATOR_IMAGE)' DOCKERFILE=operator/Dockerfile BASE_IMAGE='$(BASE_IMAGE)' BUILDER='$(BUILDER)' scripts/image/build.sh

# A local 3-node cluster on 127.0.0.1 (data kept under .data/ between runs; Ctrl-C stops it).
run: build
	node scripts/run-local-cluster.mjs

# Real node processes on loopback: kill -9, restarts, membership changes.
cluster: build
	$(VITEST) --project cluster

# kuorum against etcd, side by side: 3 nodes of each on 127.0.0.1, the same Go load generator,
# one table (puts, linearizable reads, failover, memory) + bench-results/<timestamp>.json.
# A measurement: exits 0 even when a target is missed. BENCH_QUICK=1 runs a short version.
.PHONY: bench
bench: build
	node dist/test/bench/run-bench.js

# Kubernetes control-plane binaries (kube-apiserver, kube-controller-manager, kube-scheduler,
# kubectl, etcd, etcdctl, helm) built from the Go module proxy into ~/.cache/kuorum/k8s/<versions>;
# a warm cache builds nothing. KUORUM_K8S_BIN=dir uses binaries you already have.
.PHONY: controlplane e2e
controlplane:
	@bash test/controlplane/build.sh >/dev/null || { echo "make controlplane: building the Kubernetes binaries failed (see above); the e2e tier cannot run" >&2; exit 1; }

# The e2e tier: a real control plane with process-kubelets (needs root: network namespaces).
e2e: install build controlplane
	$(VITEST) --project e2e

clean:
	rm -rf dist

# The operator: its unit tests, and the chart's copy of the CRD refreshed from crds/ (the one source).
.PHONY: operator operator-crds
operator-crds:
	cp crds/raftcluster.yaml charts/kuorum-operator/crds/raftcluster.yaml

operator: install operator-crds
	$(VITEST) test/unit/operator test/unit/charts
