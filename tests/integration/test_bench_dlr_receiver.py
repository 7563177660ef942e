"""The receipt counter of `make bench-kannel` and the per-request load it is driven with: every
request built for index n reaches the server as index n, once; receipts are counted by type,
a second DELIVRD for one message is a duplicate, not a second delivery."""

from __future__ import annotations

import asyncio

from benchmarks.dlr_receiver import DLR_DELIVERED, DlrReceiver
from benchmarks.http_load import build_request, closed_loop


async def test_closed_loop_with_a_request_per_index_reaches_the_receiver_once_each() -> None:
    receiver = DlrReceiver()
    await receiver.start()
    answered: dict[int, int] = {}
    try:
        host = f"127.0.0.1:{receiver.port}"

        def request(n: int) -> bytes:
            return build_request("GET", f"/dlr?n={n}&type={DLR_DELIVERED}", host=host)

        result = await closed_loop(
            "127.0.0.1",
            receiver.port,
            request,
            concurrency=4,
            duration=10.0,
            max_requests=200,
            on_answer=answered.__setitem__,
        )
        assert await receiver.wait_delivered(200, timeout=5)
    finally:
        await receiver.close()
    assert result.count(200) == 200 and result.transport_errors == 0
    assert answered == dict.fromkeys(range(200), 200)
    assert sorted(receiver.delivered_at) == list(range(200))
    assert receiver.types == {DLR_DELIVERED: 200}
    assert receiver.duplicates == 0 and receiver.malformed == 0


async def test_duplicates_other_types_and_malformed_requests_are_told_apart() -> None:
    receiver = DlrReceiver()
    await receiver.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", receiver.port)
        host = f"127.0.0.1:{receiver.port}"
        for target in ("/dlr?n=7&type=1", "/dlr?n=7&type=1", "/dlr?n=8&type=2", "/dlr?type=1"):
            writer.write(build_request("GET", target, host=host))
        await writer.drain()
        for _ in range(4):  # four answers on one keep-alive connection
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200")
            await reader.readexactly(2)
        writer.close()
        await writer.wait_closed()
        assert not await receiver.wait_delivered(2, timeout=0.2)  # only message 7 delivered
    finally:
        await receiver.close()
    assert list(receiver.delivered_at) == [7]
    assert receiver.duplicates == 1
    assert receiver.types == {1: 2, 2: 1}
    assert receiver.malformed == 1
