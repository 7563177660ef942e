"""Messages for benchmarks that fill the store directly (as an intake's group commit would)."""

from __future__ import annotations

import time

from gateway.domain import MessageType, NewMessage, NewPart, new_id


def single_part_messages(
    account_id: str, count: int, *, body: str, connector: str
) -> list[NewMessage]:
    """`count` one-part GSM-7 transactional messages of `body` (ASCII) to one number."""
    now = time.time()
    payload = body.encode("ascii")
    return [
        NewMessage(
            id=new_id(now),
            account_id=account_id,
            source="Acme",
            destination="+4915112345678",
            body=body,
            encoding="gsm7",
            message_type=MessageType.TRANSACTIONAL,
            connector=connector,
            parts=(NewPart(seq=0, encoding="gsm7", data_coding=0, udh=b"", payload=payload),),
            created_at=now,
        )
        for _ in range(count)
    ]
