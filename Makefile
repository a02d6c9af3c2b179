# kemr — the two commands a new user needs:  make demo  |  make test
# Everything is installed from the package registries on first use; binaries and caches live under ~/.cache/kemr.
SHELL := /bin/bash
.DEFAULT_GOAL := help
UV_VERSION := 0.13.9
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
PYTEST_ARGS ?=

.PHONY: help
help:  ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(UV):
	python3 -m pip install --quiet --user "uv==$(UV_VERSION)"

.venv/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --quiet
	@touch $@

.PHONY: venv
venv: .venv/.synced  ## create the Python environment from the lock file

.PHONY: cluster
cluster: venv  ## build (first time: ~25 min) and start the local Kubernetes cluster with its real node (KEMR_REAL_NODE=0: without)
	cluster/up.sh

.PHONY: cluster-build
cluster-build:  ## build the local cluster's binaries that are missing (first time: ~12 min on 2 cores)
	cluster/build.sh
	cluster/node/up.sh prepare  # the real node's packages, binaries and images (skipped with KEMR_REAL_NODE=0)

.PHONY: cluster-down
cluster-down:  ## stop the local cluster and remove its state
	cluster/down.sh

.PHONY: crds
crds: venv  ## regenerate crds/ from the pydantic models, then the chart's copies and manifests/install.yaml
	$(UV) run kemr crds --out crds/
	@$(MAKE) --no-print-directory manifests

.PHONY: manifests
manifests:  ## copy crds/ into the Helm chart and regenerate manifests/install.yaml from it
	cp crds/*.yaml charts/kemr/crds/
	charts/render-install.sh > manifests/install.yaml.tmp && mv manifests/install.yaml.tmp manifests/install.yaml

.PHONY: lint
lint: venv  ## ruff and mypy
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run mypy

.PHONY: unit
unit: venv  ## fast tests, no cluster
	$(UV) run pytest tests/unit $(PYTEST_ARGS)

.PHONY: images
images: venv  ## build the data-plane and operator images without Docker (OCI archives in ~/.cache/kemr/images; first time ~10 min)
	UV=$(UV) images/build.sh all

.PHONY: images-import
images-import: images  ## import the images into the real node's containerd (the node must be up: make cluster)
	images/import.sh all

# With the real node, tests/images run the data-plane image there: it is built before pytest (never inside a
# test's timeout); the test imports it into the node's containerd itself (cheap when already there).
.PHONY: images-for-test
images-for-test: venv
	@if bash -c '. cluster/lib.sh && real_node_wanted'; then UV=$(UV) images/build.sh all; \
	else echo "images: not built (no real node: KEMR_REAL_NODE=0, or not root)"; fi

.PHONY: test
# The cluster's binaries are built first (with progress), so the test session only has to start the cluster.
# Go check tools of the GitOps tests (kstatus, gopher-lua): built before pytest, outside any test's timeout.
.PHONY: gitops-tools
gitops-tools:
	@gitops/build-go-tool.sh kstatus-check >/dev/null
	@gitops/build-go-tool.sh argocd/gopher-lua-check >/dev/null

test: lint cluster-build images-for-test gitops-tools  ## everything: lint, unit tests, then tests against the local cluster (started if not running)
	$(UV) run pytest tests $(PYTEST_ARGS)

.PHONY: demo
# The real demo: images built and imported, the operator installed by its Helm chart, a PySpark step on the real
# node reading and writing the local S3. Leaves the cluster running; a second run reuses it (docs/s3-and-demo.md).
demo: venv  ## bring up the local cluster (real node, S3), install the operator with Helm, run a Spark job
	scripts/demo-real.sh

.PHONY: demo-real
demo-real: demo

.PHONY: demo-simulated
demo-simulated: venv  ## the old demo without real containers: kwok simulates the step drivers
	scripts/demo.sh
