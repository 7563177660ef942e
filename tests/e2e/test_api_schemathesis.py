"""Schemathesis against the running gateway's own OpenAPI: no request it can generate may get a
server error, an undeclared status, a response off its schema, or a schema-violating request
accepted.

`make test` runs a short, seeded pass; a longer one is the same command with more time:

    SCHEMATHESIS_SECONDS=600 SCHEMATHESIS_SEED=random .venv/bin/python -m pytest \
        tests/e2e/test_api_schemathesis.py

`positive_data_acceptance` is left out on purpose: the schema says `to` is a string, but only a
number in a real numbering plan is accepted (422 `message.invalid_number`), and no JSON Schema can
carry libphonenumber's rules or an account's sender list.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import GatewayProcess

SECONDS = int(os.environ.get("SCHEMATHESIS_SECONDS", "10"))
SEED = os.environ.get("SCHEMATHESIS_SEED", "20261207")
ST = Path(sys.executable).with_name("st")


def _run_schemathesis(
    gateway: GatewayProcess, key: str, *filters: str, exclude: tuple[str, ...] = ()
) -> None:
    # cwd: st keeps replay data in ./.schemathesis; keep it out of the work tree.
    args = [
        str(ST),
        "run",
        f"{gateway.url}/openapi.json",
        "--header",
        f"Authorization: Bearer {key}",
        "--checks",
        "all",
        "--exclude-checks",
        ",".join(("positive_data_acceptance", *exclude)),
        "--max-examples",
        "50",
        "--max-time",
        str(SECONDS),
        "--workers",
        "1",
        "--request-timeout",
        "10",
        *filters,
    ]
    if SEED != "random":
        args += ["--seed", SEED]
    result = subprocess.run(
        args,
        capture_output=True,
        text=True,
        timeout=SECONDS + 120,
        check=False,
        cwd=gateway.log_path.parent,
    )
    assert result.returncode == 0, result.stdout[-12_000:] + result.stderr[-4_000:]
    assert "Tested:" in result.stdout, result.stdout[-4_000:]


ADMIN_KEY = "adm_" + "0123456789abcdef" * 3


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[GatewayProcess]:
    process = GatewayProcess(
        tmp_path, database_url=f"sqlite:///{tmp_path}/gateway.db", GATEWAY_ADMIN_KEY=ADMIN_KEY
    )
    process.start()
    try:
        process.wait_ready()
        yield process
    finally:
        process.terminate()


def test_account_api_survives_schemathesis(gateway: GatewayProcess) -> None:
    # use_after_free (ST301) expects a DELETEd resource to be gone; DELETE /v1/messages/{id}
    # cancels, and the message stays readable as `cancelled` (records are never erased).
    _run_schemathesis(
        gateway, gateway.key, "--exclude-path-regex", "^/v1/admin", exclude=("use_after_free",)
    )


def test_admin_api_survives_schemathesis(gateway: GatewayProcess) -> None:
    # ensure_resource_availability (ST302) takes a 404 from a sub-resource of a just created
    # account (its webhook, a suppressed number) for the account itself missing; those answer
    # 404 until they are created themselves, as they should.
    _run_schemathesis(
        gateway,
        ADMIN_KEY,
        "--include-path-regex",
        "^/v1/admin",
        exclude=("ensure_resource_availability",),
    )
