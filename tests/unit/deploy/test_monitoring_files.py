"""deploy/grafana and deploy/prometheus: every file parses, every metric the dashboard and the
alert rules read is one the gateway exports, and the rules are well formed (and, where
`promtool` is installed, accepted and unit-tested by Prometheus itself)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

from gateway.metrics import Metrics
from tests.debian_tools import ensure_tool, tool_env

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "smsgw.json"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
PROMETHEUS = DEPLOY / "prometheus" / "prometheus.yml"
ALERTS_TEST = DEPLOY / "prometheus" / "alerts_test.yml"

# Series the files may read that gateway/metrics.py does not define: Prometheus' own scrape
# health, and the webhook outbox gauge the webhooks work adds.
NOT_FROM_METRICS_PY = {"up", "gateway_webhook_outbox_pending"}
# Labels Prometheus adds to every scraped series, and the histogram bucket bound.
TARGET_LABELS = {"instance", "job"}
SEVERITIES = {"critical", "warning", "info"}

_METRIC = re.compile(r"\b(gateway_[a-z0-9_]+|up)\b(?!\s*\()")
_SELECTOR = re.compile(r"\b(gateway_[a-z0-9_]+|up)\s*\{([^}]*)\}")
_MATCHER = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")
_DURATION = re.compile(r"^\d+[smhd]$")


def exported_series() -> dict[str, set[str]]:
    """Series names a scrape of the gateway can contain, with the labels each carries."""
    series: dict[str, set[str]] = {}
    suffixes = {
        "counter": ("_total", "_created"),
        "histogram": ("_bucket", "_sum", "_count", "_created"),
    }
    for collector in list(Metrics().registry._collector_to_names):
        for family in collector.describe():
            labels = set(getattr(collector, "_labelnames", ()))
            for suffix in suffixes.get(family.type, ("",)):
                extra = {"le"} if suffix == "_bucket" else set()
                series[family.name + suffix] = labels | extra
    return series


def dashboard_expressions() -> list[str]:
    board = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    exprs = [t["expr"] for p in board["panels"] for t in p.get("targets", ())]
    variables = board["templating"]["list"]
    return exprs + [v["definition"] for v in variables if v["type"] == "query"]


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))["groups"]
    return [rule for group in groups for rule in group["rules"]]


def _check_metrics(expr: str, where: str) -> None:
    exported = exported_series()
    names = set(_METRIC.findall(expr))
    assert names, f"{where}: reads no gateway metric: {expr}"
    for name in names - NOT_FROM_METRICS_PY:
        assert name in exported, f"{where}: {name} is not exported by gateway/metrics.py"
    for name, matchers in _SELECTOR.findall(expr):
        if name in NOT_FROM_METRICS_PY:
            continue
        for label in _MATCHER.findall(matchers):
            assert label in exported[name] | TARGET_LABELS, f"{where}: {name} has no {label!r}"


def test_exported_series_are_what_a_scrape_shows() -> None:
    """The derivation above against a real rendering, so the checks below test the truth."""
    metrics = Metrics()
    metrics.parts_submitted.labels(connector="c", outcome="accepted").inc()
    metrics.submit_latency.labels(connector="c").observe(0.1)
    metrics.ready.set(1)
    rendered = {
        line.split("{")[0].split(" ")[0]
        for line in metrics.render().decode().splitlines()
        if line and not line.startswith("#")
    }
    assert rendered <= set(exported_series())
    assert {
        "gateway_parts_submitted_total",
        "gateway_submit_latency_seconds_bucket",
        "gateway_ready",
    } <= rendered


def test_dashboard_reads_only_exported_metrics() -> None:
    exprs = dashboard_expressions()
    assert len(exprs) >= 30
    for expr in exprs:
        _check_metrics(expr, "dashboard")


def test_dashboard_covers_the_operating_signals() -> None:
    text = " ".join(dashboard_expressions())
    for signal in (
        "gateway_messages_accepted_total",  # throughput
        'gateway_parts_final_total{status="delivered"',  # delivery rate
        "gateway_submit_latency_seconds_bucket",  # latency histograms
        "gateway_delivery_latency_seconds_bucket",
        "gateway_store_queued_parts",  # queue depth
        "gateway_upstream_binds_up",  # connector binds
        'outcome="throttled"',  # throttles
        "gateway_smpp_server_binds",  # SMPP server
        "gateway_smpp_server_pdus_total",
    ):
        assert signal in text, signal


def test_dashboard_panels_are_laid_out_without_overlap() -> None:
    board = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert board["uid"] and board["title"]
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    taken: set[tuple[int, int]] = set()
    for panel in board["panels"]:
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["x"] + pos["w"] <= 24, panel["title"]
        cells = {(x, y) for x in range(pos["x"], pos["x"] + pos["w"])
                 for y in range(pos["y"], pos["y"] + pos["h"])}  # fmt: skip
        assert not cells & taken, f"{panel['title']} overlaps another panel"
        taken |= cells
        for target in panel.get("targets", ()):
            assert target["datasource"]["uid"] == "${datasource}"


def test_alert_rules_are_well_formed_and_read_exported_metrics() -> None:
    rules = alert_rules()
    names = [r["alert"] for r in rules]
    assert len(names) == len(set(names))
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert _DURATION.match(rule["for"]), rule["alert"]
        assert rule["labels"]["severity"] in SEVERITIES, rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
        _check_metrics(rule["expr"], rule["alert"])


def test_alert_rules_cover_the_failures_operators_page_on() -> None:
    by_metric = " ".join(r["expr"] for r in alert_rules())
    for needed in (
        "gateway_upstream_binds_up",  # connector down
        "gateway_parts_final_total",  # delivery-rate drop
        "gateway_store_queue_oldest_due_seconds",  # queue age
        "gateway_store_queued_parts",  # queue depth
        "gateway_webhook_outbox_pending",  # webhook backlog
        "gateway_ready",  # readiness failing
    ):
        assert needed in by_metric, needed


def test_prometheus_config_scrapes_every_node_and_loads_the_rules() -> None:
    config = yaml.safe_load(PROMETHEUS.read_text(encoding="utf-8"))
    assert config["rule_files"] == ["/etc/prometheus/alerts.yml"]
    (gateway,) = [j for j in config["scrape_configs"] if j["job_name"] == "gateway"]
    targets = gateway["static_configs"][0]["targets"]
    assert targets == ["gateway-1:8080", "gateway-2:8080"]


def test_grafana_provisioning_points_at_the_dashboard_and_prometheus() -> None:
    provisioning = DEPLOY / "grafana" / "provisioning"
    (source,) = yaml.safe_load((provisioning / "datasources" / "prometheus.yaml").read_text())[
        "datasources"
    ]
    assert (source["type"], source["uid"], source["url"]) == (
        "prometheus",
        "prometheus",
        "http://prometheus:9090",
    )
    (provider,) = yaml.safe_load((provisioning / "dashboards" / "smsgw.yaml").read_text())[
        "providers"
    ]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"


def _promtool(*args: str) -> None:
    promtool = ensure_tool("promtool", ["prometheus"])
    result = subprocess.run(
        [promtool, *args], check=False, capture_output=True, text=True, timeout=60, env=tool_env()
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_accepts_the_alert_rules() -> None:
    _promtool("check", "rules", str(ALERTS))


def test_alerts_fire_on_the_failures_they_describe() -> None:
    # deploy/prometheus/alerts_test.yml feeds series and says which alerts fire when.
    _promtool("test", "rules", str(ALERTS_TEST))


def test_promtool_parses_every_dashboard_query(tmp_path: Path) -> None:
    # Each query as a recording rule, with Grafana's variables given values, so promtool
    # parses it as PromQL.
    rules = [
        {
            "record": f"dashboard:query_{i}",
            "expr": expr.replace("$__rate_interval", "5m").replace("$connector", ".*"),
        }
        for i, expr in enumerate(dashboard_expressions())
        if not expr.startswith("label_values(")
    ]
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    _promtool("check", "rules", str(path))
