"""The crash harness's webhook check itself: it must see a lost or contradicting event, or its
green runs prove nothing."""

from __future__ import annotations

from typing import Any

from tests.e2e.crash_harness import _chain_problem


def _event(sequence: int, previous: str, status: str, event_id: str = "") -> dict[str, Any]:
    return {
        "id": event_id or f"e{sequence}",
        "type": f"message.{status}",
        "sequence": sequence,
        "data": {"message_id": "m1", "status": status, "previous_status": previous},
    }


def test_whole_chain_passes() -> None:
    chain = [_event(3, "queued", "submitted"), _event(7, "submitted", "delivered")]
    assert _chain_problem(chain, "delivered") is None
    # A message may leave queued for its final status at once (receipt with the submit answer).
    assert _chain_problem([_event(4, "queued", "delivered")], "delivered") is None


def test_lost_submitted_event_is_seen() -> None:
    problem = _chain_problem([_event(7, "submitted", "delivered")], "delivered")
    assert problem is not None and "lost" in problem


def test_lost_final_event_is_seen() -> None:
    problem = _chain_problem([_event(3, "queued", "submitted")], "delivered")
    assert problem == "events end at submitted, the message is delivered"
    assert _chain_problem([], "delivered") == "no event received (final status delivered)"


def test_backwards_or_out_of_order_events_are_seen() -> None:
    backwards = [_event(3, "queued", "delivered"), _event(4, "delivered", "submitted")]
    assert "backwards" in str(_chain_problem(backwards, "delivered"))
    overtaken = [_event(7, "submitted", "delivered"), _event(3, "queued", "submitted")]
    assert "out of sequence order" in str(_chain_problem(overtaken, "delivered"))
