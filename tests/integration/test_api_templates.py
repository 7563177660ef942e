"""Stored templates (/v1/templates) and batches that name one."""

from __future__ import annotations

import httpx
import pytest

from gateway.app import Gateway
from gateway.text import decode_short_message
from tests.integration.priced_gateway import client, other, priced, wait_for_status

__all__ = ["client", "other", "priced"]

DE = "+4915112345678"


async def test_a_template_is_stored_replaced_listed_and_deleted(client: httpx.AsyncClient) -> None:
    created = await client.put(
        "/v1/templates/shipped", json={"text": "Hi {{name|there}}, {{order}} shipped"}
    )
    assert created.status_code == 200, created.text
    body = created.json()
    assert body["variables"] == ["name", "order"] and body["required"] == ["order"]
    replaced = (await client.put("/v1/templates/shipped", json={"text": "{{order}} is out"})).json()
    assert replaced["created_at"] == body["created_at"]
    assert replaced["updated_at"] >= body["updated_at"]
    assert (await client.get("/v1/templates/shipped")).json()["text"] == "{{order}} is out"

    for name in ("a-1", "b.2", "c_3"):
        await client.put(f"/v1/templates/{name}", json={"text": "x"})
    page = (await client.get("/v1/templates", params={"limit": 2})).json()
    assert [t["name"] for t in page["templates"]] == ["a-1", "b.2"]
    rest = (await client.get("/v1/templates", params={"after": page["next_after"]})).json()
    assert [t["name"] for t in rest["templates"]] == ["c_3", "shipped"]
    assert rest["next_after"] is None

    assert (await client.delete("/v1/templates/shipped")).status_code == 204
    gone = await client.get("/v1/templates/shipped")
    assert gone.status_code == 404 and gone.json()["code"] == "template.not_found"
    again = await client.delete("/v1/templates/shipped")
    assert again.status_code == 404


@pytest.mark.parametrize(
    ("name", "text", "code"),
    [
        ("ok", "Hi {{name", "template.invalid"),
        ("ok", "", "request.validation_failed"),
        ("bad name!", "x", "request.validation_failed"),
        ("x" * 65, "x", "request.validation_failed"),
    ],
)
async def test_invalid_templates_and_names_are_refused(
    client: httpx.AsyncClient, name: str, text: str, code: str
) -> None:
    response = await client.put(f"/v1/templates/{name}", json={"text": text})
    assert response.status_code == 422 and response.json()["code"] == code
    assert (await client.get("/v1/templates")).json()["templates"] == []


async def test_another_accounts_template_is_not_found(
    client: httpx.AsyncClient, other: httpx.AsyncClient
) -> None:
    await client.put("/v1/templates/mine", json={"text": "Hi"})
    assert (await other.get("/v1/templates/mine")).status_code == 404
    assert (await other.delete("/v1/templates/mine")).status_code == 404
    refused = await other.post(
        "/v1/messages/batch", json={"from": "Acme", "template": "mine", "recipients": [{"to": DE}]}
    )
    assert refused.status_code == 404 and refused.json()["code"] == "template.not_found"
    assert (await other.get("/v1/templates")).json()["templates"] == []


async def test_a_batch_can_name_a_stored_template(
    priced: Gateway, client: httpx.AsyncClient
) -> None:
    await client.put("/v1/templates/code", json={"text": "Your code is {{code}}"})
    response = await client.post(
        "/v1/messages/batch",
        json={"from": "Acme", "template": "code", "recipients": [{"to": DE, "vars": {"code": 42}}]},
    )
    assert response.status_code == 202, response.text
    [result] = response.json()["results"]
    await wait_for_status(client, result["id"], "delivered")
    assert priced.simulator is not None
    [sent] = priced.simulator.stats.recent_submits
    text = decode_short_message(sent.short_message, data_coding=0, udhi=False, packed=False)
    assert text.text() == "Your code is 42"


@pytest.mark.parametrize("change", [{"template": "code"}, {"text": None}])
async def test_a_batch_takes_text_or_template_not_both(
    client: httpx.AsyncClient, change: dict[str, object]
) -> None:
    body = {"from": "Acme", "text": "Hi", "recipients": [{"to": DE}], **change}
    body = {k: v for k, v in body.items() if v is not None}
    response = await client.post("/v1/messages/batch", json=body)
    assert response.status_code == 422
    assert response.json()["code"] == "request.validation_failed"
    assert "either `text` or `template`" in response.json()["detail"]
