"""The gateway's /metrics read back: counters summed over labels, histogram quantiles.

Only the text exposition format's sample lines are parsed (`name{labels} value`); the counts a
benchmark compares are deltas between two scrapes, so counters left over from warm-up or an
earlier run do not matter.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass

import httpx

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class Sample:
    name: str
    labels: dict[str, str]
    value: float


class Metrics:
    def __init__(self, samples: list[Sample]) -> None:
        self.samples = samples

    @classmethod
    def parse(cls, text: str) -> Metrics:
        samples = []
        for line in text.splitlines():
            if not line or line.startswith("#"):
                continue
            match = _SAMPLE.match(line)
            if match is None:
                continue
            name, labels, value = match.groups()
            samples.append(Sample(name, dict(_LABEL.findall(labels or "")), float(value)))
        return cls(samples)

    def total(self, name: str, **labels: str) -> float:
        """Sum of `name` over every sample whose labels include `labels`."""
        return sum(
            s.value
            for s in self.samples
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
        )

    def buckets(self, name: str) -> list[tuple[float, float]]:
        """(upper bound, cumulative count) of histogram `name`, summed over its other labels."""
        counts: dict[float, float] = {}
        for s in self.samples:
            if s.name == f"{name}_bucket":
                bound = float(s.labels["le"])
                counts[bound] = counts.get(bound, 0.0) + s.value
        return sorted(counts.items())


def scrape(base_url: str, timeout: float = 5.0) -> Metrics:
    response = httpx.get(base_url + "/metrics", timeout=timeout)
    response.raise_for_status()
    return Metrics.parse(response.text)


def bucket_quantile(
    before: list[tuple[float, float]], after: list[tuple[float, float]], q: float
) -> float:
    """The upper bound of the bucket holding quantile `q` (0..1) of the observations made
    between two scrapes: an upper estimate, as precise as the histogram's buckets."""
    start = dict(before)
    deltas = [(bound, count - start.get(bound, 0.0)) for bound, count in after]
    if not deltas or deltas[-1][1] <= 0:
        return math.nan
    wanted = q * deltas[-1][1]
    for bound, count in deltas:
        if count >= wanted:
            return bound
    return math.inf


@dataclass(frozen=True)
class GatewayCounts:
    """The gateway's pipeline counters at one moment: messages committed at intake, parts the
    upstream accepted (submit_sm_resp OK), messages that reached `delivered`."""

    accepted: float
    submitted: float
    delivered: float

    @classmethod
    def read(cls, base_url: str) -> GatewayCounts:
        m = scrape(base_url)
        return cls(
            accepted=m.total("gateway_messages_accepted_total"),
            submitted=m.total("gateway_parts_submitted_total", outcome="accepted"),
            delivered=m.total("gateway_message_status_changes_total", status="delivered"),
        )

    def __sub__(self, other: GatewayCounts) -> GatewayCounts:
        return GatewayCounts(
            self.accepted - other.accepted,
            self.submitted - other.submitted,
            self.delivered - other.delivered,
        )


def wait_for_delivered(
    base_url: str, before: GatewayCounts, expected: float, timeout: float
) -> tuple[GatewayCounts, float]:
    """Poll /metrics until `expected` more messages are delivered than in `before`, or
    `timeout` seconds pass; return the counts since `before` and the seconds waited.

    A scrape that times out is retried until the deadline: a gateway busy draining a backlog
    may answer late, and only the counts it finally gives are compared."""
    started = time.monotonic()
    deadline = started + timeout
    delta: GatewayCounts | None = None
    while True:
        try:
            delta = GatewayCounts.read(base_url) - before
        except httpx.TimeoutException:
            if time.monotonic() >= deadline:
                raise
        else:
            if delta.delivered >= expected:
                break
        if time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    assert delta is not None  # the first read either succeeded or raised
    return delta, time.monotonic() - started
