# jointcredit — two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PACKAGES := libs/common services/ingest services/rating services/sanctions services/repair
STAMP  := $(VENV)/.installed

.PHONY: run test test-e2e test-crash bench venv clean

$(STAMP): $(foreach p,$(PACKAGES),$(p)/pyproject.toml) Makefile
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check $(foreach p,$(PACKAGES),-e $(p)) -e 'libs/common[test]'
	@touch $(STAMP)

venv: $(STAMP)

## make run: embedded PostgreSQL + tansu broker + the four services on 8001–8004 (Ctrl-C stops all)
run: $(STAMP)
	$(PY) -m jointcredit_common.devstack run

## make test: the whole suite against real PostgreSQL and a real Kafka-protocol broker
test: $(STAMP)
	$(PY) -m pytest

test-e2e: $(STAMP)
	$(PY) -m pytest tests/e2e

test-crash: $(STAMP)
	$(PY) -m pytest -m crash

## make bench: load benchmark of the embedded stack next to its parts' ceilings (JSON in var/bench-results.json)
bench: $(STAMP)
	$(PY) -m bench.run --duration $${BENCH_SECONDS:-30} --concurrency $${BENCH_CONCURRENCY:-32}

clean:
	rm -rf $(VENV) var .pytest_cache
