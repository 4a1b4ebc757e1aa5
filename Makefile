# hyperdial: every target creates or refreshes .venv first, so each works on a fresh clone.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.stamp-install

.PHONY: venv system-deps node-deps container-deps container-test demo test test-slow lint proto proto-check bench-overhead bench-crash bench-load bench-replicas bench-trainer bench-pruning bench-multifidelity bench-bayes bench-quality bench-parallel bench-multiobjective bench-faults bench-generalization bench-validation-signal bench-agent ui-assets ui-screenshots bench-ui clean

# torch==2.13.0 first: it is the CPU build on this platform, so nothing later asks
# for a multi-GB CUDA build (pyproject caps torch at that version).
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[server,trainers,cli,plots,lightning,ui,dev]'
	touch $(STAMP)

venv: $(STAMP)

## make demo: a real tuning study end to end on the default SQLite store (./hyperdial.db)
demo: venv
	$(VENV)/bin/hyperdial demo

# Debian's prometheus for the dashboard test (tests/e2e/test_prometheus.py) and chromium for
# the web UI's browser tests (tests/ui; Playwright drives /usr/bin/chromium and never
# downloads a browser); those tests skip, saying why, where a package cannot be installed.
system-deps:
	@command -v prometheus >/dev/null || { \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	     --no-install-recommends prometheus) >/dev/null 2>&1 \
	  || echo "warning: could not install Debian's prometheus; its test will be skipped" >&2; }
	@command -v chromium >/dev/null || { \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	     --no-install-recommends chromium) >/dev/null 2>&1 \
	  || echo "warning: could not install Debian's chromium; the UI tests will be skipped" >&2; }

## make test: the suite but its slow tests (marked `slow`), one pytest worker per core
test: venv system-deps node-deps
	$(PY) -m pytest -q -n auto -m "not slow and not container"

## make test-slow: the slow tests (crashes, replicas, concurrent bayes, the demo); CI runs both
test-slow: venv system-deps node-deps
	$(PY) -m pytest -q -m "slow and not container"

# The Node.js client example's packages (tests/e2e/test_node_client.py runs it), the web
# UI's chart library (tests/ui/test_assets.py checks the copy the package ships) and the
# Compose schema (tests/test_deploy.py); those tests skip, saying why, without Node.js.
node-deps:
	@if command -v npm >/dev/null; then \
	  (cd client/node && npm ci --no-audit --no-fund --loglevel=error) && \
	  (cd client/ui && npm ci --no-audit --no-fund --loglevel=error) && \
	  (cd deploy && npm ci --no-audit --no-fund --loglevel=error); \
	else echo "warning: no npm; the Node.js client and Compose schema tests will be skipped" >&2; fi

# make container-test: builds the images from the Dockerfile with podman on a base made from
# Debian's packages (deploy/container/base.sh; no registry image is pulled), torch from the
# local wheel folder where there is one (else PyTorch's CPU index), then runs them
# (tests/container). podman takes its settings from deploy/container/containers.conf.
CONTAINERS_CONF := $(CURDIR)/deploy/container/containers.conf
TORCH_WHEELS ?= /opt/wheels
TORCH_SOURCE = $(if $(wildcard $(TORCH_WHEELS)/torch-*.whl),--find-links $(TORCH_WHEELS),--index-url https://download.pytorch.org/whl/cpu)
TORCH_MOUNT = $(if $(wildcard $(TORCH_WHEELS)/torch-*.whl),--volume $(TORCH_WHEELS):$(TORCH_WHEELS):ro,)
container-deps:
	@command -v podman >/dev/null && command -v mmdebstrap >/dev/null && command -v runc >/dev/null || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	     --no-install-recommends podman runc mmdebstrap) >/dev/null

container-test: venv container-deps
	CONTAINERS_CONF=$(CONTAINERS_CONF) deploy/container/base.sh
	for target in server trainer; do \
	  CONTAINERS_CONF=$(CONTAINERS_CONF) podman build --quiet --format docker --network host \
	    --build-arg BASE=localhost/hyperdial-base:bookworm \
	    --build-arg TORCH_SOURCE="$(TORCH_SOURCE)" $(TORCH_MOUNT) \
	    --target $$target --tag localhost/hyperdial-$$target:test . >/dev/null || exit 1; \
	done
	CONTAINERS_CONF=$(CONTAINERS_CONF) $(PY) -m pytest -q -m container tests/container

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

## make proto: regenerate proto/hyperdial/v1/*_pb2*.py{,i} from the .proto
proto: venv
	$(PY) proto/generate.py

## make proto-check: fail if the committed generated code is stale
proto-check: venv
	$(PY) -m pytest -q tests/proto

bench-overhead: venv
	$(PY) bench/overhead.py

bench-crash: venv
	$(PY) bench/crash.py

bench-trainer: venv
	$(PY) bench/trainer_throughput.py

bench-pruning: venv
	$(PY) bench/pruning.py

## make bench-multifidelity: best model against epochs spent on a fixed epoch budget
bench-multifidelity: venv
	$(PY) bench/multifidelity.py

bench-bayes: venv
	$(PY) bench/bayes_latency.py

bench-quality: venv
	$(PY) bench/quality.py

## make bench-generalization: test loss of each method's recommended configuration, retrained
bench-generalization: venv
	$(PY) bench/generalization.py

## make bench-validation-signal: whether a lower validation loss means a lower test loss, per dataset
bench-validation-signal: venv
	$(PY) bench/validation_signal.py

bench-parallel: venv
	$(PY) bench/parallel.py

bench-multiobjective: venv
	$(PY) bench/multiobjective.py

bench-replicas: venv
	$(PY) bench/replicas.py

bench-load: venv
	$(PY) bench/load.py

bench-faults: venv
	$(PY) bench/faults.py

## make bench-agent: what `hyperdial agent` adds per trial and per metric line
bench-agent: venv
	$(PY) bench/agent.py

## make ui-assets: copies the web UI's chart library from its npm lock file into the package
ui-assets: node-deps
	cp client/ui/node_modules/echarts/dist/echarts.min.js client/hyperdial/client/ui/static/vendor/
	cp client/ui/node_modules/echarts/LICENSE client/hyperdial/client/ui/static/vendor/echarts.LICENSE
	cp client/ui/node_modules/echarts/NOTICE client/hyperdial/client/ui/static/vendor/echarts.NOTICE

## make ui-screenshots: the README's screenshots of the web UI, taken by its browser tests
ui-screenshots: venv system-deps
	HYPERDIAL_SCREENSHOTS=docs/ui $(PY) -m pytest -q tests/ui

## make bench-ui: the web UI's page load, paging, live-update delay, memory and server load
bench-ui: venv system-deps
	$(PY) bench/ui.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
