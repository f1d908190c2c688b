"""How Vault's CLI prints an answer (TableFormatter.OutputSecret, OutputData, OutputList, PrintRawField).

A Key/Value table with warnings on stderr, or the api.Secret JSON; `-field` prints one bare value.
A list with no keys exits 2 (Vault's habit).
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from strongroom.cli.answer_fields import int_or_zero, object_field
from strongroom.cli.flags import GlobalFlags
from strongroom.cli.output import (
    EXIT_LOCAL,
    EXIT_REMOTE,
    WRAP_WIDTH,
    CommandFailed,
    fail,
    print_error,
    print_json,
    print_line,
    wrap_at_length,
)
from strongroom.cli.rendering import duration_value, go_format, go_quote_list, looks_like_duration, sort_deep
from strongroom.cli.tables import print_columns
from strongroom.logical.go import human_duration


def print_warnings(secret: dict[str, Any] | None) -> None:
    warnings = (secret or {}).get("warnings")
    if not isinstance(warnings, list) or not warnings:
        return
    print_error("WARNING! The following warnings were returned from Strongroom:\n")
    for warning in warnings:
        wrapped = wrap_at_length(f"* {warning}", WRAP_WIDTH - 2)
        print_error("\n".join("  " + line for line in wrapped.splitlines()))
        print_error("")


def data_rows(data: dict[str, Any]) -> list[tuple[str, str]]:
    """Sorted rows of a data map; TTL-looking keys shown as durations."""
    rows = []
    for key in sorted(data):
        value = data[key]
        if looks_like_duration(key):
            value = duration_value(value)
        rows.append((key, go_format(value)))
    return rows


def secret_rows(secret: dict[str, Any]) -> list[tuple[str, str]]:
    """The rows of TableFormatter.OutputSecret: lease, auth, wrapping information, then the data."""
    rows: list[tuple[str, str]] = []
    lease_duration = int_or_zero(secret.get("lease_duration"))
    if lease_duration > 0:
        if secret.get("lease_id"):
            rows += [
                ("lease_id", str(secret["lease_id"])),
                ("lease_duration", human_duration(lease_duration)),
                ("lease_renewable", go_format(bool(secret.get("renewable")))),
            ]
        else:
            rows.append(("refresh_interval", human_duration(lease_duration)))
    auth = secret.get("auth")
    if isinstance(auth, dict):
        mfa = auth.get("mfa_requirement")
        if isinstance(mfa, dict) and mfa:
            rows.append(("mfa_request_id", str(mfa.get("mfa_request_id", ""))))
        else:
            duration = int_or_zero(auth.get("lease_duration"))
            rows += [
                ("token", str(auth.get("client_token") or "")),
                ("token_accessor", str(auth.get("accessor") or "")),
                ("token_duration", human_duration(duration) if duration else "∞"),
                ("token_renewable", go_format(bool(auth.get("renewable")))),
                ("token_policies", go_quote_list(auth.get("token_policies"))),
                ("identity_policies", go_quote_list(auth.get("identity_policies"))),
                ("policies", go_quote_list(auth.get("policies"))),
            ]
            metadata = auth.get("metadata")
            if isinstance(metadata, dict):
                rows += [(f"token_meta_{key}", go_format(metadata[key])) for key in sorted(metadata)]
    wrap = secret.get("wrap_info")
    if isinstance(wrap, dict):
        rows += [
            ("wrapping_token:", str(wrap.get("token", ""))),
            ("wrapping_accessor:", str(wrap.get("accessor", ""))),
            ("wrapping_token_ttl:", human_duration(int_or_zero(wrap.get("ttl")))),
            ("wrapping_token_creation_time:", str(wrap.get("creation_time", ""))),
            ("wrapping_token_creation_path:", str(wrap.get("creation_path", ""))),
        ]
        if wrap.get("wrapped_accessor"):
            rows.append(("wrapped_accessor:", str(wrap["wrapped_accessor"])))
    data = secret.get("data")
    if isinstance(data, dict):
        rows += data_rows(data)
    return rows


_AUTH_FIELDS = (
    ("client_token", ""),
    ("accessor", ""),
    ("policies", None),
    ("token_policies", None),
    ("identity_policies", None),
    ("metadata", None),
    ("orphan", False),
    ("entity_id", ""),
    ("lease_duration", 0),
    ("renewable", False),
    ("mfa_requirement", None),
)
_WRAP_FIELDS = (
    ("token", ""),
    ("accessor", ""),
    ("ttl", 0),
    ("creation_time", ""),
    ("creation_path", ""),
    ("wrapped_accessor", ""),
)


def secret_json(secret: dict[str, Any]) -> dict[str, Any]:
    """The server's answer in the shape `vault ... -format=json` prints (Go's api.Secret)."""
    out: dict[str, Any] = {
        "request_id": secret.get("request_id", ""),
        "lease_id": secret.get("lease_id", ""),
        "lease_duration": secret.get("lease_duration", 0),
        "renewable": secret.get("renewable", False),
        "data": sort_deep(secret.get("data")),
        "warnings": secret.get("warnings"),
    }
    auth = secret.get("auth")
    if isinstance(auth, dict):
        out["auth"] = {key: sort_deep(auth.get(key, default)) for key, default in _AUTH_FIELDS}
    wrap = secret.get("wrap_info")
    if isinstance(wrap, dict):
        out["wrap_info"] = {key: wrap.get(key, default) for key, default in _WRAP_FIELDS}
    return out


def print_secret(flags: GlobalFlags, secret: dict[str, Any]) -> None:
    """OutputSecret: a Key/Value table (warnings on stderr) or the api.Secret JSON."""
    if flags.json:
        print_json(secret_json(secret))
        return
    print_warnings(secret)
    rows = secret_rows(secret)
    if rows:
        print_columns(rows, header=("Key", "Value"))


def print_data(flags: GlobalFlags, data: Any) -> None:
    """OutputData of a map: a sorted Key/Value table, or the map as JSON."""
    if flags.json:
        print_json(sort_deep(data))
        return
    if isinstance(data, dict) and data:
        print_columns(data_rows(data), header=("Key", "Value"))


def list_keys(secret: dict[str, Any] | None) -> list[Any] | None:
    data = (secret or {}).get("data")
    keys = data.get("keys") if isinstance(data, dict) else None
    return keys if isinstance(keys, list) else None


def print_list(flags: GlobalFlags, secret: dict[str, Any], path: str) -> None:
    """The end of `vault list`/`kv list`: `Keys` and the sorted keys, or the keys as JSON; exit 2 if none."""
    keys = list_keys(secret)
    if flags.json:
        if keys is None:
            print_json({})
            raise CommandFailed(EXIT_REMOTE)
        print_json(keys)
        return
    if keys is None:
        raise fail(f"No entries found at {path}", EXIT_REMOTE)
    print_warnings(secret)
    if keys:
        print_columns([(str(key),) for key in sorted(str(key) for key in keys)], header=("Keys",))


def raw_secret_field(secret: dict[str, Any], field: str) -> Any:
    """Vault's RawSecretField: token_* fields of an auth answer, lease_* fields, else the data's field."""
    data = object_field(secret, "data")
    auth = secret.get("auth")
    if isinstance(auth, dict):
        mapping = {
            "token": "client_token",
            "token_accessor": "accessor",
            "token_duration": "lease_duration",
            "token_renewable": "renewable",
            "token_policies": "token_policies",
            "identity_policies": "identity_policies",
            "policies": "policies",
        }
        if field in mapping:
            return auth.get(mapping[field])
        return data.get(field)
    special = {
        "lease_duration": "lease_duration",
        "lease_id": "lease_id",
        "request_id": "request_id",
        "renewable": "renewable",
        "refresh_interval": "lease_duration",
    }
    if field in special:
        return secret.get(special[field])
    if field == "data":
        return data.get("data", data)
    return data.get(field)


def print_field(flags: GlobalFlags, value: Any, field: str, kind: str) -> None:
    """PrintRawField: the bare value (no newline when piped, so `$(...)` gets it exactly) or its JSON."""
    if value is None:
        raise fail(f'Field "{field}" not present in {kind}', EXIT_LOCAL)
    text = json.dumps(sort_deep(value), indent=2) if flags.json else go_format(value)
    click.echo(text, nl=sys.stdout.isatty())


def print_secret_field(flags: GlobalFlags, secret: dict[str, Any], field: str) -> None:
    if not flags.json:
        print_warnings(secret)
    print_field(flags, raw_secret_field(secret, field), field, "secret")


def print_secret_or_field(flags: GlobalFlags, secret: dict[str, Any], field: str | None) -> None:
    """The answer as OutputSecret shows it, or only its `-field` (PrintRawField)."""
    if field:
        print_secret_field(flags, secret, field)
    else:
        print_secret(flags, secret)


def print_answer_or_success(
    flags: GlobalFlags, secret: dict[str, Any] | None, success: str, field: str | None = None
) -> None:
    """After a write or delete: the server's answer when it sent one, else `success` (nothing with JSON output)."""
    if secret is None:
        if not flags.json:
            print_line(success)
        return
    print_secret_or_field(flags, secret, field)
