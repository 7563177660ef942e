"""Query parameters that name a moment: ISO 8601 (a time without a zone is UTC, as the stored
times are) or unix seconds. The OpenAPI schema says both, so clients and fuzzers know."""

from __future__ import annotations

from datetime import UTC, datetime

Instant = datetime | float


def epoch_seconds(value: Instant) -> float:
    if isinstance(value, int | float):
        return float(value)
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
