# Every target installs what it needs: a fresh clone needs only python3 (>= 3.11) and make.
# The venv is made with the distribution's /usr/bin/python3 when it is 3.11 or newer (with venv
# and ensurepip), else with python3 from PATH. Distribution builds (Debian, Ubuntu, Fedora) and
# the python:3.11 image the Dockerfile uses are compiled with PGO and LTO and link libpython in;
# a default pyenv build does neither and ran the gateway's SMPP ingest about 1.2x slower here.
# `make PYTHON=...` picks another; an existing .venv is kept (`make clean` to remake it).
PYTHON ?= $(shell /usr/bin/python3 -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && echo /usr/bin/python3 || echo python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run cluster test lint bench bench-quick venv clean simulate migrate lock fuzz fuzz-atheris soak bench-kannel

# constraints.txt pins every package to the versions the suite last passed with, so a new
# release upstream cannot break a clean checkout; `make lock` moves them forward on purpose.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

# Newest releases allowed by pyproject.toml, resolved in a scratch venv and written to
# constraints.txt; run `make test` before committing the result.
lock:
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/python -m pip install --quiet --upgrade pip
	.venv-lock/bin/python -m pip install --quiet -e '.[dev]'
	{ echo "# Versions make test and CI were last green with; pip installs within them (-c)."; \
	  echo "# Regenerate with 'make lock' after checking a newer set with 'make test'."; \
	  .venv-lock/bin/python -m pip freeze --exclude-editable; } > constraints.txt
	rm -rf .venv-lock

venv: $(STAMP)

run: $(STAMP)
	$(BIN)/python -m gateway run

# Two nodes on their own ports (REST 8080 and 8081, SMPP 2775 and 2776) sharing the machine's
# PostgreSQL and Redis, and one simulator process as their carrier. Override any GATEWAY_*.
CLUSTER_DB ?= postgresql://postgres@127.0.0.1:5432/test
CLUSTER_REDIS ?= redis://127.0.0.1:6379/0
cluster: $(STAMP)
	GATEWAY_WORKERS=$${GATEWAY_WORKERS:-2} GATEWAY_WORKER_PORTS=distinct \
	GATEWAY_DATABASE_URL=$${GATEWAY_DATABASE_URL:-$(CLUSTER_DB)} \
	GATEWAY_DATABASE_SCHEMA=$${GATEWAY_DATABASE_SCHEMA:-smsgw_cluster} \
	GATEWAY_REDIS_URL=$${GATEWAY_REDIS_URL:-$(CLUSTER_REDIS)} \
	GATEWAY_SIMULATOR_PORT=$${GATEWAY_SIMULATOR_PORT:-2790} \
	$(BIN)/python -m gateway run

simulate: $(STAMP)
	$(BIN)/python -m gateway simulate

migrate: $(STAMP)
	$(BIN)/python -m gateway migrate

# Two pytest processes (pytest-xdist): much of the suite's time is spent waiting on the gateway,
# simulator and database processes its end-to-end tests start. On a two-core machine that took
# the suite from 831 s to 455 s. Idle workers steal queued tests (worksteal), so a long
# end-to-end test does not leave one process running alone at the end. Tests marked `serial`
# (timed ones, and checks of server-wide Redis counters) run afterwards, alone.
# TEST_WORKERS=0: one process for the first pass too.
TEST_WORKERS ?= 2
test: $(STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal -m "not serial"
	$(BIN)/python -m pytest -m serial

lint: $(STAMP)
	$(BIN)/ruff check gateway connectors schemas tests benchmarks
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m benchmarks

bench-quick: $(STAMP)
	$(BIN)/python -m benchmarks --quick

# A million mutational cases per target (PDU decoder, SMPP session, text engine): FUZZ_CASES.
FUZZ_CASES ?= 1000000
fuzz: $(STAMP)
	$(BIN)/python -m tests.fuzz --cases $(FUZZ_CASES)

# Coverage-guided (atheris, the optional `fuzz` extra), one target at a time: FUZZ_TARGET.
FUZZ_TARGET ?= session
fuzz-atheris: $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,fuzz]'
	$(BIN)/python -m tests.fuzz --engine atheris --target $(FUZZ_TARGET) --cases $(FUZZ_CASES)

# A real gateway under steady REST and SMPP load for SOAK_SECONDS (default 30 minutes).
SOAK_SECONDS ?= 1800
soak: $(STAMP)
	$(BIN)/python -m benchmarks.soak --seconds $(SOAK_SECONDS)

# Kannel side by side (installs Debian's `kannel` with apt-get when missing; about 6 minutes).
# Not part of `make bench` or `make test`. BENCH_ARGS=--quick for a short pass.
bench-kannel: $(STAMP)
	$(BIN)/python -m benchmarks kannel $(BENCH_ARGS)

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache
