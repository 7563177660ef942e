# Every target installs what it needs: a fresh clone needs only python3 (>= 3.11) and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run cluster test lint bench bench-quick venv clean simulate migrate lock

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

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check gateway connectors schemas tests benchmarks
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m benchmarks

bench-quick: $(STAMP)
	$(BIN)/python -m benchmarks --quick

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache
