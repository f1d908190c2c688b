"""The options of an audit device: kept as the strings they were given as (for listing and persistence),
read into a `FormatConfig` and checked when the device is created, so a bad option is a 400 at enable."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from strongroom.core.audit.errors import AuditDeviceError
from strongroom.logical.go import parse_go_bool, parse_go_duration

#: the options every device type takes, besides its own
COMMON_OPTIONS = frozenset({"format", "prefix", "hmac_accessor", "log_raw", "elide_list_responses"})


@dataclass(frozen=True)
class FormatConfig:
    """The options every device type shares."""

    format: str = "json"
    prefix: str = ""
    hmac_accessor: bool = True
    log_raw: bool = False
    elide_list_responses: bool = False

    @classmethod
    def from_options(cls, options: Mapping[str, str]) -> FormatConfig:
        return cls(
            format=_parse_format(options.get("format", "json")),
            prefix=options.get("prefix", ""),
            hmac_accessor=_parse_bool(options, "hmac_accessor", True),
            log_raw=_parse_bool(options, "log_raw", False),
            elide_list_responses=_parse_bool(options, "elide_list_responses", False),
        )


def normalize_path(path: str) -> str:
    """Device paths end with one slash, as Vault lists them ("file/")."""
    cleaned = path.strip().strip("/")
    if not cleaned:
        raise AuditDeviceError("audit device path must be specified")
    return cleaned + "/"


def option_string(value: Any) -> str:
    """An option value as stored: booleans as Go writes them, anything else as its string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_mode(value: str) -> int:
    """The `mode` of a file device: octal permission bits, never executable."""
    try:
        mode = int(value, 8)
    except ValueError:
        raise AuditDeviceError(f'unable to parse "mode": {value!r} is not an octal file mode such as "0600"') from None
    if not 0 <= mode <= 0o777:
        raise AuditDeviceError(f'invalid "mode" {value!r}: only permission bits (0000 to 0777) are allowed')
    if mode & 0o111:
        raise AuditDeviceError(f'invalid "mode" {value!r}: an audit file cannot have executable permissions')
    return mode


def parse_timeout(value: str, name: str) -> float:
    """A Go duration option (`write_timeout = "2s"`) as seconds, more than zero."""
    try:
        nanoseconds = parse_go_duration(value.strip())
    except ValueError as error:
        raise AuditDeviceError(f'unable to parse "{name}": {error}') from None
    if nanoseconds <= 0:
        raise AuditDeviceError(f'invalid "{name}" {value!r}: must be longer than 0s')
    return nanoseconds / 1e9


def _parse_bool(options: Mapping[str, str], name: str, default: bool) -> bool:
    """Go's strconv.ParseBool, which Vault uses for these options."""
    if name not in options:
        return default
    value = options[name]
    try:
        return parse_go_bool(value)
    except ValueError:
        raise AuditDeviceError(f'unable to parse "{name}": {value!r} is not a boolean') from None


def _parse_format(value: str) -> str:
    if value == "json":
        return value
    if value == "jsonx":
        raise AuditDeviceError('the "jsonx" audit format is not supported; omit "format" or set it to "json"')
    raise AuditDeviceError(f'unknown format type "{value}" (only "json" is supported)')
