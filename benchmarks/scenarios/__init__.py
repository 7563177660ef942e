"""The scenarios, by name, in the order `python -m benchmarks` runs them, and the ones it runs
only when named (`EXTRA_SCENARIOS`: they install or need something beyond the project)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from benchmarks.modes import Context
from benchmarks.report import ScenarioResult
from benchmarks.scenarios import (
    backlog,
    cluster,
    dispatch,
    end_to_end_rest,
    kannel,
    micro_pdu,
    micro_ratelimit,
    micro_store,
    micro_text,
    ratelimit,
    rest_submit,
    smpp_ingest,
)


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    run: Callable[[Context], ScenarioResult]


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "micro-text",
            "encode_text + render_short_message: short GSM7, long GSM7, Arabic/emoji UCS2",
            micro_text.run,
        ),
        Scenario("micro-pdu", "submit_sm and deliver_sm receipt encode+decode", micro_pdu.run),
        Scenario(
            "micro-ratelimit",
            "Gcra.try_take cost and achieved vs configured rate",
            micro_ratelimit.run,
        ),
        Scenario(
            "ratelimit",
            "RateLimiter.acquire cost and achieved/configured rate: memory and Redis, 1 and 2 "
            "processes",
            ratelimit.run,
        ),
        Scenario(
            "micro-store",
            "insert_messages batches of 1/100/1000 on SQLite and PostgreSQL vs a bare insert",
            micro_store.run,
        ),
        Scenario(
            "rest-submit",
            "closed-loop POST /v1/messages at concurrency 64 vs a trivial FastAPI endpoint; "
            "batches of 1,000 recipients vs the 25,000 recipients/s target",
            rest_submit.run,
        ),
        Scenario(
            "end-to-end-rest",
            "open-loop REST in -> simulator process -> receipt -> delivered; counts must agree",
            end_to_end_rest.run,
        ),
        Scenario(
            "dispatch",
            "a committed backlog drained to a simulator process over 1 and 4 binds: parts/s",
            dispatch.run,
        ),
        Scenario(
            "backlog",
            "REST intake with 1M messages queued (carrier down) vs none: accepted/s, p99, RSS",
            backlog.run,
        ),
        Scenario(
            "smpp-ingest",
            "ESME load: submit_sm over 1/4 binds, window 10/100, receipts back, vs a bare "
            "uvloop SMSC at the same window",
            smpp_ingest.run,
        ),
        Scenario(
            "cluster",
            "1 then 2 nodes on PostgreSQL + Redis, end to end; CPU per message of nodes and store",
            cluster.run,
        ),
    )
}

EXTRA_SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "kannel",
            "make bench-kannel: Kannel (apt-get installed when missing) vs ours, same simulator "
            "and load, receipts on (by name only)",
            kannel.run,
        ),
    )
}
