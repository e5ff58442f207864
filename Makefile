# Every target runs on the Node.js 24 from node_modules (the pinned `node` devDependency).
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)

SEEDS ?= 2000
VITEST := vitest run

.PHONY: all install build lint typecheck test unit sim run clean

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

# Every tier. The default simulation size is the one CI runs.
test: lint typecheck
	$(VITEST) --project unit --project sim

clean:
	rm -rf dist
