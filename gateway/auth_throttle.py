"""Failed-authentication throttling per client address, for the REST API.

API keys carry 256 random bits, so guessing one is hopeless; what an address that keeps
presenting wrong keys costs is store lookups and log noise, and it is probing. After `free`
failures an address is refused for a while (429 `auth.throttled` with `Retry-After`) without
looking its key up; each further failure doubles that time up to `cap`. A success clears the
address. A key already verified and cached still works during the pause, so clients sharing an
address with the prober (behind one NAT or proxy) are not locked out by it.

Bounded: at most `max_entries` addresses are remembered, the oldest forgotten first. Per node
(a prober spread over N nodes gets N times the attempts: still nothing against 2^256).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True)
class _Record:
    failures: int
    until: float  # refused until this moment (monotonic)


class FailedAuthThrottle:
    def __init__(
        self,
        *,
        free: int = 5,
        base: float = 1.0,
        cap: float = 60.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._free = free
        self._base = base
        self._cap = cap
        self._max = max_entries
        self._clock = clock
        self._records: OrderedDict[str, _Record] = OrderedDict()

    def retry_after(self, peer: str) -> float:
        """Seconds `peer` is still refused for; 0 when it may try."""
        record = self._records.get(peer)
        if record is None:
            return 0.0
        return max(0.0, record.until - self._clock())

    def failed(self, peer: str) -> None:
        record = self._records.pop(peer, None) or _Record(0, 0.0)
        record.failures += 1
        over = record.failures - self._free
        if over > 0:
            record.until = self._clock() + min(self._cap, self._base * 2 ** min(over - 1, 30))
        self._records[peer] = record  # most recent last
        while len(self._records) > self._max:
            self._records.popitem(last=False)

    def succeeded(self, peer: str) -> None:
        self._records.pop(peer, None)

    def __len__(self) -> int:
        return len(self._records)
