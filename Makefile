# kemr — the two commands a new user needs:  make demo  |  make test
# Everything is installed from the package registries on first use; binaries and caches live under ~/.cache/kemr.
SHELL := /bin/bash
.DEFAULT_GOAL := help
# uv as every script finds it (cluster/lib.sh): $UV, else on PATH, else where scripts/setup.sh installs it.
UV ?= $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
export UV
# uv trusts the machine's certificate store, as the scripts' uv does (cluster/lib.sh says why).
UV_SYSTEM_CERTS ?= 1
export UV_SYSTEM_CERTS
PYTEST_ARGS ?=

.PHONY: help
help:  ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

# The one setup path of both README commands: packages before first use, each stage a quick check once done.
.PHONY: setup
setup:  ## install what make demo and make test need (uv, .venv, Debian packages, cluster binaries, images)
	@scripts/setup.sh

.PHONY: venv
venv:  ## install uv and the Python environment from the lock file (setup's first stage)
	@scripts/setup.sh python

.PHONY: cluster
cluster: venv  ## build (first time: ~25 min) and start the local Kubernetes cluster with its real node (KEMR_REAL_NODE=0: without)
	cluster/up.sh

.PHONY: cluster-build
cluster-build: setup  ## build what the local cluster needs that is missing (make setup)

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
lint: venv  ## ruff, mypy, the layers (import-linter, pyproject.toml) and shellcheck
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run mypy
	$(UV) run lint-imports
	git ls-files -z '*.sh' .ci/run 'images/spark/hive/bin/kemr-*' \
	  images/trino/bin/kemr-trino-server images/trino/bin/kemr-trino-drain images/notebook/bin/kemr-notebook \
	  | xargs -0 $(UV) run shellcheck

.PHONY: unit
unit: venv  ## fast tests, no cluster
	$(UV) run pytest tests/unit $(PYTEST_ARGS)

.PHONY: images
images: venv  ## build the data-plane and operator images without Docker (OCI archives in ~/.cache/kemr/images; first time ~10 min)
	images/build.sh all

.PHONY: images-import
images-import: images  ## import the images into the real node's containerd (the node must be up: make cluster)
	images/import.sh all

# Go check tools of the GitOps tests (kstatus, gopher-lua): built before pytest, outside any test's timeout.
.PHONY: gitops-tools
gitops-tools:
	@gitops/build-go-tool.sh kstatus-check >/dev/null
	@gitops/build-go-tool.sh argocd/gopher-lua-check >/dev/null

# Peers side by side (bench/README.md): kemr, then KubeRay's ray-operator (built into ~/.cache/kemr/bench on first
# use), each in a fresh namespace of the running local cluster; one table with the ratios.
BENCH_ARGS ?=
.PHONY: bench
bench: venv  ## compare kemr with KubeRay's ray-operator on the local cluster (bench/compare.py; BENCH_ARGS=--only=kemr)
	eval "$$(cluster/env.sh)" && $(UV) run python bench/compare.py $(BENCH_ARGS)

.PHONY: test
# setup first (the cluster's binaries, the real node's packages and the images the tests run), so the test session
# only has to start the cluster; a cluster left running by make demo is reused and left running.
test: setup lint gitops-tools  ## everything: lint, unit tests, then tests against the local cluster (started if not running)
	$(UV) run pytest tests $(PYTEST_ARGS)

.PHONY: demo
# The real demo: images built and imported, the operator installed by its Helm chart, a PySpark step on the real
# node reading and writing the local S3. Leaves the cluster running; a second run reuses it (docs/s3-and-demo.md).
demo: setup  ## bring up the local cluster (real node, S3), install the operator with Helm, run a Spark job
	scripts/demo-real.sh

.PHONY: demo-real
demo-real: demo

.PHONY: demo-simulated
demo-simulated: venv  ## the old demo without real containers: kwok simulates the step drivers
	scripts/demo.sh
