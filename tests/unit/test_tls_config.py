"""A TLS listener's client certificate and version settings (issue 13, item 17): read from the configuration and
applied to the listener's TLS context. The handshakes themselves are in tests/integration/test_tls_listener.py."""

from __future__ import annotations

import ssl

import pytest

from strongroom.config import parse_config
from strongroom.config.errors import ConfigError
from strongroom.serving import configure_tls

TLS = 'storage "inmem" {}\nlistener "tcp" { tls_cert_file = "c.pem"  tls_key_file = "k.pem" %s }'


def test_client_certificates_and_versions_are_read_as_vault_names_them() -> None:
    listener = parse_config(
        TLS % 'tls_require_and_verify_client_cert = true  tls_client_ca_file = "ca.pem"  tls_min_version = "tls13"'
    ).listeners[0]
    assert listener.tls_require_and_verify_client_cert
    assert listener.tls_client_ca_file == "ca.pem"
    assert (listener.tls_min_version, listener.tls_max_version) == ("tls13", "tls13")
    default = parse_config(TLS % "").listeners[0]
    assert not default.tls_require_and_verify_client_cert and not default.tls_disable_client_certs
    assert (default.tls_min_version, default.tls_max_version) == ("tls12", "tls13")
    assert not parse_config(TLS % "tls_disable_client_certs = true").warnings


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ("tls_require_and_verify_client_cert = true  tls_disable_client_certs = true", "mutually exclusive"),
        ('tls_min_version = "tls13"  tls_max_version = "tls12"', "is above tls_max_version"),
        ('tls_min_version = "tls14"', 'field "tls_min_version"'),
    ],
)
def test_contradictory_tls_settings_stop_the_server(fields: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(TLS % fields)


def test_the_listener_context_gets_the_versions_and_the_system_cas_when_no_ca_file_is_given() -> None:
    listener = parse_config(TLS % 'tls_require_and_verify_client_cert = true  tls_min_version = "tls13"').listeners[0]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    configure_tls(context, listener)
    assert context.minimum_version is ssl.TLSVersion.TLSv1_3
    assert context.maximum_version is ssl.TLSVersion.TLSv1_3
    system = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    system.load_default_certs(ssl.Purpose.CLIENT_AUTH)
    assert context.cert_store_stats() == system.cert_store_stats()
