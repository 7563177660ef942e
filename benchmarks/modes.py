"""How long and how often to measure: the full suite, the quick pass, and the test smoke mode.

Every scenario sizes its loads with `Mode.pick(full=..., quick=..., smoke=...)`, so the three
sizes of one load sit next to each other in the scenario's code.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TypeVar

T = TypeVar("T")
ModeName = Literal["full", "quick", "smoke"]


@dataclass(frozen=True)
class Mode:
    name: ModeName
    runs: int

    def pick(self, *, full: T, quick: T, smoke: T) -> T:
        if self.name == "full":
            return full
        if self.name == "quick":
            return quick
        return smoke

    @property
    def smoke(self) -> bool:
        return self.name == "smoke"


FULL = Mode("full", runs=3)
QUICK = Mode("quick", runs=3)
SMOKE = Mode("smoke", runs=1)  # tests: correctness only, a few messages, one run


@dataclass(frozen=True)
class SmppTarget:
    """Where smpp-ingest sends its submits.

    `simulator`: a `python -m gateway simulate` process started for the run (system_id
    "gateway"); `gateway`: a gateway process started for the run, bound through its SMPP server
    as the demo account (system_id "demo", password GATEWAY_DEMO_SMPP_PASSWORD or a generated
    one); `external`: an SMSC already running at `address`, not started or measured by us.
    """

    kind: Literal["simulator", "gateway", "external"] = "gateway"
    address: str = ""  # host:port, for `external`
    system_id: str = ""  # default per kind: gateway / demo
    password: str = ""  # default per kind: secret / $GATEWAY_DEMO_SMPP_PASSWORD


@dataclass
class Context:
    mode: Mode
    results_dir: Path
    smpp_target: SmppTarget = field(default_factory=SmppTarget)
    work_dir: Path = field(default_factory=lambda: Path(tempfile.gettempdir()))
    postgres_dsn: str = "postgresql://postgres@127.0.0.1:5432/test"
    redis_url: str = "redis://127.0.0.1:6379/0"
    runs_override: int | None = None
    backlog_postgres: bool = False  # backlog: PostgreSQL too (a million-row load, minutes)

    @property
    def runs(self) -> int:
        return self.runs_override or self.mode.runs
