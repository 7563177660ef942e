from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from gateway.groupcommit import GroupCommit


async def test_concurrent_submissions_share_one_write() -> None:
    batches: list[list[int]] = []

    async def write(items: Sequence[int]) -> list[int]:
        batches.append(list(items))
        await asyncio.sleep(0.01)
        return [i * 2 for i in items]

    commit: GroupCommit[int, int] = GroupCommit(write, max_batch=100)
    results = await asyncio.gather(*(commit.submit(i) for i in range(50)))
    assert results == [i * 2 for i in range(50)]
    assert len(batches) <= 2 and sum(len(b) for b in batches) == 50


async def test_a_failed_write_fails_its_batch_only() -> None:
    calls = 0

    async def write(items: Sequence[int]) -> list[None]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("disk full")
        return [None] * len(items)

    commit: GroupCommit[int, None] = GroupCommit(write)
    with pytest.raises(RuntimeError):
        await commit.submit(1)
    assert await commit.submit(2) is None


async def test_cancelled_caller_does_not_cancel_the_write() -> None:
    written: list[int] = []

    async def write(items: Sequence[int]) -> list[None]:
        await asyncio.sleep(0.02)
        written.extend(items)
        return [None] * len(items)

    commit: GroupCommit[int, None] = GroupCommit(write)
    task = asyncio.create_task(commit.submit(7))
    await asyncio.sleep(0.005)
    task.cancel()
    await commit.drain()
    assert written == [7]


async def test_a_cancelled_caller_leaves_its_batch_and_the_other_callers_whole() -> None:
    batches: list[list[int]] = []

    async def write(items: Sequence[int]) -> list[int]:
        batches.append(list(items))
        await asyncio.sleep(0.02)
        return [n * 10 for n in items]

    commit: GroupCommit[int, int] = GroupCommit(write)
    first = asyncio.create_task(commit.submit(1))  # written alone, while 2 and 3 queue up
    await asyncio.sleep(0.005)
    second = asyncio.create_task(commit.submit(2))
    third = asyncio.create_task(commit.submit(3))
    await asyncio.sleep(0.005)
    second.cancel()  # queued, not yet being written
    assert await first == 10
    assert await third == 30
    assert second.cancelled()
    await commit.drain()
    assert batches == [[1], [2, 3]]


async def test_heavy_items_are_written_in_batches_of_bounded_weight() -> None:
    batches: list[list[int]] = []

    async def write(items: Sequence[int]) -> list[int]:
        batches.append(list(items))
        await asyncio.sleep(0)
        return list(items)

    commit: GroupCommit[int, int] = GroupCommit(write, max_batch=10, weight=lambda n: n)
    sizes = [3, 4, 5, 25, 1, 2]
    tasks = [asyncio.create_task(commit.submit(n)) for n in sizes]
    assert await asyncio.gather(*tasks) == sizes
    # An item heavier than the limit goes alone; lighter ones fill up to it.
    assert batches == [[3, 4], [5], [25], [1, 2]]
    assert commit.pending == 0
