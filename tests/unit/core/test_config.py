from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gateway.config import UpstreamConfig, load_settings
from gateway.domain import ConfigError

ROOT = Path(__file__).resolve().parents[3]


def test_defaults_are_the_embedded_setup(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GATEWAY_DATABASE_URL", "GATEWAY_UPSTREAM", "GATEWAY_HTTP_PORT"):
        monkeypatch.delenv(name, raising=False)
    s = load_settings()
    assert s.database_url.startswith("sqlite:///") and s.upstream == "simulator"
    assert (s.http_host, s.http_port, s.smpp_port, s.simulator_port) == (
        "127.0.0.1",
        8080,
        2775,
        2776,
    )


def test_upstream_url_is_parsed() -> None:
    u = UpstreamConfig.parse("smpp://user:p%40ss@smsc.example:2775?binds=2&window=10&tps=100")
    assert (u.kind, u.host, u.port, u.system_id, u.password) == (
        "smpp",
        "smsc.example",
        2775,
        "user",
        "p@ss",
    )
    assert (u.binds, u.window, u.tps) == (2, 10, 100.0)


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("GATEWAY_HTTP_PORT", "eighty", "GATEWAY_HTTP_PORT"),
        ("GATEWAY_HTTP_PORT", "70000", "GATEWAY_HTTP_PORT"),
        ("GATEWAY_DATABASE_URL", "mysql://x", "GATEWAY_DATABASE_URL"),
        ("GATEWAY_DATABASE_URL", "sqlite:///:memory:", "needs a file"),
        ("GATEWAY_UPSTREAM", "smpp://h?window=0", "GATEWAY_UPSTREAM"),
        ("GATEWAY_NO_SUCH_SETTING", "1", "GATEWAY_NO_SUCH_SETTING"),
    ],
)
def test_bad_setting_names_itself(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, words: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert words in info.value.detail


def test_toml_file_is_read_and_environment_wins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text("http_port = 9000\nsmpp_port = 2999\n")
    monkeypatch.setenv("GATEWAY_CONFIG_FILE", str(config))
    monkeypatch.setenv("GATEWAY_SMPP_PORT", "3000")
    s = load_settings()
    assert (s.http_port, s.smpp_port) == (9000, 3000)


def test_bad_configuration_exits_2_with_one_clear_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "run"],
        check=False,
        env={"GATEWAY_HTTP_PORT": "not-a-port", "PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "invalid setting GATEWAY_HTTP_PORT: Input should be a valid integer, unable to parse string as an integer"
    ]
    assert "Traceback" not in result.stderr


def test_upstream_url_passes_the_smpp_carrier_options_to_the_connector() -> None:
    upstream = UpstreamConfig.parse(
        "smpp://gw:pw@smsc.example:2775?binds=4&bind_mode=tx%2Brx&receivers=2&bind_rate=50"
        "&tls=true&tls_ca=/etc/ca.pem&source_ton=5&dest_npi=1&data_coding_gsm7=1"
    )
    assert upstream.binds == 4
    assert upstream.options == {
        "bind_mode": "tx+rx",
        "receivers": "2",
        "bind_rate": "50",
        "tls": "true",
        "tls_ca": "/etc/ca.pem",
        "source_ton": "5",
        "dest_npi": "1",
        "data_coding_gsm7": "1",
    }


def test_a_connector_option_refused_at_start_exits_2_with_one_clear_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "run"],
        check=False,
        env={
            "GATEWAY_UPSTREAM": "smpp://gw:pw@127.0.0.1:9?bind_mode=rx",
            "GATEWAY_HTTP_PORT": "0",
            "GATEWAY_SMPP_PORT": "0",
            "GATEWAY_LOG_LEVEL": "ERROR",
            "PATH": "/usr/bin:/bin",
        },
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "connector 'upstream': bind_mode must be trx or tx+rx, not 'rx'"
    )
    assert "Traceback" not in result.stderr


def test_secrets_can_come_from_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    admin = tmp_path / "admin_key"
    admin.write_text("from-a-file\n")  # the newline `echo` leaves is not part of the secret
    db = tmp_path / "db"
    db.write_text("postgresql://gw:pa ss@db.internal:5432/gw")
    monkeypatch.setenv("GATEWAY_ADMIN_KEY_FILE", str(admin))
    monkeypatch.setenv("GATEWAY_DATABASE_URL_FILE", str(db))
    monkeypatch.delenv("GATEWAY_ADMIN_KEY", raising=False)
    monkeypatch.delenv("GATEWAY_DATABASE_URL", raising=False)
    s = load_settings()
    assert s.admin_key is not None and s.admin_key.get_secret_value() == "from-a-file"
    assert s.database_url == "postgresql://gw:pa ss@db.internal:5432/gw"
    assert "from-a-file" not in repr(s)


def test_a_secret_set_twice_or_unreadable_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATEWAY_ADMIN_KEY_FILE", str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="GATEWAY_ADMIN_KEY_FILE: cannot read"):
        load_settings()
    (tmp_path / "key").write_text("k")
    monkeypatch.setenv("GATEWAY_ADMIN_KEY_FILE", str(tmp_path / "key"))
    monkeypatch.setenv("GATEWAY_ADMIN_KEY", "k")
    with pytest.raises(ConfigError, match="both set"):
        load_settings()
