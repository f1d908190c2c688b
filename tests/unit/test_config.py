"""Loading Vault-style HCL/JSON configuration into strongroom.config dataclasses."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from strongroom.config import (
    AuditDeviceConfig,
    ConfigError,
    ListenerConfig,
    SealConfig,
    ServerConfig,
    StorageConfig,
    default_config,
    load_config,
    parse_config,
    parse_duration,
    worker_count,
)

EXAMPLE_HCL = """
storage "sqlite" {
  path = "./data/strongroom.db"
}
listener "tcp" {
  address         = "127.0.0.1:18200"
  cluster_address = "127.0.0.1:18201"
  tls_disable     = true
}
seal "static" {
  current_key_id = "k1"
  current_key    = "file://./unseal.key"
}
disable_mlock = true
api_addr     = "http://127.0.0.1:18200"
cluster_addr = "http://127.0.0.1:18201"
ui = false
log_level = "info"
default_lease_ttl = "768h"
unseal_progress_timeout = "15m"
"""

EXAMPLE_JSON = {
    "storage": {"sqlite": {"path": "./data/strongroom.db"}},
    "listener": [{"tcp": {"address": "127.0.0.1:18200", "cluster_address": "127.0.0.1:18201", "tls_disable": True}}],
    "seal": {"static": {"current_key_id": "k1", "current_key": "file://./unseal.key"}},
    "disable_mlock": True,
    "api_addr": "http://127.0.0.1:18200",
    "cluster_addr": "http://127.0.0.1:18201",
    "ui": False,
    "log_level": "info",
    "default_lease_ttl": "768h",
    "unseal_progress_timeout": "15m",
}

EXPECTED = ServerConfig(
    storage=StorageConfig(type="sqlite", options={"path": "./data/strongroom.db"}),
    listeners=(ListenerConfig(address="127.0.0.1:18200", cluster_address="127.0.0.1:18201", tls_disable=True),),
    seals=(
        SealConfig(
            type="static",
            disabled=False,
            options={"current_key_id": "k1", "current_key": "file://./unseal.key"},
        ),
    ),
    ui=False,
    api_addr="http://127.0.0.1:18200",
    cluster_addr="http://127.0.0.1:18201",
    disable_mlock=True,
    log_level="info",
    default_lease_ttl=768 * 3600,
    unseal_progress_timeout=15 * 60,
)

BASE = """
storage "inmem" {}
listener "tcp" { tls_disable = true }
"""

SENTINEL = "S3NT1NEL-do-not-print"


def parse(text: str) -> ServerConfig:
    return parse_config(text, source="config.hcl")


def error_of(text: str, *, is_json: bool = False) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source="config.hcl", is_json=is_json)
    message = str(caught.value)
    assert message.startswith("config.hcl: ")
    assert "\n" not in message
    return message


# --------------------------------------------------------------------------- happy paths


def test_example_hcl_parses_into_the_expected_dataclasses() -> None:
    config = parse(EXAMPLE_HCL)
    assert config == EXPECTED
    assert config.warnings == ()
    assert config.max_lease_ttl == 768 * 3600


def test_json_equivalent_gives_the_same_config() -> None:
    assert parse_config(json.dumps(EXAMPLE_JSON), source="config.json", is_json=True) == EXPECTED


def test_json_accepts_every_block_shape() -> None:
    shapes = [
        {"tcp": {"address": "127.0.0.1:1", "tls_disable": True}},
        {
            "tcp": [
                {"address": "127.0.0.1:1", "tls_disable": True},
                {"address": "127.0.0.1:2", "tls_disable": "true"},
            ]
        },
        [
            {"tcp": {"address": "127.0.0.1:1", "tls_disable": True}},
            {"tcp": {"address": "127.0.0.1:2", "tls_disable": 1}},
        ],
    ]
    for shape in shapes:
        document = {"storage": {"inmem": {}}, "listener": shape}
        config = parse_config(json.dumps(document), is_json=True)
        assert [listener.address for listener in config.listeners][:1] == ["127.0.0.1:1"]
    assert len(parse_config(json.dumps({"storage": {"inmem": {}}, "listener": shapes[2]}), is_json=True).listeners) == 2


def test_repeated_listener_blocks_stay_separate() -> None:
    # pyhcl on its own merges blocks sharing a label; two listeners must stay two.
    config = parse(
        """
        storage "inmem" {}
        listener "tcp" { address = "127.0.0.1:8200"  tls_disable = true }
        listener "tcp" {
          address = "0.0.0.0:8300"
          tls_cert_file = "/etc/strongroom/cert.pem"
          tls_key_file = "/etc/strongroom/key.pem"
          tls_min_version = "tls13"
        }
        """
    )
    assert config.listeners == (
        ListenerConfig(address="127.0.0.1:8200", tls_disable=True),
        ListenerConfig(
            address="0.0.0.0:8300",
            tls_cert_file="/etc/strongroom/cert.pem",
            tls_key_file="/etc/strongroom/key.pem",
            tls_min_version="tls13",
        ),
    )


def test_defaults() -> None:
    config = parse(BASE)
    assert config == ServerConfig(
        storage=StorageConfig(type="inmem", options={}),
        listeners=(ListenerConfig(tls_disable=True),),
        seals=(),
    )
    assert config.listeners[0].address == "127.0.0.1:8200"
    assert config.listeners[0].max_request_size == 32 * 1024 * 1024
    assert config.listeners[0].disable_unauthed_rekey_endpoints is True
    assert config.listeners[0].disable_unauthed_generate_root_endpoints is True
    assert config.listeners[0].http_read_header_timeout == 10
    assert config.disable_core_dump_protection is False
    assert (config.ui, config.disable_mlock, config.api_addr, config.pid_file) == (False, False, None, None)
    assert (config.default_lease_ttl, config.max_lease_ttl) == (2764800, 2764800)
    assert (config.log_level, config.log_format, config.unseal_progress_timeout) == ("info", "standard", 900)


def test_default_config(tmp_path: Path) -> None:
    config = default_config(tmp_path)
    assert config.storage == StorageConfig(type="sqlite", options={"path": str(tmp_path / "strongroom.db")})
    assert config.listeners == (ListenerConfig(address="127.0.0.1:8200", tls_disable=True),)
    assert config.seals == ()


def test_configs_are_frozen_and_hashable() -> None:
    config = parse(EXAMPLE_HCL)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.ui = True  # type: ignore[misc]
    assert hash(config) == hash(parse(EXAMPLE_HCL))


def test_load_config_picks_the_format_by_extension(tmp_path: Path) -> None:
    hcl_file = tmp_path / "server.hcl"
    hcl_file.write_text(EXAMPLE_HCL)
    json_file = tmp_path / "server.json"
    json_file.write_text(json.dumps(EXAMPLE_JSON))
    assert load_config(hcl_file) == dataclasses.replace(EXPECTED, config_path=str(hcl_file))
    assert load_config(str(json_file)) == dataclasses.replace(EXPECTED, config_path=str(json_file))


def test_load_config_errors_name_the_file(tmp_path: Path) -> None:
    for path, words in [
        (tmp_path / "missing.hcl", "not found"),
        (tmp_path, "is a directory"),
    ]:
        with pytest.raises(ConfigError, match=words) as caught:
            load_config(path)
        assert str(caught.value).startswith(str(path))
    broken = tmp_path / "broken.json"
    broken.write_text('{"storage": ')
    with pytest.raises(ConfigError, match=r"broken\.json: JSON syntax error at line 1"):
        load_config(broken)


def test_storage_options_are_strings_and_backend_is_an_alias() -> None:
    config = parse(
        """
        backend "postgresql" {
          connection_url = "postgres://u:p@db/strongroom"
          table = "vault_kv_store"
          ha_enabled = "true"
          max_parallel = 64
          skip_create_table = false
        }
        listener "tcp" { tls_disable = true }
        """
    )
    assert config.storage == StorageConfig(
        type="postgresql",
        options={
            "connection_url": "postgres://u:p@db/strongroom",
            "table": "vault_kv_store",
            "ha_enabled": "true",
            "max_parallel": "64",
            "skip_create_table": "false",
        },
    )
    assert any('"backend" is deprecated' in warning for warning in config.warnings)


def test_a_postgresql_block_may_leave_the_url_to_the_environment_and_ignores_upsert_function() -> None:
    config = parse(
        """
        storage "postgresql" {
          max_connections = 8
          upsert_function = "vault_kv_put"
        }
        listener "tcp" { tls_disable = true }
        """
    )
    assert config.storage == StorageConfig(type="postgresql", options={"max_connections": "8"})
    assert config.warnings == (
        'config.hcl: storage "postgresql": field "upsert_function" ignored: '
        "Strongroom writes with INSERT ... ON CONFLICT, and needs no function",
    )


def test_seal_types_and_their_options() -> None:
    transit = parse(BASE + 'seal "transit" { address = "https://vault:8200"  key_name = "autounseal" }')
    assert transit.seals == (
        SealConfig(
            "transit",
            False,
            {"address": "https://vault:8200", "key_name": "autounseal", "mount_path": "transit/"},
        ),
    )
    pkcs11 = parse(BASE + 'seal "pkcs11" { lib = "/usr/lib/softhsm.so"  slot = 0  key_label = "k"  pin = "1234" }')
    assert pkcs11.seals[0].options == {
        "lib": "/usr/lib/softhsm.so",
        "slot": "0",
        "key_label": "k",
        "pin": "1234",
    }
    assert parse(BASE + 'seal "pkcs11" { lib = "l"  token_label = "t"  key_label = "k" }').seals[0].type == "pkcs11"
    assert parse(BASE + 'seal "shamir" {}').seals == (SealConfig("shamir", False, {}),)


@pytest.mark.parametrize("disabled", ['"true"', "true", "1"])
def test_two_seals_with_one_disabled_is_a_migration(disabled: str) -> None:
    config = parse(
        BASE
        + f"""
        seal "transit" {{ address = "https://vault:8200"  key_name = "k"  disabled = {disabled} }}
        seal "static" {{ current_key_id = "k1"  current_key = "env://UNSEAL_KEY" }}
        """
    )
    assert [(seal.type, seal.disabled) for seal in config.seals] == [("transit", True), ("static", False)]


def test_unknown_fields_are_warnings() -> None:
    config = parse(
        BASE.replace("tls_disable = true", 'tls_disable = true  proxy_protocol_behavior = "use_always"')
        + 'telemetry { statsd_address = "localhost:8125" }\nplugin_directory = "/plugins"\n'
    )
    assert config.warnings == (
        'config.hcl: listener "tcp": unknown or unsupported field "proxy_protocol_behavior" ignored',
        'config.hcl: telemetry: unknown or unsupported field "statsd_address" ignored',
        'config.hcl: unknown or unsupported field "plugin_directory" ignored',
    )


def test_values_are_normalised() -> None:
    config = parse(
        BASE.replace(
            "tls_disable = true", 'tls_disable = "true"  max_request_size = -1  http_read_header_timeout = "1m30s"'
        )
        + 'log_level = "WARNING"\nlog_format = "json"\nmax_lease_ttl = 0\ndefault_lease_ttl = 3600\n'
        + 'disable_core_dump_protection = "true"\n'
    )
    assert config.log_level == "warn"
    assert config.log_format == "json"
    assert config.max_lease_ttl == 2764800  # 0 means the default, as in Vault
    assert config.default_lease_ttl == 3600
    assert config.listeners[0].max_request_size == -1
    assert config.listeners[0].http_read_header_timeout == 90
    assert config.disable_core_dump_protection is True


# --------------------------------------------------------------------------- errors

NO_STORAGE = 'config.hcl: no "storage" block: add e.g. storage "sqlite" { path = "/var/lib/strongroom/strongroom.db" }'


def test_missing_storage_block() -> None:
    assert error_of('listener "tcp" { tls_disable = true }') == NO_STORAGE
    assert error_of("") == NO_STORAGE


ERROR_CASES: list[tuple[str, str, list[str]]] = [
    # (name, configuration, words the message must contain)
    (
        "raft",
        'storage "raft" { path = "/x" }\nlistener "tcp" { tls_disable = true }',
        ['storage "raft"', "unsupported storage type", "sqlite"],
    ),
    (
        "sqlite path",
        'storage "sqlite" {}\nlistener "tcp" { tls_disable = true }',
        ['storage "sqlite"', 'missing required field "path"'],
    ),
    (
        "sqlite empty path",
        'storage "sqlite" { path = "" }\nlistener "tcp" { tls_disable = true }',
        ['storage "sqlite"', '"path" is empty'],
    ),
    (
        "postgresql pool size",
        'storage "postgresql" { max_connections = "many" }\nlistener "tcp" { tls_disable = true }',
        ['storage "postgresql"', '"max_connections"', "whole number"],
    ),
    ("two storages", BASE + 'storage "sqlite" { path = "x" }', ['2 "storage" blocks', "exactly one"]),
    ("storage and backend", BASE + 'backend "sqlite" { path = "x" }', ['"backend"', '"storage"']),
    (
        "unlabelled storage",
        'storage { path = "x" }\nlistener "tcp" { tls_disable = true }',
        ['"storage" block needs a type label'],
    ),
    ("no listener", 'storage "inmem" {}', ['no "listener" block']),
    (
        "unix listener",
        'storage "inmem" {}\nlistener "unix" { address = "/run/s.sock" }',
        ['listener "unix"', "unsupported listener type"],
    ),
    (
        "port not a number",
        BASE.replace("tls_disable = true", 'tls_disable = true  address = "127.0.0.1:abc"'),
        ['listener "tcp"', 'field "address"', '"abc"'],
    ),
    (
        "port out of range",
        BASE.replace("tls_disable = true", 'tls_disable = true  address = "127.0.0.1:70000"'),
        ['field "address"', "70000"],
    ),
    (
        "no port",
        BASE.replace("tls_disable = true", 'tls_disable = true  address = "localhost"'),
        ['field "address"', "no port"],
    ),
    (
        "url as address",
        BASE.replace("tls_disable = true", 'tls_disable = true  address = "http://a:1"'),
        ['field "address"', "is a URL"],
    ),
    (
        "bare ipv6",
        BASE.replace("tls_disable = true", 'tls_disable = true  address = "::1:8200"'),
        ['field "address"', "brackets"],
    ),
    (
        "cluster_address",
        BASE.replace("tls_disable = true", 'tls_disable = true  cluster_address = "x"'),
        ['field "cluster_address"'],
    ),
    (
        "tls cert",
        'storage "inmem" {}\nlistener "tcp" { tls_key_file = "k.pem" }',
        ['listener "tcp"', '"tls_cert_file" is not set', "tls_disable"],
    ),
    (
        "tls key",
        'storage "inmem" {}\nlistener "tcp" { tls_cert_file = "c.pem" }',
        ['listener "tcp"', '"tls_key_file" is not set'],
    ),
    (
        "tls_disable type",
        'storage "inmem" {}\nlistener "tcp" { tls_disable = "sure" }',
        ['field "tls_disable"', '"sure"'],
    ),
    (
        "tls_min_version",
        BASE.replace("tls_disable = true", 'tls_disable = true  tls_min_version = "ssl3"'),
        ['field "tls_min_version"', "tls12"],
    ),
    (
        "max_request_size",
        BASE.replace("tls_disable = true", 'tls_disable = true  max_request_size = "big"'),
        ['field "max_request_size"', "whole number"],
    ),
    (
        "client certs",
        BASE.replace("tls_disable = true", "tls_disable = true  tls_require_and_verify_client_cert = true"),
        ['"tls_require_and_verify_client_cert"', "need TLS", "tls_disable = true"],
    ),
    (
        "second listener named",
        BASE + 'listener "tcp" { address = "127.0.0.1:x"  tls_disable = true }',
        ['listener "tcp" #2', 'field "address"'],
    ),
    (
        "seal type",
        BASE + 'seal "awskms" { kms_key_id = "k" }',
        ['seal "awskms"', "unsupported seal type", "transit"],
    ),
    (
        "transit address",
        BASE + 'seal "transit" { key_name = "k" }',
        ['seal "transit"', 'missing required field "address"'],
    ),
    (
        "transit key_name",
        BASE + 'seal "transit" { address = "https://vault:8200" }',
        ['seal "transit"', 'missing required field "key_name"'],
    ),
    (
        "transit bad address",
        BASE + 'seal "transit" { address = "vault"  key_name = "k" }',
        ['seal "transit"', 'field "address"', "URL"],
    ),
    (
        "pkcs11 lib",
        BASE + 'seal "pkcs11" { slot = "0"  key_label = "k" }',
        ['seal "pkcs11"', 'missing required field "lib"'],
    ),
    (
        "pkcs11 key_label",
        BASE + 'seal "pkcs11" { lib = "l"  slot = "0" }',
        ['seal "pkcs11"', 'missing required field "key_label"'],
    ),
    (
        "pkcs11 slot",
        BASE + 'seal "pkcs11" { lib = "l"  key_label = "k" }',
        ['seal "pkcs11"', '"slot" or "token_label"'],
    ),
    (
        "static key id",
        BASE + 'seal "static" { current_key = "env://K" }',
        ['seal "static"', 'missing required field "current_key_id"'],
    ),
    (
        "static key",
        BASE + 'seal "static" { current_key_id = "k1" }',
        ['seal "static"', 'missing required field "current_key"'],
    ),
    (
        "static previous",
        BASE + 'seal "static" { current_key_id = "k2"  current_key = "env://K"  previous_key = "env://P" }',
        ['seal "static"', '"previous_key_id" is missing'],
    ),
    (
        "seal disabled type",
        BASE + 'seal "shamir" { disabled = "maybe" }',
        ['seal "shamir"', 'field "disabled"'],
    ),
    (
        "two seals none disabled",
        BASE + 'seal "static" { current_key_id = "a"  current_key = "env://A" '
        '}\nseal "static" { current_key_id = "b"  current_key = "env://B" }',
        ['two "seal" blocks', "neither", "disabled"],
    ),
    (
        "two seals both disabled",
        BASE + 'seal "shamir" { disabled = true }\nseal "static" { current_key_id '
        '= "b"  current_key = "env://B"  disabled = "true" }',
        ["both", "disabled"],
    ),
    (
        "three seals",
        BASE + 'seal "shamir" {}\nseal "shamir" {}\nseal "shamir" { disabled = true }',
        ['3 "seal" blocks', "at most two"],
    ),
    ("ui", BASE + 'ui = "maybe"', ['field "ui"', '"maybe"']),
    ("disable_mlock", BASE + "disable_mlock = 7", ['field "disable_mlock"']),
    (
        "default_lease_ttl",
        BASE + 'default_lease_ttl = "banana"',
        ['field "default_lease_ttl"', "invalid duration", '"banana"'],
    ),
    ("max_lease_ttl", BASE + 'max_lease_ttl = "-1h"', ['field "max_lease_ttl"', "negative"]),
    (
        "ttl order",
        BASE + 'default_lease_ttl = "48h"\nmax_lease_ttl = "24h"',
        ['"default_lease_ttl"', '"max_lease_ttl"'],
    ),
    ("unseal timeout", BASE + 'unseal_progress_timeout = "0s"', ['field "unseal_progress_timeout"']),
    ("log_level", BASE + 'log_level = "loud"', ['field "log_level"', "debug"]),
    ("log_format", BASE + 'log_format = "xml"', ['field "log_format"', "standard"]),
    ("api_addr", BASE + 'api_addr = "127.0.0.1:8200"', ['field "api_addr"', "URL"]),
    ("cluster_name", BASE + "cluster_name = 5", ['field "cluster_name"', "string"]),
    ("pid_file", BASE + "pid_file = [1]", ['field "pid_file"']),
    ("duplicate field", BASE + "ui = true\nui = false", ['field "ui"', "2 times"]),
    ("hcl syntax", BASE + 'ui = \nstorage "x" {\n  path = }', ["HCL syntax error", "line 6, column 10"]),
    ("hcl unterminated", BASE + 'api_addr = "http://x', ["HCL syntax error", "closing string quote"]),
]


@pytest.mark.parametrize(("text", "words"), [case[1:] for case in ERROR_CASES], ids=[case[0] for case in ERROR_CASES])
def test_errors_name_the_file_block_and_field(text: str, words: list[str]) -> None:
    message = error_of(text)
    for word in words:
        assert word in message, message


def test_json_errors() -> None:
    assert "JSON syntax error at line 1, column 13" in error_of('{"storage": }', is_json=True)
    assert "must be an object" in error_of("[]", is_json=True)
    assert 'duplicate key "ui"' in error_of('{"ui": true, "ui": false}', is_json=True)
    document = dict(EXAMPLE_JSON, default_lease_ttl="banana")
    assert 'field "default_lease_ttl"' in error_of(json.dumps(document), is_json=True)


# --------------------------------------------------------------------------- secrets


SECRET_CASES = [
    # a secret with a wrong type
    BASE + f'seal "pkcs11" {{ lib = "l"  slot = 0  key_label = "k"  pin = ["{SENTINEL}"] }}',
    BASE + f'seal "transit" {{ address = "https://v:8200"  key_name = "k"  token = {{ id = "{SENTINEL}" }} }}',
    BASE + f'seal "static" {{ current_key_id = "k1"  current_key = ["{SENTINEL}"] }}',
    f'storage "postgresql" {{ connection_url = ["postgres://u:{SENTINEL}@db/x"] }}\n'
    'listener "tcp" { tls_disable = true }',
    # a secret beside another field's error
    BASE + f'seal "transit" {{ address = "https://v:8200"  token = "{SENTINEL}" }}',
    BASE + f'seal "pkcs11" {{ lib = "l"  key_label = "k"  pin = "{SENTINEL}" }}',
    f'storage "postgresql" {{ connection_url = "postgres://u:{SENTINEL}@db/x"  max_parallel = "lots" }}\n'
    'listener "tcp" { tls_disable = true }',
    # a secret in a broken file
    BASE + f'seal "pkcs11" {{ pin = "{SENTINEL}',
    BASE + f'seal "pkcs11" {{ pin = "{SENTINEL}" ! }}',
]


@pytest.mark.parametrize("text", SECRET_CASES)
def test_secret_values_never_appear_in_errors(text: str) -> None:
    message = error_of(text)
    assert SENTINEL not in message
    assert "S3NT" not in message


def test_secret_values_never_appear_in_json_errors() -> None:
    text = json.dumps({"storage": {"inmem": {}}, "seal": {"pkcs11": {"pin": SENTINEL}}})
    assert SENTINEL not in error_of(text[:-3] + " oops}}}", is_json=True)
    assert SENTINEL not in error_of(text, is_json=True)  # no listener, and missing lib


_ERROR_TEMPLATE_WORDS = ("transit", "pkcs11", "address", "seal", "config", "field", "expected", "https", "strongroom")


@given(
    secret=st.text(min_size=4).filter(lambda s: s.strip() != "" and not any(s in w for w in _ERROR_TEMPLATE_WORDS)),
    field=st.sampled_from(["pin", "token"]),
)
def test_secret_scalars_never_leak_property(secret: str, field: str) -> None:
    """A secret that happens to be a word of the error's own text would 'appear' in it; those are excluded."""
    seal = {
        "pin": {"pkcs11": {"lib": 7.5, "pin": secret}},
        "token": {"transit": {"address": "x", "token": secret}},
    }[field]
    document = {"storage": {"inmem": {}}, "listener": {"tcp": {"tls_disable": True}}, "seal": seal}
    with pytest.raises(ConfigError) as caught:
        parse_config(json.dumps(document), is_json=True)
    assert json.dumps(secret) not in str(caught.value)
    if len(secret) >= 8:
        assert secret not in str(caught.value)


def test_secrets_are_redacted_in_reprs() -> None:
    config = parse(
        f'storage "postgresql" {{ connection_url = "postgres://u:{SENTINEL}@db/x" }}\n'
        'listener "tcp" { tls_disable = true }\n'
        f'seal "transit" {{ address = "https://v:8200"  key_name = "k"  token = "{SENTINEL}" }}'
    )
    assert SENTINEL not in repr(config)
    assert config.seals[0].options["token"] == SENTINEL


# --------------------------------------------------------------------------- durations


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (0, 0),
        (90, 90),
        ("90", 90),
        ("30s", 30),
        ("15m", 900),
        ("768h", 2764800),
        ("1h30m", 5400),
        ("1.5h", 5400),
        ("1d", 86400),
        ("7d12h", 7 * 86400 + 12 * 3600),
        ("2000ms", 2),
        (" 10m ", 600),
    ],
)
def test_parse_duration(value: str | int, seconds: int) -> None:
    assert parse_duration(value, field="ttl") == seconds


@pytest.mark.parametrize("value", ["", "banana", "-5s", "5x", "1h 30m", "1500ms", "h", True, -1, [1], None, 1.5])
def test_parse_duration_rejects(value: object) -> None:
    with pytest.raises(ValueError, match='field "ttl"') as caught:
        parse_duration(value, field="ttl")  # type: ignore[arg-type]
    assert isinstance(caught.value, ConfigError)


@given(st.integers(0, 10_000), st.integers(0, 59), st.integers(0, 59))
def test_parse_duration_compound_property(hours: int, minutes: int, seconds: int) -> None:
    assert parse_duration(f"{hours}h{minutes}m{seconds}s", field="ttl") == hours * 3600 + minutes * 60 + seconds


_SQLITE_LISTENER = (
    'storage "sqlite" { path = "/tmp/x.db" }\nlistener "tcp" { address = "127.0.0.1:1" tls_disable = true }\n'
)


def test_workers_default_to_one_per_cpu_and_inmem_is_one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1, 2})
    assert worker_count(parse_config(_SQLITE_LISTENER)) == 3
    assert worker_count(parse_config(_SQLITE_LISTENER + "workers = 1")) == 1
    assert worker_count(parse_config(_SQLITE_LISTENER + 'workers = "5"')) == 5
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(64)))
    assert worker_count(parse_config(_SQLITE_LISTENER)) == 16
    inmem = 'storage "inmem" {}\nlistener "tcp" { address = "127.0.0.1:1" tls_disable = true }\n'
    assert worker_count(parse_config(inmem)) == 1


@pytest.mark.parametrize(
    ("setting", "words"),
    [
        ("workers = 0", "must be between 1 and 16"),
        ("workers = 17", "must be between 1 and 16"),
        ('workers = "many"', "a whole number"),
    ],
)
def test_bad_workers_settings_are_refused(setting: str, words: str) -> None:
    assert words in error_of(_SQLITE_LISTENER + setting)


def test_several_workers_need_storage_they_can_share() -> None:
    text = 'storage "inmem" {}\nlistener "tcp" { address = "127.0.0.1:1" tls_disable = true }\nworkers = 2'
    assert "inmem storage lives in one process" in error_of(text)


# --------------------------------------------------------------------------- audit devices


def test_audit_blocks_take_openbaos_two_labels_in_hcl_and_json() -> None:
    config = parse(
        BASE
        + """
        audit "file" "to-file" {
          description = "hashed"
          local = true
          options {
            file_path = "/var/log/strongroom/audit.log"
            log_raw = false
            mode = 600
          }
        }
        audit "file" "to-stdout/" { options = { file_path = "stdout" } }
        unsafe_allow_api_audit_creation = true
        allow_audit_log_prefixing = "true"
        allowed_audit_directory = "/var/log/strongroom"
        """
    )
    assert config.audit_devices == (
        AuditDeviceConfig(
            "file",
            "to-file/",
            "hashed",
            True,
            {"file_path": "/var/log/strongroom/audit.log", "log_raw": "false", "mode": "600"},
        ),
        AuditDeviceConfig("file", "to-stdout/", options={"file_path": "stdout"}),
    )
    assert config.unsafe_allow_api_audit_creation and config.allow_audit_log_prefixing
    assert config.allowed_audit_directory == "/var/log/strongroom" and config.warnings == ()
    as_json = {
        "storage": {"inmem": {}},
        "listener": {"tcp": {"tls_disable": True}},
        "audit": [{"file": {"to-stdout": {"description": "d", "options": {"file_path": "/dev/stdout"}}}}],
    }
    assert parse_config(json.dumps(as_json)).audit_devices == (
        AuditDeviceConfig("file", "to-stdout/", "d", options={"file_path": "/dev/stdout"}),
    )
    defaults = parse(BASE)
    assert defaults.audit_devices == () and defaults.allowed_audit_directory is None
    assert not defaults.unsafe_allow_api_audit_creation and not defaults.allow_audit_log_prefixing


@pytest.mark.parametrize(
    ("block", "problem"),
    [
        ('audit "file" { options { file_path = "x" } }', 'an "audit" block takes two labels'),
        ('audit "file" { description = "x" }', 'an "audit" block takes two labels'),
        ('audit "kafka" "s" { options { tag = "x" } }', 'unsupported audit device type "kafka": use "file", "socket"'),
        (
            'audit "file" "a" { options { file_path = "x" } }\naudit "file" "a/" { options { file_path = "y" } }',
            'two "audit" blocks have the path "a/"',
        ),
        ('audit "file" "a" { options = "x" }', 'audit "file" "a": field "options": expected a block'),
        ('audit "file" "a" { options { file_path = ["x"] } }', 'field "file_path": expected a single value'),
    ],
)
def test_audit_block_errors_name_the_block(block: str, problem: str) -> None:
    assert problem in error_of(BASE + block)
