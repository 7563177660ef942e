"""Encoding and segments through the REST API: preview and submit agree, and nothing surprises."""

from __future__ import annotations

import asyncio

import httpx
import pytest

DEST = "+4915112345678"


def _body(text: str, **extra: object) -> dict[str, object]:
    return {"to": DEST, "from": "Acme", "text": text, **extra}


@pytest.mark.parametrize(
    ("text", "encoding", "segments", "per_segment"),
    [
        ("Hello", "gsm7", 1, 160),
        ("a" * 160, "gsm7", 1, 160),
        ("a" * 161, "gsm7", 2, 153),
        ("{}" * 76, "gsm7", 2, 153),  # 304 septets of escape pairs: 2 x 152, no pair split
        ("Hi 👋", "ucs2", 1, 70),
        ("👋" * 35, "ucs2", 1, 70),  # 70 UTF-16 units exactly
        ("👋" * 36, "ucs2", 2, 67),
        ("Ödeme alındı, teşekkürler ğ", "gsm7", 1, None),  # Turkish shift table, not UCS-2
    ],
)
async def test_preview_matches_submit(
    api: httpx.AsyncClient, text: str, encoding: str, segments: int, per_segment: int | None
) -> None:
    preview = (await api.post("/v1/messages/preview", json=_body(text))).json()
    assert (preview["encoding"], preview["segments"]) == (encoding, segments), preview
    if per_segment is not None:
        assert preview["characters_per_segment"] == per_segment
    assert "".join(p["text"] for p in preview["parts"]) == preview["text"] == text
    if encoding != "ucs2":
        assert preview["ucs2_forced_by"] == []
    assert all(p["units"] <= preview["characters_per_segment"] for p in preview["parts"])
    submitted = await api.post("/v1/messages", json=_body(text))
    assert submitted.status_code == 202
    assert (submitted.json()["encoding"], submitted.json()["segments"]) == (encoding, segments)


async def test_preview_names_the_characters_that_forced_ucs2(api: httpx.AsyncClient) -> None:
    preview = (await api.post("/v1/messages/preview", json=_body("Price: 5€ – ok 😀"))).json()
    assert preview["encoding"] == "ucs2"
    assert "😀" in preview["ucs2_forced_by"] and "€" not in preview["ucs2_forced_by"]


async def test_transliteration_avoids_ucs2_and_is_reported(api: httpx.AsyncClient) -> None:
    text = "“Quoted” – it’s… done"
    plain = (await api.post("/v1/messages/preview", json=_body(text))).json()
    assert plain["encoding"] == "ucs2"
    response = await api.post("/v1/messages", json=_body(text, transliterate=True))
    assert response.status_code == 202
    body = response.json()
    assert body["encoding"] == "gsm7"
    preview = (await api.post("/v1/messages/preview", json=_body(text, transliterate=True))).json()
    assert preview["ucs2_forced_by"] == []
    originals = {t["original"] for t in body["transliterated"]}
    assert {"“", "”", "–", "’", "…"} <= originals


async def test_pinned_encoding_refuses_what_it_cannot_carry(api: httpx.AsyncClient) -> None:
    response = await api.post("/v1/messages", json=_body("Hi 😀 and 中", encoding="gsm7"))
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "message.unencodable_text"
    assert problem["characters"] == ["😀", "中"]
    assert "U+1F600" in problem["detail"]


async def test_long_message_is_delivered_as_one_message(api: httpx.AsyncClient) -> None:
    response = await api.post("/v1/messages", json=_body("Grüße 😀 " * 30))
    assert response.status_code == 202
    message_id = response.json()["id"]
    for _ in range(100):
        body = (await api.get(f"/v1/messages/{message_id}")).json()
        if body["status"] == "delivered":
            break
        await asyncio.sleep(0.05)
    assert body["status"] == "delivered"
    assert len(body["parts"]) == response.json()["segments"] == len(set(body["upstream_ids"]))


async def test_preview_sends_nothing(api: httpx.AsyncClient, gateway: object) -> None:
    await api.post("/v1/messages/preview", json=_body("just looking"))
    metrics = (await api.get("/metrics")).text
    accepted = [
        line
        for line in metrics.splitlines()
        if line.startswith("gateway_messages_accepted_total{") and not line.endswith(" 0.0")
    ]
    assert not accepted, accepted
