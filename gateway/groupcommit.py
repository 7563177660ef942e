"""Group commit: many concurrent callers, one transaction.

Callers hand in items and wait; one flusher task writes everything that queued up while the
previous write was in progress. Under load a batch is as large as the arrival rate times the
commit latency, so durability costs one fsync per batch; with one caller it costs nothing extra
(there is no timer to wait for).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class GroupCommit(Generic[T, R]):
    def __init__(
        self, write: Callable[[Sequence[T]], Awaitable[Sequence[R]]], *, max_batch: int = 1000
    ) -> None:
        self._write = write
        self._max_batch = max_batch
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._flusher: asyncio.Task[None] | None = None

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def submit(self, item: T) -> R:
        """Wait until `item` is committed; return the writer's result for it.

        The caller may be cancelled (a client hanging up) but the write is not: an item handed
        in is committed either way, so commit-then-acknowledge never splits half way.
        """
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush(), name="group-commit")
        return await asyncio.shield(future)

    async def _flush(self) -> None:
        try:
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                try:
                    results = await self._write([item for item, _ in batch])
                except Exception as exc:
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for (_, future), result in zip(batch, results, strict=True):
                    if not future.done():
                        future.set_result(result)
        finally:
            self._flusher = None

    async def drain(self) -> None:
        """Wait until everything handed in so far is written."""
        while self._flusher is not None:
            await asyncio.shield(self._flusher)
