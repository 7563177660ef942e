"""Routing: which connector a message goes to.

This first version routes everything to the default upstream; rules by account, prefix, country,
MCC/MNC, sender and message type, with failover lists and prices, build on the same interface.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Route:
    connectors: tuple[str, ...]  # in failover order


class Router:
    def __init__(self, *, default: str) -> None:
        self._default = Route(connectors=(default,))

    def route(self, *, account_id: str, destination: str, message_type: str) -> Route:
        return self._default
