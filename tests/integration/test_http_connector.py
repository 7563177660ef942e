"""The HTTP carrier connector: request rendering and answer classification without a network,
then a whole gateway configured by connectors/http/example.toml against the test carrier."""

from __future__ import annotations

import asyncio
import copy
import hashlib
import hmac
import json
import time
import tomllib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.http import HttpConnector
from connectors.http.callback import CallbackParser
from connectors.http.options import CallbackOptions, ResponseOptions, parse_options
from connectors.http.render import PartNotRenderable, render_request
from connectors.http.response import ResponseReader
from gateway.app import Gateway
from gateway.config import load_settings
from gateway.connector import CallbackRejected, CallbackRequest
from gateway.domain import ConfigError, PartRecord, Status
from gateway.text import concat_udh, encode_text
from tests.conftest import DEMO_KEY
from tests.integration.http_carrier import CALLBACK_SECRET, TOKEN, TestCarrier

EXAMPLE = Path(__file__).parents[2] / "connectors" / "http" / "example.toml"
HANDSET = "+4915112345678"
OUR_NUMBER = "+4930123456789"

# -- helpers --------------------------------------------------------------------------------


def _example() -> dict[str, Any]:
    with EXAMPLE.open("rb") as f:
        return tomllib.load(f)


def _options(**changes: Any) -> dict[str, Any]:
    options = {
        "url": "https://api.carrier.example/v1/sms",
        "headers": {"Authorization": "Bearer t"},
        "template": {"to": "{to}", "text": "{text}", "ref": "{part_id}", "udh": "{udh_hex}"},
        "response": {"id": "messages.0.id", "error_code": "error.code"},
    }
    options.update(changes)
    return options


def _part(text: str, **fields: Any) -> PartRecord:
    encoded = encode_text(text)
    payload = b"".join(s.payload for s in encoded.segments)
    values: dict[str, Any] = {
        "message_id": "01HZZZZZZZZZZZZZZZZZZZZZZZ",
        "seq": 0,
        "total": 1,
        "account_id": "acct",
        "source": "Acme",
        "destination": HANDSET,
        "encoding": encoded.encoding.value,
        "data_coding": encoded.data_coding,
        "udh": b"",
        "payload": payload,
        "connector": "carrier",
        "priority": 1,
        "registered_delivery": True,
        "attempts": 0,
    }
    values.update(fields)
    return PartRecord(**values)


def _render(part: PartRecord, **changes: Any) -> Any:
    options, template = parse_options("carrier", _options(**changes))
    return render_request(part, options=options, template=template, callback_url=None)


def _reader(**options: Any) -> ResponseReader:
    return ResponseReader(ResponseOptions(**({"id": "messages.0.id"} | options)))


def _request(
    body: bytes = b"",
    *,
    path: str = "receipt",
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
) -> CallbackRequest:
    return CallbackRequest(
        method="POST", path=path, headers=headers or {}, query=query or {}, body=body
    )


# -- rendering ------------------------------------------------------------------------------


def test_json_template_renders_placeholders_and_keeps_numbers_typed() -> None:
    rendered = _render(
        _part("Hello"),
        template={
            "messages": [{"to": "{to_digits}", "body": "Text: {text} {{literal}}"}],
            "dc": "{data_coding}",
            "meta": {"id": "{message_id}", "n": "{seq}/{total}", "enc": "{encoding}"},
            "flag": True,
        },
    )
    assert rendered.method == "POST"
    assert rendered.json == {
        "messages": [{"to": "4915112345678", "body": "Text: Hello {literal}"}],
        "dc": 0,
        "meta": {"id": "01HZZZZZZZZZZZZZZZZZZZZZZZ", "n": "1/1", "enc": "gsm7"},
        "flag": True,
    }
    assert rendered.headers == {"Authorization": "Bearer t"}


def test_long_ucs2_payload_part_renders_the_whole_text() -> None:
    text = "Grüße aus Köln 😀 — " * 20  # UCS-2, many segments' worth
    part = _part(text)
    assert part.encoding == "ucs2" and len(part.payload) > 140
    rendered = _render(part)
    assert rendered.json["text"] == text
    assert rendered.json["udh"] == ""


def test_gsm7_extension_characters_decode_from_septets() -> None:
    rendered = _render(_part("Price: 5€ [ok] {x} ~"))
    assert rendered.json["text"] == "Price: 5€ [ok] {x} ~"


def test_a_segment_is_sent_with_its_own_text_and_its_concatenation_udh() -> None:
    text = "segment text " * 30
    encoded = encode_text(text)
    assert len(encoded.segments) > 1
    second = encoded.segments[1]
    udh = concat_udh(0x42, len(encoded.segments), 2)
    part = _part(text, seq=1, total=len(encoded.segments), udh=udh, payload=second.payload)
    rendered = _render(part)
    assert rendered.json["text"] == second.text
    assert rendered.json["udh"] == udh.hex()
    assert rendered.json["ref"] == "01HZZZZZZZZZZZZZZZZZZZZZZZ-2"


def test_national_shift_ie_is_used_to_decode_and_left_out_of_udh_hex() -> None:
    # Turkish single shift (TS 23.038 §A.2.1): ğ is 0x1B 0x67 in that table.
    udh = concat_udh(7, 2, 1, national=1, single=True)  # type: ignore[arg-type]
    part = _part("x", total=2, udh=udh, payload=b"\x1b\x67")
    rendered = _render(part)
    assert rendered.json["text"] == "ğ"
    assert rendered.json["udh"] == concat_udh(7, 2, 1).hex()


def test_segments_refuse_rejects_a_segment_permanently() -> None:
    udh = concat_udh(1, 2, 1)
    with pytest.raises(PartNotRenderable) as info:
        _render(_part("x", total=2, udh=udh), segments="refuse")
    assert info.value.raw_code == "segment_refused"


def test_binary_part_cannot_fill_text_but_can_go_as_hex() -> None:
    part = _part("x", encoding="binary", data_coding=4, payload=b"\x01\xff")
    with pytest.raises(PartNotRenderable):
        _render(part)
    rendered = _render(part, template={"hex": "{hex}", "dc": "{data_coding}"})
    assert rendered.json == {"hex": "01ff", "dc": 4}


def test_form_and_query_bodies_are_flat_strings_and_url_placeholders_are_quoted() -> None:
    rendered = _render(
        _part("a&b=c/d"),
        body="form",
        template={"To": "{to}", "Body": "{text}", "dc": "{data_coding}", "flag": False},
    )
    assert rendered.form == {"To": HANDSET, "Body": "a&b=c/d", "dc": "0", "flag": "false"}
    rendered = _render(
        _part("hi there"),
        method="GET",
        body="query",
        url="https://carrier.example/send/{to}/{text}",
        template={"u": "x"},
    )
    assert rendered.url == "https://carrier.example/send/%2B4915112345678/hi%20there"
    assert rendered.params == {"u": "x"}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"template": {"t": "{txt}"}}, "option template.t: unknown placeholder {txt}"),
        ({"body": "form", "template": {"a": {"b": "c"}}}, "option template.a: form and query"),
        ({"method": "GET"}, 'option options: method GET sends no body: use body = "query"'),
        ({"url": "ftp://x"}, "option url: must start with http"),
        ({"headers": {"Authorization": "Bearer ${NO_SUCH_VAR_XYZ}"}}, "NO_SUCH_VAR_XYZ is not set"),
        ({"response": {}}, "option response: set `id`"),
        ({"response": {"id_regex": "id="}}, "option response.id_regex: needs a group"),
        ({"concurrency": 0}, "option concurrency"),
        ({"callback": {"receipt": {}}}, "callbacks need `secret`"),
        ({"callback": {"secret": "short", "secret_header": "X"}}, "at least 16 characters"),
        ({"template": {"u": "{callback_url}"}}, "option callback_base_url"),
        ({"verify": False, "ca_file": "/etc/hostname"}, "choose one"),
        ({"timeoutt": 3}, "option timeoutt: Extra inputs are not permitted"),
    ],
)
def test_bad_options_name_the_option(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        HttpConnector(name="carrier", options=_options(**changes))
    assert message in str(info.value)
    assert "connector 'carrier'" in str(info.value)


def test_header_values_take_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARRIER_TOKEN", "s3cr3t")
    options, _ = parse_options(
        "carrier", _options(headers={"Authorization": "Bearer ${CARRIER_TOKEN}"})
    )
    assert options.headers == {"Authorization": "Bearer s3cr3t"}


def test_callback_url_placeholder_points_at_the_receipt_path() -> None:
    connector = HttpConnector(
        name="carrier",
        options=_options(
            template={"cb": "{callback_url}"},
            callback_base_url="https://gw.example/",
            callback={"secret": "x" * 16, "secret_header": "X-T"},
        ),
    )
    rendered = render_request(
        _part("x"),
        options=connector.options,
        template=connector._template,
        callback_url=connector._callback_url,
    )
    assert rendered.json == {"cb": "https://gw.example/v1/callbacks/carrier/receipt"}


# -- classification -------------------------------------------------------------------------


def test_2xx_with_an_id_is_accepted() -> None:
    outcome = _reader().classify(200, {}, b'{"messages": [{"id": 12345}]}')
    assert outcome.upstream_id == "12345" and outcome.error is None


def test_429_is_throttled_with_retry_after_in_the_detail() -> None:
    outcome = _reader(error_code="error.code").classify(
        429, {"retry-after": "7"}, b'{"error": {"code": "rate"}}'
    )
    assert outcome.error is not None
    assert outcome.error.throttled and outcome.error.temporary
    assert outcome.error.raw_code == "rate"
    assert "Retry-After: 7" in outcome.error.detail


@pytest.mark.parametrize("status", [500, 502, 503, 408])
def test_5xx_and_408_are_temporary(status: int) -> None:
    outcome = _reader().classify(status, {}, b"oops")
    assert outcome.error is not None and outcome.error.temporary
    assert not outcome.error.throttled
    assert outcome.error.raw_code == f"http_{status}"


def test_4xx_is_permanent_and_keeps_the_carriers_code_and_text() -> None:
    outcome = _reader(error_code="error.code", error_text="error.message").classify(
        400, {}, b'{"error": {"code": "21211", "message": "invalid To"}}'
    )
    assert outcome.error is not None and not outcome.error.temporary
    assert outcome.error.raw_code == "21211"
    assert outcome.error.detail == "carrier answered 400: invalid To"


def test_2xx_without_an_id_is_a_permanent_error_not_a_success() -> None:
    outcome = _reader().classify(200, {}, b"<html>welcome</html>")
    assert outcome.error is not None and not outcome.error.temporary
    assert outcome.error.raw_code == "no_id"


def test_text_bodies_use_regexes_and_body_codes_can_throttle() -> None:
    reader = _reader(id=None, id_regex=r"^OK ([0-9a-f]+)", error_regex=r"^ERR (\w+)")
    assert reader.classify(200, {}, b"OK 9f3a").upstream_id == "9f3a"
    throttling = _reader(error_code="status", throttle_codes=["1"], temporary_codes=["5"])
    outcome = throttling.classify(200, {}, b'{"status": "1"}')
    assert outcome.error is not None and outcome.error.throttled
    outcome = throttling.classify(200, {}, b'{"status": 5}')
    assert outcome.error is not None and outcome.error.temporary and not outcome.error.throttled
    outcome = reader.classify(400, {}, b"ERR BADNUM")
    assert outcome.error is not None and outcome.error.raw_code == "BADNUM"


def test_success_statuses_narrow_what_counts_as_accepted() -> None:
    reader = _reader(success_statuses=[201])
    assert reader.classify(201, {}, b'{"messages":[{"id":"a"}]}').upstream_id == "a"
    outcome = reader.classify(200, {}, b'{"messages":[{"id":"a"}]}')
    assert outcome.error is not None and outcome.error.raw_code == "http_200"


# -- callback parsing -----------------------------------------------------------------------

SECRET = "s" * 20


def _parser(**options: Any) -> CallbackParser:
    base: dict[str, Any] = {"secret": SECRET, "secret_header": "X-Token"}
    base.update(options)
    return CallbackParser("carrier", CallbackOptions.model_validate(base))


def test_shared_secret_in_header_or_query() -> None:
    parser = _parser()
    parser.authenticate(_request(headers={"x-token": SECRET}))
    with pytest.raises(CallbackRejected) as info:
        parser.authenticate(_request(headers={"x-token": SECRET[:-1] + "x"}))
    assert info.value.status == 401
    with pytest.raises(CallbackRejected):
        parser.authenticate(_request())
    by_query = _parser(secret_header=None, secret_query="token")
    by_query.authenticate(_request(query={"token": SECRET}))
    with pytest.raises(CallbackRejected):
        by_query.authenticate(_request(query={"token": "nope"}))


@pytest.mark.parametrize("encoding", ["hex", "base64"])
def test_hmac_signature_of_the_body(encoding: str) -> None:
    import base64

    key = "k" * 32
    parser = _parser(
        secret=None,
        secret_header=None,
        signature_secret=key,
        signature_header="X-Signature",
        signature_prefix="sha256=",
        signature_encoding=encoding,
    )
    body = b'{"id": "c1", "status": "DELIVRD"}'
    mac = hmac.new(key.encode(), body, hashlib.sha256).digest()
    value = mac.hex() if encoding == "hex" else base64.b64encode(mac).decode()
    parser.authenticate(_request(body, headers={"x-signature": "sha256=" + value}))
    for bad in ("sha256=" + "00" * 32, "sha256=zz", value, ""):
        with pytest.raises(CallbackRejected) as info:
            parser.authenticate(_request(body, headers={"x-signature": bad}))
        assert info.value.status == 401
    with pytest.raises(CallbackRejected):  # the same signature on another body
        parser.authenticate(_request(body + b" ", headers={"x-signature": "sha256=" + value}))


def test_receipts_map_carrier_words_to_the_lifecycle() -> None:
    parser = _parser(
        receipt={"items": "results", "id": "ref", "error_code": "err.code",
                 "statuses": {"OK": "delivered", "GONE": "expired"}},
    )  # fmt: skip
    data = parser.fields(
        _request(
            b'{"results": [{"ref": "a", "status": "OK"}, {"ref": 7, "status": "gone"},'
            b' {"ref": "c", "status": "UNDELIV", "err": {"code": 34}},'
            b' {"ref": "d", "status": "SOMETHING_NEW"}]}',
            headers={"content-type": "application/json"},
        )
    )
    receipts = parser.receipts(data)
    assert [(r.upstream_id, r.status, r.raw_state, r.error_code) for r in receipts] == [
        ("a", Status.DELIVERED, "OK", None),
        ("7", Status.EXPIRED, "gone", None),
        ("c", Status.UNDELIVERED, "UNDELIV", "34"),
        ("d", Status.SUBMITTED, "SOMETHING_NEW", None),
    ]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"{not json", "application/json"),
        (b'"a string"', "application/json"),
        (b'{"status": "DELIVRD"}', "application/json"),  # no id
        (b'{"id": {"nested": 1}, "status": "DELIVRD"}', "application/json"),
        (b'{"id": "' + b"x" * 100 + b'", "status": "DELIVRD"}', "application/json"),
        (b"\xff\xfe", "application/x-www-form-urlencoded"),
        (b"id=1", "application/x-www-form-urlencoded"),  # no status
        (b"[]", "application/json"),
        (b"[1, 2]", "application/json"),
    ],
)
def test_malformed_receipts_are_400_never_a_crash(body: bytes, content_type: str) -> None:
    parser = _parser()
    with pytest.raises(CallbackRejected) as info:
        parser.receipts(parser.fields(_request(body, headers={"content-type": content_type})))
    assert info.value.status == 400
    assert info.value.code == "callback.malformed"


def test_mo_from_a_form_with_numbers_without_plus() -> None:
    parser = _parser(mo={"from": "msisdn", "to": "to", "text": "text"})
    request = _request(
        "msisdn=4915112345678&to=4930123456789&text=Grüße+😀".encode(),
        path="mo",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    data = parser.fields(request)
    assert parser.kind(request, data) == "mo"
    part = parser.inbound(data, received_at=1.0)
    assert (part.source, part.destination, part.encoding) == (HANDSET, OUR_NUMBER, "ucs2")
    assert part.body.decode("utf-16-be") == "Grüße 😀"
    short = parser.inbound({"msisdn": "12345", "to": "+4930123456789", "text": "hi"}, received_at=1)
    assert (short.source, short.encoding, short.body) == ("12345", "gsm7", b"hi")


def test_a_shared_path_tells_receipts_from_mos_by_the_receipt_id() -> None:
    parser = _parser(receipt={"path": "", "id": "msgid"}, mo={"path": ""})
    receipt = _request(b'{"msgid": "1", "status": "DELIVRD"}', path="")
    mo = _request(b'{"from": "+4915112345678", "to": "+4930123456789", "text": "x"}', path="")
    assert parser.kind(receipt, parser.fields(receipt)) == "receipt"
    assert parser.kind(mo, parser.fields(mo)) == "mo"
    with pytest.raises(CallbackRejected) as info:
        parser.kind(_request(path="other"), {})
    assert info.value.status == 404


@settings(max_examples=300, deadline=None)
@given(
    body=st.one_of(
        st.binary(max_size=200),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=20),
            lambda inner: (
                st.lists(inner, max_size=4)
                | st.dictionaries(
                    st.sampled_from(["id", "status", "from", "to", "text", "x"]), inner
                )
            ),
            max_leaves=12,
        ).map(lambda v: json.dumps(v).encode()),
    ),
    content_type=st.sampled_from(["application/json", "application/x-www-form-urlencoded", ""]),
    path=st.sampled_from(["receipt", "mo", "other"]),
)
def test_any_callback_body_is_parsed_or_refused_never_crashes(
    body: bytes, content_type: str, path: str
) -> None:
    parser = _parser(mo={})
    request = _request(body, path=path, headers={"content-type": content_type})
    status = 200
    try:
        data = parser.fields(request)
        if parser.kind(request, data) == "receipt":
            parser.receipts(data)
        else:
            parser.inbound(data, received_at=1.0)
    except CallbackRejected as exc:
        status = exc.status
    assert status in (200, 400, 404)


class _FailingStore:
    """ConnectorEvents whose commit fails, as when the database is unreachable."""

    async def receipts_received(self, connector: str, receipts: Any) -> None:
        raise ConnectionError("store unreachable")

    async def inbound_received(self, connector: str, parts: Any) -> None:
        raise ConnectionError("store unreachable")


async def test_a_callback_that_cannot_be_committed_is_503_so_the_carrier_resends() -> None:
    connector = HttpConnector(
        name="carrier",
        options=_options(callback={"secret": SECRET, "secret_header": "X-Token", "mo": {}}),
    )
    receipt = _request(b'{"id": "c1", "status": "DELIVRD"}', headers={"x-token": SECRET})
    with pytest.raises(CallbackRejected) as info:
        await connector.handle_callback(receipt)  # not started
    assert (info.value.status, info.value.code) == (503, "callback.unavailable")
    await connector.start(_FailingStore())
    try:
        mo = _request(
            b'{"from": "+4915112345678", "to": "+4930123456789", "text": "hi"}',
            path="mo",
            headers={"x-token": SECRET},
        )
        for request in (receipt, mo):
            with pytest.raises(CallbackRejected) as info:
                await connector.handle_callback(request)
            assert (info.value.status, info.value.code) == (503, "callback.not_committed")
    finally:
        await connector.stop()


# -- the whole gateway against the test carrier ---------------------------------------------

Setup = Callable[..., Awaitable[tuple[Gateway, TestCarrier, httpx.AsyncClient]]]


@pytest.fixture
async def http_gateway(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Setup]:
    """Starts the test carrier and a gateway configured by example.toml (options may be
    changed per test); stops both afterwards."""
    import os

    for name in list(os.environ):
        if name.startswith("GATEWAY_"):
            monkeypatch.delenv(name)
    started: list[Any] = []

    async def setup(
        **changes: Any,
    ) -> tuple[Gateway, TestCarrier, httpx.AsyncClient]:
        carrier = TestCarrier()
        await carrier.start()
        started.append(carrier)
        monkeypatch.setenv("ACME_API_URL", carrier.url)
        monkeypatch.setenv("ACME_API_TOKEN", TOKEN)
        monkeypatch.setenv("ACME_CALLBACK_SECRET", CALLBACK_SECRET)
        config = copy.deepcopy(_example())
        config["connectors"]["acme_http"].update(changes)
        gateway = Gateway(
            load_settings(
                database_url=f"sqlite:///{tmp_path}/gw.db",
                http_port=0,
                simulator_port=0,
                smpp_port=0,
                demo_key=DEMO_KEY,
                node_id="http-itest",
                connectors=config["connectors"],
                routes=config["routes"],
                retry_base_delay=0.05,
                retry_max_delay=0.2,
                shutdown_timeout=2,
            )
        )
        await gateway.start()
        started.append(gateway)
        carrier.callback_url = f"http://127.0.0.1:{gateway.http_port}/v1/callbacks/acme_http"
        api = httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{gateway.http_port}",
            headers={"Authorization": f"Bearer {DEMO_KEY}"},
            timeout=10,
        )
        started.append(api)
        return gateway, carrier, api

    yield setup
    for thing in reversed(started):
        if isinstance(thing, httpx.AsyncClient):
            await thing.aclose()
        else:
            await thing.stop()


async def _submit(api: httpx.AsyncClient, text: str = "Hello from the HTTP carrier") -> str:
    response = await api.post("/v1/messages", json={"to": HANDSET, "from": "Acme", "text": text})
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


async def _wait_status(
    api: httpx.AsyncClient, message_id: str, status: str, timeout: float = 8.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = (await api.get(f"/v1/messages/{message_id}")).json()
        if body["status"] == status:
            return body
        await asyncio.sleep(0.03)
    raise AssertionError(f"message never reached {status}: {body}")


async def test_submit_is_delivered_through_the_receipt_callback(http_gateway: Setup) -> None:
    gateway, carrier, api = await http_gateway()
    message_id = await _submit(api)
    body = await _wait_status(api, message_id, "delivered")
    assert body["upstream_ids"] == ["c1"]
    assert body["parts"][0]["connector"] == "acme_http"
    assert carrier.requests == [
        {
            "to": HANDSET,
            "from": "Acme",
            "text": "Hello from the HTTP carrier",
            "reference": message_id,
            "udh": "",
        }
    ]
    assert carrier.callback_answers == [200]
    health = gateway.connectors["acme_http"].health()
    assert [(h.name, h.state) for h in health] == [("acme_http", "up")]


async def test_long_ucs2_text_arrives_whole_in_one_request(http_gateway: Setup) -> None:
    _, carrier, api = await http_gateway()
    text = "Привет из шлюза, длинное сообщение 😀. " * 8
    response = await api.post("/v1/messages", json={"to": HANDSET, "from": "Acme", "text": text})
    assert response.json()["segments"] > 1 and response.json()["encoding"] == "ucs2"
    await _wait_status(api, response.json()["id"], "delivered")
    assert len(carrier.requests) == 1
    assert carrier.requests[0]["text"] == text


async def test_429_is_throttled_then_delivered_without_counting_an_attempt(
    http_gateway: Setup,
) -> None:
    _, carrier, api = await http_gateway()
    carrier.answer("429")
    message_id = await _submit(api)
    body = await _wait_status(api, message_id, "delivered")
    assert len(carrier.requests) == 2
    assert body["parts"][0]["attempts"] == 1


async def test_500_is_retried_then_delivered(http_gateway: Setup) -> None:
    gateway, carrier, api = await http_gateway()
    carrier.answer("500")
    message_id = await _submit(api)
    body = await _wait_status(api, message_id, "delivered")
    assert len(carrier.requests) == 2
    assert body["parts"][0]["attempts"] == 2
    assert "internal (temporary)" in gateway.connectors["acme_http"].health()[0].detail


async def test_400_is_rejected_with_the_carriers_raw_code(http_gateway: Setup) -> None:
    _, carrier, api = await http_gateway()
    carrier.answer("400")
    message_id = await _submit(api)
    body = await _wait_status(api, message_id, "rejected")
    assert body["error_code"] == "21211"
    assert "invalid 'To' number" in body["error_detail"]
    assert len(carrier.requests) == 1


async def test_a_carrier_slower_than_the_timeout_is_retried(http_gateway: Setup) -> None:
    gateway, carrier, api = await http_gateway(timeout=0.3)
    carrier.answer("slow")
    started = time.monotonic()
    message_id = await _submit(api)
    body = await _wait_status(api, message_id, "delivered")
    assert body["parts"][0]["attempts"] == 2
    assert len(carrier.requests) == 2
    assert time.monotonic() - started < carrier.slow_delay + 3
    assert "timeout" in gateway.connectors["acme_http"].health()[0].detail


async def test_an_answer_without_an_id_is_rejected(http_gateway: Setup) -> None:
    _, carrier, api = await http_gateway()
    carrier.answer("bad_json")
    body = await _wait_status(api, await _submit(api), "rejected")
    assert body["error_code"] == "no_id"


async def test_bad_callback_secret_is_401_and_leaves_the_status(http_gateway: Setup) -> None:
    _, carrier, api = await http_gateway()
    carrier.send_receipts = False
    message_id = await _submit(api)
    await _wait_status(api, message_id, "submitted")
    for secret in ("wrong-secret-0123456789", ""):
        response = await carrier.post_receipt("c1", "DELIVRD", secret=secret)
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "callback.unauthorized"
        assert "www-authenticate" not in response.headers
    await asyncio.sleep(0.1)
    assert (await api.get(f"/v1/messages/{message_id}")).json()["status"] == "submitted"
    response = await carrier.post_receipt("c1", "UNDELIV", err="034")
    assert response.status_code == 200 and response.text == "OK"
    body = await _wait_status(api, message_id, "undelivered")
    assert body["parts"][0]["error_code"] == "034"


async def test_malformed_or_misdirected_callbacks_get_problems_not_500(
    http_gateway: Setup,
) -> None:
    gateway, carrier, _ = await http_gateway()
    base = carrier.callback_url
    good = {"X-Carrier-Token": CALLBACK_SECRET}
    async with httpx.AsyncClient(timeout=5) as client:
        cases = [
            (f"{base}/receipt", b"{not json", {"content-type": "application/json"}, 400),
            (
                f"{base}/receipt",
                b'{"status": "DELIVRD"}',
                {"content-type": "application/json"},
                400,
            ),
            (f"{base}/mo", b"msisdn=1", {"content-type": "application/x-www-form-urlencoded"}, 400),
            (f"{base}/elsewhere", b"{}", {}, 404),
            (f"{base}/receipt", b"x" * (64 * 1024 + 1), {}, 413),
            (base.replace("acme_http", "nobody"), b"{}", {}, 404),
            (base.replace("acme_http", "simulator"), b"{}", {}, 404),  # no callbacks there
        ]
        for url, body, headers, status in cases:
            response = await client.post(url, content=body, headers=good | headers)
            assert response.status_code == status, (url, body[:40], response.text)
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["status"] == status
        # GET with the fields in the query string works too (some carriers call back so).
        response = await client.get(
            f"{base}/receipt",
            params={"message_id": "unknown-id", "status": "DELIVRD"},
            headers=good,
        )
        assert response.status_code == 200
    parked = gateway.metrics.render().decode()
    assert 'gateway_receipts_total{connector="acme_http",outcome="parked"}' in parked


async def test_mo_callback_is_stored_for_the_account_owning_the_number(
    http_gateway: Setup,
) -> None:
    gateway, carrier, _ = await http_gateway()
    assert gateway.store is not None
    account = await gateway.store.get_account_by_name("demo")
    assert account is not None
    await gateway.store.add_number(number=OUR_NUMBER, account_id=account.id, now=time.time())
    response = await carrier.send_mo(
        msisdn=HANDSET.removeprefix("+"), recipient=OUR_NUMBER.removeprefix("+"), text="STOP ✋"
    )
    assert response.status_code == 200, response.text
    stored = await gateway.store.list_inbound(account_id=account.id, limit=10)
    assert [(m.source, m.destination, m.text, m.connector) for m in stored] == [
        (HANDSET, OUR_NUMBER, "STOP ✋", "acme_http")
    ]


async def test_example_config_loads_from_gateway_config_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("GATEWAY_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("GATEWAY_CONFIG_FILE", str(EXAMPLE))
    monkeypatch.setenv("ACME_API_URL", "https://api.carrier.example")
    monkeypatch.setenv("ACME_API_TOKEN", "token")
    monkeypatch.setenv("ACME_CALLBACK_SECRET", CALLBACK_SECRET)
    settings = load_settings()
    assert settings.connectors["acme_http"]["kind"] == "http"
    from gateway.connector import ConnectorRegistry

    options = {
        k: v for k, v in settings.connectors["acme_http"].items() if k not in ("kind", "rate")
    }
    connector = ConnectorRegistry.discover().build("http", name="acme_http", options=options)
    assert isinstance(connector, HttpConnector)
    assert connector.options.url == "https://api.carrier.example/v1/sms"
    assert connector.options.headers["Authorization"] == "Bearer token"
    assert connector.capacity == 8


async def test_concurrency_bounds_requests_in_flight_on_kept_alive_connections(
    http_gateway: Setup,
) -> None:
    _, carrier, api = await http_gateway(concurrency=2)
    carrier.answer(*["hold"] * 12)
    ids = await asyncio.gather(*(_submit(api, f"burst {i}") for i in range(12)))
    for message_id in ids:
        await _wait_status(api, message_id, "delivered")
    assert carrier.max_in_flight == 2
    assert len(carrier.client_ports) <= 2  # pooled connections, reused for every request


class _NoEvents:
    """A connector that only submits reports nothing; these tests need nowhere to report."""

    async def receipts_received(self, connector: str, receipts: Any) -> None:
        raise AssertionError("no receipt expected")

    async def inbound_received(self, connector: str, parts: Any) -> None:
        raise AssertionError("no MO expected")


async def test_tls_is_verified_by_default_and_ca_file_trusts_the_carrier(
    tls_cert: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    cert, key = tls_cert
    carrier = TestCarrier()
    await carrier.start(certfile=cert, keyfile=key)
    outcomes = []
    try:
        for extra in ({}, {"ca_file": cert}, {"verify": False}):
            connector = HttpConnector(
                name="tls",
                options=_options(
                    url=f"{carrier.url}/v1/sms", headers={"Authorization": f"Bearer {TOKEN}"}
                )
                | extra,
            )
            await connector.start(_NoEvents())
            try:
                outcomes.append(await connector.submit(_part("over TLS")))
            finally:
                await connector.stop()
    finally:
        await carrier.stop()
    refused, pinned, unverified = outcomes
    assert refused.error is not None and refused.error.raw_code == "connection"
    assert refused.error.temporary
    assert pinned.upstream_id == "c1"
    assert unverified.upstream_id == "c2"
    assert "TLS certificate verification is OFF" in caplog.text
    assert len(carrier.requests) == 2
