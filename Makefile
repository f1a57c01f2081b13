# jointcredit — two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PACKAGES := libs/common services/ingest services/rating services/sanctions services/repair
STAMP  := $(VENV)/.installed

.PHONY: run test lint test-e2e test-crash test-faults bench bench-scale venv clean

$(STAMP): $(foreach p,$(PACKAGES),$(p)/pyproject.toml) Makefile
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check $(foreach p,$(PACKAGES),-e $(p)) -e 'libs/common[test,dev]'
	@touch $(STAMP)

venv: $(STAMP)

## make run: embedded PostgreSQL + tansu broker + the four services on 8001–8004 (Ctrl-C stops all)
run: $(STAMP)
	$(PY) -m jointcredit_common.devstack run

## make test: the whole suite against real PostgreSQL and a real Kafka-protocol broker, except the fault suite
## (make test-faults: it restarts its own servers under load and takes minutes on its own). TEST_WORKERS processes
## (pytest-xdist) share the tests, each with its own PostgreSQL and broker: much of a test's time is waiting for
## events to flow, so two overlap well even on two cores. TEST_WORKERS=0 runs them in this process.
TEST_WORKERS ?= 2
test: $(STAMP)
	$(PY) -m pytest -m "not faults" $(if $(filter-out 0,$(TEST_WORKERS)),-n $(TEST_WORKERS) --dist worksteal)

## make lint: ruff over the code (rules in pyproject.toml) and mypy on the platform library
lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m mypy libs/common/src

test-e2e: $(STAMP)
	$(PY) -m pytest tests/e2e

test-crash: $(STAMP)
	$(PY) -m pytest -m crash

## make test-faults: kill -9 each service, restart PostgreSQL and the broker, pause a consumer — under load — then
## reconcile the four databases and the topics (docs/reliability.md; each run's figures in var/faults/)
test-faults: $(STAMP)
	$(PY) -m pytest -m faults tests/faults

## make bench: load benchmark of the embedded stack next to its parts' ceilings; writes its section of
## docs/benchmarks.md (JSON in var/bench-results.json; BENCH_PROFILE=1 adds py-spy flame graphs in var/profiles/)
bench: $(STAMP)
	$(PY) -m bench.run --duration $${BENCH_SECONDS:-30} --concurrency $${BENCH_CONCURRENCY:-32} $(if $(BENCH_PROFILE),--profile)

## make bench-scale: rating's reads at 10k / 100k / 1M subjects (~5M records; ~35 GB of disk while it runs, ~1 h)
## (JSON in var/bench-scale.json, section in docs/benchmarks.md)
bench-scale: $(STAMP)
	$(PY) -m bench.scale --steps $${SCALE_STEPS:-10000,100000,1000000} --requests $${SCALE_REQUESTS:-1000} \
		--concurrency $${SCALE_CONCURRENCY:-8}

clean:
	rm -rf $(VENV) var .pytest_cache
