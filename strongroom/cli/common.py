"""What the Vault-style commands (secrets, kv, token, policy, auth, audit, login, read/write/...) share.

* click habits of Vault's CLI: `-flag=false` for boolean flags, durations as `30`, `90s` or `1h30m`,
  repeated `-options=k=v` pairs;
* the request helpers with Vault's api.Logical semantics (a 404 without data is "no value", not an error);
* the output of Vault's TableFormatter: Go's `%v` rendering of values, human durations, columnize
  tables with `n/a` for empty cells, `=== Title ===` headers and the api.Secret JSON shape;
* kvbuilder's `key=value`, `key=@file`, `key=-` and `-` (a JSON object on stdin) arguments.

Failures end as one line on stderr: exit 1 when a request failed, 2 for usage errors and for
"No value found" (Vault's habit).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import click

from strongroom.cli.client import ApiError, Client, ClientError, ConfigurationError
from strongroom.cli.flags import GlobalFlags
from strongroom.cli.output import (
    EMPTY,
    EXIT_ERROR,
    EXIT_USAGE,
    GLUE,
    WRAP_WIDTH,
    CommandFailed,
    fail,
    print_error,
    print_json,
    print_line,
    wrap_at_length,
)
from strongroom.logical.go import (
    DurationError,
    format_go_duration,
    go_quoted_list,
    human_duration,
    parse_truncated_duration_seconds,
)

# --- click: Vault's flag habits ------------------------------------------------------------------------

_TRUE = {"1", "t", "true", "y", "yes", "on"}
_FALSE = {"0", "f", "false", "n", "no", "off"}


def parse_flag_bool(value: str, name: str, ctx: click.Context | None = None) -> bool:
    """A boolean flag value the way Go's strconv.ParseBool reads it (a little more leniently)."""
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise click.UsageError(f"Invalid value for '{name}': invalid boolean value {value!r}", ctx)


class VaultCommand(click.Command):
    """A command whose boolean flags also take `-flag=true|false`, as Go's flag package allows."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        flags: dict[str, click.Option] = {}
        for param in self.params:
            if isinstance(param, click.Option) and param.is_flag and not param.count:
                for opt in param.opts:
                    flags[opt] = param
        overrides: dict[str, bool] = {}
        kept: list[str] = []
        for index, arg in enumerate(args):
            if arg == "--":
                kept.extend(args[index:])
                break
            name, sep, value = arg.partition("=")
            if sep and name in flags:
                option = flags[name]
                overrides[option.name or name] = parse_flag_bool(value, name, ctx)
                continue
            kept.append(arg)
        rest = super().parse_args(ctx, kept)
        ctx.params.update(overrides)
        return rest


class VaultGroup(click.Group):
    """A command group whose commands (and sub-groups) follow VaultCommand's flag habits."""

    command_class = VaultCommand
    group_class = type


class Duration(click.ParamType):
    """Vault's duration flags: `30` (seconds), `90s`, `1h30m`, `2d`; `system` is -1 (the system default)."""

    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        try:
            return parse_duration(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


class KeyValue(click.ParamType):
    """`key=value` (the flag may repeat), as Vault's -options, -metadata and -custom-metadata take them."""

    name = "key=value"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> tuple[str, str]:
        if isinstance(value, tuple):
            return value
        key, sep, item = str(value).partition("=")
        if not sep:
            self.fail(f"missing = in KV pair: {value!r}", param, ctx)
        return key, item


DURATION = Duration()
KEY_VALUE = KeyValue()


def option_map(pairs: Sequence[tuple[str, str]]) -> dict[str, str]:
    return {key: value for key, value in pairs}


def split_commas(values: Sequence[str]) -> list[str]:
    """-versions as Vault reads it: repeatable, and each value may hold a comma-separated list."""
    return [item.strip() for value in values for item in value.split(",") if item.strip()]


field_option = click.option("-field", "--field", "field", metavar="FIELD", default=None,
                            help="Print only this field's value, with no trailing newline when piped.")


def usage_error(message: str) -> click.UsageError:
    """Exit 2 with the command's usage line, like a missing argument."""
    return click.UsageError(message, click.get_current_context(silent=True))


# --- durations -----------------------------------------------------------------------------------------

def parse_duration(text: str) -> int:
    """Seconds from `30`, `90s`, `1h30m`, `2d`, `system` (-1): `parse_truncated_duration_seconds`, plus `system`."""
    if text.strip() == "system":
        return -1
    try:
        return parse_truncated_duration_seconds(text)
    except DurationError:
        raise ValueError(f"invalid duration {text!r} (use e.g. 30, 90s, 1h30m, 2d)") from None


def looks_like_duration(key: str) -> bool:
    return (key in ("period", "ttl", "duration", "lease_max", "ttl_max")
            or key.endswith(("_period", "_ttl", "_duration")))


def duration_value(value: Any) -> Any:
    """humanDurationInt: whole numbers of seconds become `1h30m`; anything else stays as it is."""
    if isinstance(value, int) and not isinstance(value, bool):
        return human_duration(value)
    return value


# --- Go's rendering of values --------------------------------------------------------------------------


def go_format(value: Any) -> str:
    """Go's `%v` of a decoded JSON value: <nil>, [a b], map[k:v], true."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + " ".join(go_format(item) for item in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{key}:{go_format(value[key])}" for key in sorted(value)) + "]"
    return str(value)


def go_quote_list(values: Any) -> str:
    """Go's `%q` of a []string: ["a" "b"]; nil (anything not a list) is []."""
    return go_quoted_list(str(item) for item in values) if isinstance(values, list) else "[]"


# --- tables --------------------------------------------------------------------------------------------


def _column_cell(value: Any) -> str:
    """A cell as columnize shows it: trimmed, `n/a` when empty; inner newlines stay (a PEM block, a policy)."""
    text = str(value).strip()
    return text or EMPTY


def columns(rows: Sequence[Sequence[Any]], header: Sequence[str] | None = None) -> str:
    """Vault's tableOutput/columnOutput: a header, its `---` underline, columns joined by four spaces."""
    lines = [[_column_cell(cell) for cell in row] for row in rows]
    if header is not None:
        lines = [list(header), ["-" * len(title) for title in header]] + lines
    if not lines:
        return ""
    count = max(len(line) for line in lines)
    widths = [max((len(line[i]) for line in lines if i < len(line)), default=0) for i in range(count)]
    out = []
    for line in lines:
        cells = [cell if i == len(line) - 1 else cell.ljust(widths[i]) for i, cell in enumerate(line)]
        out.append(GLUE.join(cells).rstrip())
    return "\n".join(out)


def print_columns(rows: Sequence[Sequence[Any]], header: Sequence[str] | None = None) -> None:
    text = columns(rows, header)
    if text:
        print_line(text)


def pad_equal_signs(title: str, total: int) -> str:
    """`===== Title =====`, centred over `total` characters (Vault's padEqualSigns)."""
    signs = total - (len(title) + 2)
    if signs <= 0:
        signs = 4
    if signs % 2:
        signs += 1
    return f"{'=' * (signs // 2)} {title} {'=' * (signs // 2)}"


def header_for_map(title: str, data: dict[str, Any] | None) -> str:
    """The section header over a Key/Value table of `data`: as wide as its longest key plus `    Value`."""
    longest = max((len(key) for key in data or {}), default=0)
    return pad_equal_signs(title, longest + len(GLUE) + len("Value"))


def print_path(path: str, title: str) -> None:
    """`= Secret Path =`, the path, and a blank line, as `vault kv get` starts."""
    print_line(pad_equal_signs(title, len(path)))
    print_line(path)
    print_line()


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
    lease_duration = _int(secret.get("lease_duration"))
    if lease_duration > 0:
        if secret.get("lease_id"):
            rows += [("lease_id", str(secret["lease_id"])),
                     ("lease_duration", human_duration(lease_duration)),
                     ("lease_renewable", go_format(bool(secret.get("renewable"))))]
        else:
            rows.append(("refresh_interval", human_duration(lease_duration)))
    auth = secret.get("auth")
    if isinstance(auth, dict):
        mfa = auth.get("mfa_requirement")
        if isinstance(mfa, dict) and mfa:
            rows.append(("mfa_request_id", str(mfa.get("mfa_request_id", ""))))
        else:
            duration = _int(auth.get("lease_duration"))
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
            ("wrapping_token_ttl:", human_duration(_int(wrap.get("ttl")))),
            ("wrapping_token_creation_time:", str(wrap.get("creation_time", ""))),
            ("wrapping_token_creation_path:", str(wrap.get("creation_path", ""))),
        ]
        if wrap.get("wrapped_accessor"):
            rows.append(("wrapped_accessor:", str(wrap["wrapped_accessor"])))
    data = secret.get("data")
    if isinstance(data, dict):
        rows += data_rows(data)
    return rows


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


_AUTH_FIELDS = (("client_token", ""), ("accessor", ""), ("policies", None), ("token_policies", None),
                ("identity_policies", None), ("metadata", None), ("orphan", False), ("entity_id", ""),
                ("lease_duration", 0), ("renewable", False), ("mfa_requirement", None))
_WRAP_FIELDS = (("token", ""), ("accessor", ""), ("ttl", 0), ("creation_time", ""), ("creation_path", ""),
                ("wrapped_accessor", ""))


def sort_deep(value: Any) -> Any:
    """Maps with sorted keys at every level, as Go's encoding/json writes a map[string]interface{}."""
    if isinstance(value, dict):
        return {key: sort_deep(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [sort_deep(item) for item in value]
    return value


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
            raise CommandFailed(EXIT_USAGE)
        print_json(keys)
        return
    if keys is None:
        raise fail(f"No entries found at {path}", EXIT_USAGE)
    print_warnings(secret)
    if keys:
        print_columns([(str(key),) for key in sorted(str(key) for key in keys)], header=("Keys",))


def raw_secret_field(secret: dict[str, Any], field: str) -> Any:
    """Vault's RawSecretField: token_* fields of an auth answer, lease_* fields, else the data's field."""
    data = secret.get("data") if isinstance(secret.get("data"), dict) else {}
    auth = secret.get("auth")
    if isinstance(auth, dict):
        mapping = {"token": "client_token", "token_accessor": "accessor", "token_duration": "lease_duration",
                   "token_renewable": "renewable", "token_policies": "token_policies",
                   "identity_policies": "identity_policies", "policies": "policies"}
        if field in mapping:
            return auth.get(mapping[field])
        return data.get(field)
    special = {"lease_duration": "lease_duration", "lease_id": "lease_id", "request_id": "request_id",
               "renewable": "renewable", "refresh_interval": "lease_duration"}
    if field in special:
        return secret.get(special[field])
    if field == "data":
        return data["data"] if "data" in data else data
    return data.get(field)


def print_field(flags: GlobalFlags, value: Any, field: str, kind: str) -> None:
    """PrintRawField: the bare value (no newline when piped, so `$(...)` gets it exactly) or its JSON."""
    if value is None:
        raise fail(f'Field "{field}" not present in {kind}')
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


def print_answer_or_success(flags: GlobalFlags, secret: dict[str, Any] | None, success: str,
                            field: str | None = None) -> None:
    """After a write or delete: the server's answer when it sent one, else `success` (nothing with JSON output)."""
    if secret is None:
        if not flags.json:
            print_line(success)
        return
    print_secret_or_field(flags, secret, field)


# --- errors ----------------------------------------------------------------------------------------------


def describe(exc: ClientError) -> str:
    """A failed request on one line: the server's errors, then the status and the request."""
    if isinstance(exc, ApiError):
        errors = [" ".join(str(error).split()) for error in exc.errors if str(error).strip()]
        detail = "; ".join(errors)
        if not detail and exc.raw:
            detail = " ".join(exc.raw.split())
        detail = detail or "no error message"
        return f"{detail} (Code: {exc.status}; {exc.method} {exc.url})"
    return " ".join(str(exc).split())


@contextmanager
def request_errors(doing: str) -> Iterator[None]:
    """`Error <doing>: <one line>` on stderr and exit 1 for a failed request."""
    try:
        yield
    except ClientError as exc:
        raise fail(f"Error {doing}: {describe(exc)}", EXIT_ERROR) from None


def no_value(path: str) -> CommandFailed:
    return fail(f"No value found at {path}", EXIT_USAGE)


# --- clients and requests ----------------------------------------------------------------------------------


def client_with_token(flags: GlobalFlags, token: str | None) -> Client:
    """A client that sends `token` (empty: none at all) instead of STRONGROOM_TOKEN or the token file."""
    try:
        return Client(flags.address, token if token is not None else "", ca_cert=flags.ca_cert,
                      tls_skip_verify=flags.tls_skip_verify)
    except ConfigurationError as exc:
        raise fail(f"Error: {exc}", EXIT_USAGE) from None


def _found(exc: ApiError) -> dict[str, Any] | None:
    """A 404 that still carries data or warnings (a deleted KV v2 version, say) is an answer, not an error."""
    body = exc.body
    if exc.status == 404 and isinstance(body, dict) and (body.get("data") or body.get("warnings")):
        return body
    return None


def _object(body: Any) -> dict[str, Any] | None:
    return body if isinstance(body, dict) else None


def logical_read(client: Client, path: str, params: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """GET like Vault's Logical().Read: None when nothing is there (404 without data)."""
    try:
        return _object(client.request("GET", path, params=params or None))
    except ApiError as exc:
        if exc.status != 404:
            raise
        return _found(exc)


def logical_list(client: Client, path: str) -> dict[str, Any] | None:
    """LIST (GET ?list=true); None when there is nothing under the path."""
    try:
        return _object(client.list(path))
    except ApiError as exc:
        if exc.status != 404:
            raise
        return _found(exc)


def logical_write(client: Client, path: str, data: Any, method: str = "PUT") -> dict[str, Any] | None:
    """PUT (or POST/PATCH) like Logical().Write: None for an empty (204) answer."""
    try:
        if method == "PATCH":
            return _object(client.patch(path, json=data))
        return _object(client.request(method, path, json=data))
    except ApiError as exc:
        found = _found(exc)
        if found is None:
            raise
        return found


def logical_delete(client: Client, path: str, params: dict[str, Any] | None = None) -> dict[str, Any] | None:
    try:
        return _object(client.request("DELETE", path, params=params or None))
    except ApiError as exc:
        if exc.status == 404 and not isinstance(exc.body, dict):
            return None
        found = _found(exc)
        if found is None:
            raise
        return found


def response_data(body: Any) -> dict[str, Any]:
    """The `data` of a sys answer, or the answer itself for the endpoints that repeat it at the top level."""
    if not isinstance(body, dict):
        return {}
    if isinstance(body.get("data"), dict):
        return body["data"]
    return body


# --- paths -------------------------------------------------------------------------------------------------


def sanitize_path(path: str) -> str:
    return path.strip().strip("/")


def ensure_trailing_slash(path: str) -> str:
    path = path.strip()
    if not path:
        return ""
    return path.rstrip("/") + "/"


def go_path_join(*parts: str) -> str:
    """Go's path.Join: the non-empty parts joined by `/` and cleaned (no `//`, `.`, `..` or trailing `/`)."""
    joined = "/".join(part for part in parts if part)
    if not joined:
        return ""
    rooted = joined.startswith("/")
    out: list[str] = []
    for element in joined.split("/"):
        if element in ("", "."):
            continue
        if element == "..":
            if out and out[-1] != "..":
                out.pop()
            elif not rooted:
                out.append("..")
            continue
        out.append(element)
    cleaned = "/".join(out)
    if rooted:
        return "/" + cleaned
    return cleaned or "."


# --- key=value arguments (hashicorp/go-secure-stdlib kv-builder) ----------------------------------------------


class DataError(Exception):
    """A `key=value` argument that cannot be used; the message is for the user."""


class _Stdin:
    def __init__(self) -> None:
        self.used = False

    def read(self) -> str:
        if self.used:
            raise DataError("stdin already consumed")
        self.used = True
        return click.get_text_stream("stdin").read()


def _read_file(path: str) -> str:
    try:
        with open(os.path.expanduser(path), encoding="utf-8") as handle:
            return handle.read()
    except OSError as exc:
        raise DataError(f"error reading file: {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise DataError(f"error reading file: {path}: not UTF-8 text") from None


def _merge_json(result: dict[str, Any], text: str, source: str) -> None:
    try:
        value, _ = json.JSONDecoder().raw_decode(text.lstrip())
    except json.JSONDecodeError as exc:
        if not text.strip():
            raise DataError(f"no JSON object in {source}") from None
        raise DataError(f"invalid JSON in {source}: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    if not isinstance(value, dict):
        raise DataError(f"{source} must hold a JSON object, not {type(value).__name__}")
    result.update(value)


def parse_data(args: Sequence[str]) -> dict[str, Any]:
    """kvbuilder: `k=v`, `k=@file`, `k=-` (all of stdin), `k=\\@literal`, `-`/`@file` (a JSON object).

    A repeated key collects its values into a list.
    """
    result: dict[str, Any] = {}
    stdin = _Stdin()
    for raw in args:
        try:
            _add_pair(result, raw, stdin)
        except DataError as exc:
            raise DataError(f"invalid key/value pair {json.dumps(raw, ensure_ascii=False)}: {exc}") from None
    return result


def _add_pair(result: dict[str, Any], raw: str, stdin: _Stdin) -> None:
    if raw == "":
        return
    key, sep, value = raw.partition("=")
    if not sep:
        if raw == "-":
            _merge_json(result, stdin.read(), "standard input")
            return
        if raw.startswith("@"):
            _merge_json(result, _read_file(raw[1:]), raw[1:])
            return
        raise DataError("format must be key=value")
    if value.startswith("@"):
        value = _read_file(value[1:])
    elif value.startswith("\\@"):
        value = value[1:]
    elif value == "-":
        value = stdin.read()
    if key in result:
        existing = result[key]
        result[key] = (existing if isinstance(existing, list) else [existing]) + [value]
    else:
        result[key] = value


def _as_string(value: Any, key: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if value is None:
        return ""
    raise DataError(f"failed to convert values to strings: {key!r} is a {type(value).__name__}")


def parse_string_data(args: Sequence[str]) -> dict[str, str]:
    """parse_data with every value a string (audit options, login parameters)."""
    return {key: _as_string(value, key) for key, value in parse_data(args).items()}


def parse_string_list_data(args: Sequence[str]) -> dict[str, list[str]]:
    """parse_data with every value a list of strings (query parameters of read and delete)."""
    out: dict[str, list[str]] = {}
    for key, value in parse_data(args).items():
        items = value if isinstance(value, list) else [value]
        out[key] = [_as_string(item, key) for item in items]
    return out


@contextmanager
def data_errors(prefix: str = "Failed to parse K=V data") -> Iterator[None]:
    try:
        yield
    except DataError as exc:
        raise fail(f"{prefix}: {exc}", EXIT_ERROR) from None


# --- mount tables (secrets list, auth list) -------------------------------------------------------------------


def mount_ttl(mount_type: str, ttl: Any) -> str:
    """The TTL columns of `secrets list -detailed`: blank for system/cubbyhole, `system` for 0, else seconds."""
    if mount_type in ("system", "cubbyhole"):
        return ""
    seconds = _int(ttl)
    return str(seconds) if seconds else "system"


def mount_table(mounts: dict[str, Any], detailed: bool, *, auth: bool) -> str:
    rows = []
    for path in sorted(mounts):
        mount = mounts[path] if isinstance(mounts[path], dict) else {}
        config = mount.get("config") if isinstance(mount.get("config"), dict) else {}
        mount_type = str(mount.get("type") or "")
        if not detailed:
            row = [path, mount_type, mount.get("accessor") or "", mount.get("description") or ""]
            if auth:
                row.append(mount.get("plugin_version") or "")
            rows.append(row)
            continue
        options = mount.get("options") if isinstance(mount.get("options"), dict) else {}
        middle = [config.get("token_type") or ""] if auth else [go_format(bool(config.get("force_no_cache")))]
        rows.append([
            path, mount_type, mount.get("accessor") or "",
            mount_ttl(mount_type, config.get("default_lease_ttl")), mount_ttl(mount_type, config.get("max_lease_ttl")),
            *middle,
            "local" if mount.get("local") else "replicated",
            go_format(bool(mount.get("seal_wrap"))), go_format(bool(mount.get("external_entropy_access"))),
            go_format(options), mount.get("description") or "", mount.get("uuid") or "",
            mount.get("plugin_version") or "", mount.get("running_plugin_version") or "",
            mount.get("running_sha256") or "", mount.get("deprecation_status") or "",
        ])
    if not detailed:
        header = ["Path", "Type", "Accessor", "Description"] + (["Version"] if auth else [])
    else:
        header = ["Path", "Plugin", "Accessor", "Default TTL", "Max TTL",
                  "Token Type" if auth else "Force No Cache", "Replication", "Seal Wrap",
                  "External Entropy Access", "Options", "Description", "UUID", "Version", "Running Version",
                  "Running SHA256", "Deprecation Status"]
    return columns(rows, header)


def mount_entries(body: Any) -> dict[str, Any]:
    """`path/ -> mount` from sys/mounts, sys/auth or sys/audit (under `data`, or at the top level)."""
    data = response_data(body)
    return {key: value for key, value in data.items() if isinstance(value, dict) and key.endswith("/")}


_MOUNT_FIELDS = (("uuid", ""), ("type", ""), ("description", ""), ("accessor", ""), ("config", None),
                 ("options", None), ("local", False), ("seal_wrap", False), ("external_entropy_access", False),
                 ("plugin_version", ""), ("running_plugin_version", ""), ("running_sha256", ""),
                 ("deprecation_status", ""))
_MOUNT_CONFIG_FIELDS = (("default_lease_ttl", 0), ("max_lease_ttl", 0), ("force_no_cache", False))
_MOUNT_CONFIG_OPTIONAL = ("audit_non_hmac_request_keys", "audit_non_hmac_response_keys", "listing_visibility",
                          "passthrough_request_headers", "allowed_response_headers", "token_type",
                          "allowed_managed_keys", "user_lockout_config")
_AUDIT_FIELDS = (("type", ""), ("description", ""), ("options", None), ("local", False), ("path", ""))


def mounts_json(mounts: dict[str, Any]) -> dict[str, Any]:
    """Mounts in the shape and field order `vault secrets|auth list -format=json` prints (api.MountOutput)."""
    out = {}
    for path in sorted(mounts):
        mount = mounts[path]
        entry = {key: mount.get(key, default) for key, default in _MOUNT_FIELDS}
        config = mount.get("config") if isinstance(mount.get("config"), dict) else {}
        shaped = {key: config.get(key, default) for key, default in _MOUNT_CONFIG_FIELDS}
        shaped.update({key: config[key] for key in _MOUNT_CONFIG_OPTIONAL if config.get(key)})
        entry["config"] = shaped
        out[path] = entry
    return out


def audits_json(devices: dict[str, Any]) -> dict[str, Any]:
    """Audit devices as `vault audit list -format=json` prints them (api.Audit)."""
    return {path: {key: devices[path].get(key, default) for key, default in _AUDIT_FIELDS}
            for path in sorted(devices)}


def _ttl(seconds: int | None, *, tune: bool) -> str:
    """A TTL flag as the API takes it: Go's duration string; -1 is `system`; unset is `0s` (enable) or "" (tune)."""
    if seconds is None or (tune and seconds == 0):
        return "" if tune else "0s"
    return "system" if seconds < 0 else format_go_duration(seconds)


def mount_config(settings: dict[str, Any], *, tune: bool, **extra: Any) -> dict[str, Any]:
    """api.MountConfigInput as Vault's CLI fills it: the TTLs always, the optional fields only when given.

    `settings` holds the values of the `mount_flags` options; `extra` adds fields (description, token_type,
    force_no_cache) that are sent when not None.
    """
    config: dict[str, Any] = {
        "options": None,
        "default_lease_ttl": _ttl(settings.get("default_lease_ttl"), tune=tune),
        "max_lease_ttl": _ttl(settings.get("max_lease_ttl"), tune=tune),
        "force_no_cache": bool(extra.pop("force_no_cache", False)),
    }
    for name in ("audit_non_hmac_request_keys", "audit_non_hmac_response_keys", "listing_visibility",
                 "passthrough_request_headers", "allowed_response_headers"):
        value = settings.get(name)
        if value:
            config[name] = list(value) if isinstance(value, tuple) else value
    for name, value in extra.items():
        if value is not None:
            config[name] = value
    return config


def mount_flags(func: Any) -> Any:
    """The mount settings `secrets enable|tune` and `auth enable|tune` share."""
    options = (
        click.option("-default-lease-ttl", "--default-lease-ttl", "default_lease_ttl", type=DURATION, default=None,
                     metavar="DURATION", help="Default lease TTL (e.g. 30m, 1h, 768h; `system` to reset)."),
        click.option("-max-lease-ttl", "--max-lease-ttl", "max_lease_ttl", type=DURATION, default=None,
                     metavar="DURATION", help="Maximum lease TTL."),
        click.option("-options", "--options", "options", type=KEY_VALUE, multiple=True, metavar="K=V",
                     help="Mount option, repeatable (e.g. -options=version=2)."),
        click.option("-audit-non-hmac-request-keys", "--audit-non-hmac-request-keys", "audit_non_hmac_request_keys",
                     multiple=True, metavar="KEY", help="Request key not HMAC'd in audit logs, repeatable."),
        click.option("-audit-non-hmac-response-keys", "--audit-non-hmac-response-keys",
                     "audit_non_hmac_response_keys", multiple=True, metavar="KEY",
                     help="Response key not HMAC'd in audit logs, repeatable."),
        click.option("-listing-visibility", "--listing-visibility", "listing_visibility", default=None,
                     metavar="unauth|hidden", help="Whether the UI lists the mount."),
        click.option("-passthrough-request-headers", "--passthrough-request-headers", "passthrough_request_headers",
                     multiple=True, metavar="HEADER", help="Request header passed to the backend, repeatable."),
        click.option("-allowed-response-headers", "--allowed-response-headers", "allowed_response_headers",
                     multiple=True, metavar="HEADER", help="Response header the backend may set, repeatable."),
        click.option("-version", "--version", "kv_version", type=int, default=None, metavar="N",
                     help="Shorthand for -options=version=N (KV: 1 or 2)."),
    )
    for option in reversed(options):
        func = option(func)
    return func


def mount_options(settings: dict[str, Any]) -> dict[str, str] | None:
    """-options=k=v pairs plus -version=N; None (JSON null, as Vault sends it) when there are none."""
    merged = option_map(settings.get("options") or ())
    version = settings.get("kv_version")
    if version is not None and version > 0:
        merged["version"] = str(version)
    return merged or None
