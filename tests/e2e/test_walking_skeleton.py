"""The gateway as a user runs it: a real process, HTTP in, the simulator upstream, a receipt back."""

from __future__ import annotations

import time
from pathlib import Path

from tests.e2e.harness import GatewayProcess, Process, free_port, wait_for_status

DEST = "+4915112345678"


def test_submitted_message_is_delivered(tmp_path: Path, database: dict[str, str]) -> None:
    gw = GatewayProcess(tmp_path, database_url=database.pop("GATEWAY_DATABASE_URL"), **database)
    gw.start()
    try:
        gw.wait_ready()
        with gw.client() as client:
            started = time.monotonic()
            response = client.post(
                "/v1/messages", json={"to": DEST, "from": "Acme", "text": "Hello from e2e"}
            )
            assert response.status_code == 202, response.text
            accepted = response.json()
            assert accepted["status"] == "accepted" and accepted["segments"] == 1
            body = wait_for_status(client, accepted["id"], "delivered", timeout=5)
            assert time.monotonic() - started < 2.0, "delivered later than two seconds"
            assert body["upstream_ids"] and body["parts"][0]["status"] == "delivered"
            assert body["submitted_at"] <= body["done_at"]

            long_text = "x" * 400  # GSM 7-bit: 3 segments of 153 septets
            response = client.post(
                "/v1/messages", json={"to": DEST, "from": "Acme", "text": long_text}
            )
            assert response.status_code == 202 and response.json()["segments"] == 3
            body = wait_for_status(client, response.json()["id"], "delivered")
            assert len(set(body["upstream_ids"])) == 3

            metrics = client.get("/metrics").text
            assert "gateway_messages_accepted_total" in metrics
            assert (
                'gateway_parts_final_total{connector="simulator",status="delivered"} 4.0' in metrics
            )
            assert (
                'gateway_parts_submitted_total{connector="simulator",outcome="accepted"}' in metrics
            )
            assert "gateway_submit_latency_seconds_bucket" in metrics
            assert 'gateway_upstream_binds_up{connector="simulator"} 1.0' in metrics
            ready = client.get("/readyz").json()
            assert ready["store"] == "ok" and ready["upstreams"]["simulator"][0]["state"] == "bound"
        assert gw.terminate() == 0, gw.output()
    finally:
        gw.kill()
    assert DEST not in gw.output(), "a full phone number reached the logs"


def test_errors_are_problem_json(tmp_path: Path) -> None:
    gw = GatewayProcess(tmp_path, database_url=f"sqlite:///{tmp_path}/gw.db")
    gw.start()
    try:
        gw.wait_ready()
        with gw.client() as client:
            cases = [
                (
                    client.post(
                        "/v1/messages",
                        headers={"Authorization": "Bearer nope"},
                        json={"to": DEST, "from": "Acme", "text": "x"},
                    ),
                    401,
                    "auth.unauthorized",
                ),
                (client.get("/v1/messages/01JDZZZZZZZZZZZZZZZZZZZZZZ"), 404, "message.not_found"),
                (client.get("/v1/messages/not-an-id"), 404, "message.not_found"),
                (
                    client.post(
                        "/v1/messages",
                        content=b"{not json",
                        headers={"Content-Type": "application/json"},
                    ),
                    400,
                    "request.malformed",
                ),
                (
                    client.post("/v1/messages", json={"to": "12345", "from": "Acme", "text": "x"}),
                    422,
                    "message.invalid_number",
                ),
                (
                    client.post("/v1/messages", json={"to": DEST, "from": "Acme", "text": ""}),
                    422,
                    "message.empty_text",
                ),
                (
                    client.post("/v1/messages", json={"to": DEST, "text": "x"}),
                    422,
                    "request.validation_failed",
                ),
            ]
            for response, status, code in cases:
                assert response.status_code == status, response.text
                assert response.headers["content-type"].startswith("application/problem+json")
                problem = response.json()
                assert problem["code"] == code and problem["status"] == status
                assert problem["title"] and problem["detail"] and problem["type"]
    finally:
        gw.terminate()
        gw.kill()


def test_acknowledged_message_survives_kill_9(tmp_path: Path, database: dict[str, str]) -> None:
    """202 then SIGKILL while the carrier is unreachable: after a restart it is still delivered."""
    sim_port = free_port()
    upstream = f"smpp://gateway:secret@127.0.0.1:{sim_port}?binds=1&window=10"
    db_url = database.pop("GATEWAY_DATABASE_URL")
    gw = GatewayProcess(tmp_path, database_url=db_url, GATEWAY_UPSTREAM=upstream, **database)
    simulator = Process(
        ["simulate", "--port", str(sim_port), "--password", "secret"], {}, tmp_path / "sim.log"
    )
    gw.start()
    try:
        gw.wait_ready()
        with gw.client() as client:
            ids = []
            for i in range(5):
                response = client.post(
                    "/v1/messages", json={"to": DEST, "from": "Acme", "text": f"survive {i}"}
                )
                assert response.status_code == 202, response.text
                ids.append(response.json()["id"])
        gw.kill()  # right after the 202s, with the upstream down: nothing was sent

        simulator.start()
        gw2 = GatewayProcess(tmp_path, database_url=db_url, GATEWAY_UPSTREAM=upstream, **database)
        gw2.key, gw2.env["GATEWAY_DEMO_KEY"] = gw.key, gw.key
        gw2.env["GATEWAY_NODE_ID"] = gw.env["GATEWAY_NODE_ID"]  # the same node comes back
        gw2.start()
        try:
            gw2.wait_ready()
            with gw2.client() as client:
                for message_id in ids:
                    wait_for_status(client, message_id, "delivered", timeout=15)
        finally:
            gw2.terminate()
            gw2.kill()
    finally:
        gw.kill()
        simulator.terminate()
        simulator.kill()
