"""deploy/compose.yaml, deploy/haproxy and deploy/k8s, checked without a container engine or a
cluster: against the compose-spec schema (vendored by check-jsonschema) and the Kubernetes
schemas (bundled by kubernetes-validate), for consistency with each other and the Dockerfile,
and by handing their GATEWAY_* settings to the gateway's own settings loader. Where `haproxy`
or `kubectl` is installed, those check their files too."""

from __future__ import annotations

import json
import re
import subprocess
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from gateway.config import Settings, load_settings
from tests.debian_tools import ensure_tool, tool_env

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
HAPROXY = DEPLOY / "haproxy" / "haproxy.cfg"
K8S = DEPLOY / "k8s"
KUBERNETES_VERSION = "1.30"
MANIFESTS = ["configmap.yaml", "secret.example.yaml", "deployment.yaml", "service.yaml", "pdb.yaml"]
_INTERPOLATION = re.compile(r"\$\{([A-Z_]+):-([^}]*)\}")


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = _yaml(COMPOSE)
    return data


def _manifest(name: str) -> dict[str, Any]:
    data: dict[str, Any] = _yaml(K8S / name)
    return data


def _interpolate(value: str) -> str:
    """Compose's `${NAME:-default}` with nothing set: the defaults."""
    assert "$" not in _INTERPOLATION.sub("", value), f"a variable without a default: {value}"
    return _INTERPOLATION.sub(lambda m: m.group(2), value)


def _settings_from(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    import os

    for name in list(os.environ):
        if name.startswith("GATEWAY_"):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return load_settings()


def _image_uid() -> int:
    match = re.search(r"useradd .*--uid (\d+)", (DEPLOY / "Dockerfile").read_text())
    assert match is not None
    return int(match.group(1))


def _seconds(value: str) -> float:
    match = re.fullmatch(r"(\d+)s", value)
    assert match is not None, value
    return float(match.group(1))


# -- compose ----------------------------------------------------------------------------------


def test_compose_file_matches_the_compose_specification() -> None:
    schema_file = resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(_compose()), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_compose_runs_two_gateways_behind_the_load_balancer_with_the_whole_stack() -> None:
    services = _compose()["services"]
    assert {
        "gateway-1",
        "gateway-2",
        "loadbalancer",
        "postgres",
        "redis",
        "prometheus",
        "grafana",
    } <= set(services)
    for name in ("gateway-1", "gateway-2"):
        gateway = services[name]
        assert gateway["build"]["dockerfile"] == "deploy/Dockerfile"
        # The build context is relative to the compose file, the Dockerfile to the context.
        assert (DEPLOY / gateway["build"]["context"] / gateway["build"]["dockerfile"]).is_file()
        assert "ports" not in gateway, "nodes are reached through the load balancer only"
    assert set(services["loadbalancer"]["ports"]) == {"8080:8080", "2775:2775", "8404:8404"}
    for service in services.values():
        for dependency in service.get("depends_on", {}):
            assert dependency in services


def test_compose_mounts_files_that_exist() -> None:
    for name, service in _compose()["services"].items():
        for volume in service.get("volumes", ()):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name} mounts missing {source}"


def test_compose_gateway_settings_are_accepted_by_the_gateway(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    services = _compose()["services"]
    node_ids = set()
    for name in ("gateway-1", "gateway-2"):
        env = {k: _interpolate(str(v)) for k, v in services[name]["environment"].items()}
        settings = _settings_from(env, monkeypatch)
        assert settings.database_url.startswith("postgresql://")
        assert settings.redis_url is not None
        assert settings.upstream_config.host == "simulator"
        node_ids.add(settings.effective_node_id)
        # Every shutdown stage may take the full timeout; compose must wait for all of them.
        grace = _seconds(services[name]["stop_grace_period"])
        assert grace > 3 * settings.shutdown_timeout
    assert node_ids == {"gateway-1", "gateway-2"}


def test_prometheus_scrapes_the_compose_gateways() -> None:
    services = _compose()["services"]
    config = _yaml(DEPLOY / "prometheus" / "prometheus.yml")
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "gateway"]
    for target in job["static_configs"][0]["targets"]:
        host, port = target.split(":")
        assert host in services and port in services[host]["expose"]


def test_grafana_gets_the_provisioning_and_the_dashboard() -> None:
    grafana = _compose()["services"]["grafana"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in grafana["volumes"] if v.startswith(".")}
    assert mounts["/etc/grafana/provisioning"] == "./grafana/provisioning"
    assert mounts["/var/lib/grafana/dashboards"] == "./grafana/dashboards"


# -- HAProxy ----------------------------------------------------------------------------------


def test_haproxy_balances_http_and_smpp_over_both_nodes_checking_readiness() -> None:
    config = HAPROXY.read_text(encoding="utf-8")
    services = _compose()["services"]
    for port in ("8080", "2775"):
        assert f"bind :{port}" in config
    servers = re.findall(r"^\s*server (\S+) (\S+):(\d+)", config, re.MULTILINE)
    assert sorted(servers) == sorted(
        [(n, n, p) for n in ("gateway-1", "gateway-2") for p in ("8080", "2775")]
    )
    for name, _, port in servers:
        assert port in services[name]["expose"]
    assert config.count("http-check send meth GET uri /readyz") == 2
    assert "balance leastconn" in config  # SMPP binds are long-lived


def test_haproxy_accepts_its_configuration() -> None:
    haproxy = ensure_tool(
        "haproxy", ["haproxy", "liblua5.3-0", "libopentracing-c-wrapper0", "libopentracing1"]
    )
    result = subprocess.run(
        [haproxy, "-c", "-f", str(HAPROXY)],
        check=False,
        capture_output=True,
        text=True,
        env=tool_env(),
    )
    assert result.returncode == 0, result.stdout + result.stderr


# -- Kubernetes -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", MANIFESTS)
def test_manifest_matches_the_kubernetes_schema(name: str) -> None:
    kubernetes_validate.validate(_manifest(name), KUBERNETES_VERSION, strict=True)


def test_kubernetes_schema_check_catches_a_misspelt_field() -> None:
    deployment = _manifest("deployment.yaml")
    deployment["spec"]["replica"] = deployment["spec"].pop("replicas")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_deployment_runs_two_non_root_replicas_with_probes_and_resources() -> None:
    deployment = _manifest("deployment.yaml")
    spec = deployment["spec"]
    pod = spec["template"]["spec"]
    (container,) = pod["containers"]
    assert spec["replicas"] == 2
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == _image_uid()
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(container["resources"][kind])
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": 8080, "smpp": 2775}


def test_termination_grace_outlasts_the_gateway_shutdown(monkeypatch: pytest.MonkeyPatch) -> None:
    pod = _manifest("deployment.yaml")["spec"]["template"]["spec"]
    env = {**_manifest("configmap.yaml")["data"], **_manifest("secret.example.yaml")["stringData"]}
    settings = _settings_from(env, monkeypatch)
    pre_stop = float(pod["containers"][0]["lifecycle"]["preStop"]["exec"]["command"][1])
    # HTTP, SMPP binds and dispatch each wait up to shutdown_timeout, after the preStop pause.
    assert pod["terminationGracePeriodSeconds"] > pre_stop + 3 * settings.shutdown_timeout


def test_service_and_budget_select_the_deployment_pods() -> None:
    deployment = _manifest("deployment.yaml")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    service = _manifest("service.yaml")
    assert service["spec"]["selector"].items() <= labels.items()
    assert {(p["name"], p["port"], p["targetPort"]) for p in service["spec"]["ports"]} == {
        ("http", 8080, "http"),
        ("smpp", 2775, "smpp"),
    }
    budget = _manifest("pdb.yaml")
    assert budget["spec"]["selector"] == deployment["spec"]["selector"]
    assert budget["spec"]["minAvailable"] < deployment["spec"]["replicas"]


def test_configmap_and_example_secret_are_a_valid_production_configuration(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    deployment = _manifest("deployment.yaml")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    sources = {next(iter(s)): s[next(iter(s))]["name"] for s in container["envFrom"]}
    config, secret = _manifest("configmap.yaml"), _manifest("secret.example.yaml")
    assert sources == {
        "configMapRef": config["metadata"]["name"],
        "secretRef": secret["metadata"]["name"],
    }
    env = {**config["data"], **secret["stringData"], "GATEWAY_NODE_ID": "smsgw-abc12"}
    settings = _settings_from(env, monkeypatch)
    assert settings.environment == "production"
    assert settings.http_host == settings.smpp_host == "0.0.0.0"
    assert settings.database_url.startswith("postgresql://")
    # The example holds placeholders, never something that could be a real secret.
    for value in secret["stringData"].values():
        assert "CHANGE-ME" in value


def test_kustomization_applies_every_manifest_but_the_secret_example() -> None:
    kustomization = _yaml(K8S / "kustomization.yaml")
    assert sorted(kustomization["resources"]) == sorted(
        m for m in MANIFESTS if m != "secret.example.yaml"
    )


def test_kubectl_builds_the_kustomization() -> None:
    # The python-svc image ships kubectl (google-cloud-cli); Debian's kubernetes-client (1.20)
    # is too old for this kustomization, so it is no fallback.
    kubectl = ensure_tool("kubectl", ["kubectl"])
    result = subprocess.run(
        [kubectl, "kustomize", str(K8S)], check=False, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    kinds = [doc["kind"] for doc in yaml.safe_load_all(result.stdout)]
    assert sorted(kinds) == ["ConfigMap", "Deployment", "PodDisruptionBudget", "Service"]


def test_dockerignore_keeps_what_the_dockerfile_copies() -> None:
    ignored = {
        line.strip()
        for line in (DEPLOY.parent / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    copied = re.findall(r"^COPY (?!--from)(.+) \S+$", (DEPLOY / "Dockerfile").read_text(), re.M)
    sources = [s for line in copied for s in line.split()]
    assert sources, "no COPY found"
    for source in sources:
        assert (DEPLOY.parent / source).exists(), source
        assert source not in ignored, f"{source} is copied but .dockerignore leaves it out"
    assert {".git", ".venv", "data"} <= ignored
