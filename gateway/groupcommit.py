"""Group commit: many concurrent callers, one transaction.

Callers hand in items and wait; one flusher task writes everything that queued up while the
previous write was in progress. Under load a batch is as large as the arrival rate times the
commit latency, so durability costs one fsync per batch; with one caller it costs nothing extra
(there is no timer to wait for). Items may weigh more than one (a batch request of many
messages): a write takes items up to `max_batch` in weight, and always at least one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class GroupCommit(Generic[T, R]):
    def __init__(
        self,
        write: Callable[[Sequence[T]], Awaitable[Sequence[R]]],
        *,
        max_batch: int = 1000,
        weight: Callable[[T], int] | None = None,
    ) -> None:
        self._write = write
        self._max_batch = max_batch
        self._weight = weight
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._pending_weight = 0
        self._flusher: asyncio.Task[None] | None = None

    @property
    def pending(self) -> int:
        """The weight of the items waiting for a write to start."""
        return self._pending_weight

    async def submit(self, item: T) -> R:
        """Wait until `item` is committed; return the writer's result for it.

        The caller may be cancelled (a client hanging up) but the write is not: an item handed
        in is committed either way, so commit-then-acknowledge never splits half way.
        """
        # No `asyncio.shield`: a cancelled caller cancels only its own future, which the
        # flusher then skips; the item stays in its batch and is written all the same.
        return await self.enqueue(item)

    def enqueue(self, item: T) -> asyncio.Future[R]:
        """Hand `item` in now; the future settles with the writer's result for it (or its
        error) once the write ends. For callers that follow the write with callbacks instead
        of a task of their own."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        self._pending_weight += self._weigh(item)
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush(), name="group-commit")
        return future

    async def _flush(self) -> None:
        try:
            while self._pending:
                count, total = 0, 0
                for item, _ in self._pending:
                    if count and total + self._weigh(item) > self._max_batch:
                        break
                    count, total = count + 1, total + self._weigh(item)
                batch = self._pending[:count]
                del self._pending[:count]
                self._pending_weight -= total
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

    def _weigh(self, item: T) -> int:
        return 1 if self._weight is None else self._weight(item)

    async def drain(self) -> None:
        """Wait until everything handed in so far is written."""
        while self._flusher is not None:
            await asyncio.shield(self._flusher)
