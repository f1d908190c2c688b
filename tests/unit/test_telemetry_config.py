"""The `telemetry` stanza and a listener's `telemetry { unauthenticated_metrics_access }`, as Vault spells them."""

from __future__ import annotations

import json

import pytest

from strongroom.config import ConfigError, TelemetryConfig, parse_config

LISTENER = 'listener "tcp" {\n  address = "127.0.0.1:8200"\n  tls_disable = true\n%s}\n'
STORAGE = 'storage "inmem" {}\n'


def test_without_a_stanza_vaults_defaults_apply() -> None:
    config = parse_config(STORAGE + LISTENER % "")
    assert config.telemetry == TelemetryConfig(prometheus_retention_time=24 * 3600, disable_hostname=False)
    assert config.listeners[0].unauthenticated_metrics_access is False
    assert config.warnings == ()


def test_the_stanza_and_the_listeners_block_are_read_in_hcl_and_json() -> None:
    text = (
        STORAGE
        + LISTENER % "  telemetry {\n    unauthenticated_metrics_access = true\n  }\n"
        + 'telemetry {\n  prometheus_retention_time = "30s"\n  disable_hostname = true\n'
        + '  statsd_address = "127.0.0.1:8125"\n}\n'
    )
    config = parse_config(text, source="server.hcl")
    assert config.telemetry == TelemetryConfig(prometheus_retention_time=30, disable_hostname=True)
    assert config.listeners[0].unauthenticated_metrics_access is True
    assert config.warnings == ('server.hcl: telemetry: unknown or unsupported field "statsd_address" ignored',)
    document = {
        "storage": {"inmem": {}},
        "listener": {
            "tcp": {
                "address": "127.0.0.1:8200",
                "tls_disable": True,
                "telemetry": {"unauthenticated_metrics_access": True},
            }
        },
        "telemetry": {"prometheus_retention_time": "0", "disable_hostname": True},
    }
    config = parse_config(json.dumps(document))
    assert config.telemetry == TelemetryConfig(prometheus_retention_time=0, disable_hostname=True)
    assert config.listeners[0].unauthenticated_metrics_access is True


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (STORAGE + LISTENER % "" + 'telemetry { disable_hostname = "maybe" }\n', "disable_hostname"),
        (STORAGE + LISTENER % "" + 'telemetry { prometheus_retention_time = "soon" }\n', "prometheus_retention_time"),
        (STORAGE + LISTENER % '  telemetry = "on"\n', "telemetry"),
        (STORAGE + LISTENER % "" + "telemetry {}\ntelemetry {}\n", "telemetry"),
    ],
)
def test_a_wrong_value_names_its_field(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(text)
