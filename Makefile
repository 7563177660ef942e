# Every target installs what it needs: a fresh clone needs only python3 (>= 3.11) and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run cluster test lint bench bench-quick bench-kannel venv clean simulate migrate

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

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

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check gateway connectors schemas tests benchmarks
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m benchmarks

bench-quick: $(STAMP)
	$(BIN)/python -m benchmarks --quick

# Kannel side by side (installs Debian's `kannel` with apt-get when missing; about 6 minutes).
# Not part of `make bench` or `make test`. BENCH_ARGS=--quick for a short pass.
bench-kannel: $(STAMP)
	$(BIN)/python -m benchmarks kannel $(BENCH_ARGS)

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache
