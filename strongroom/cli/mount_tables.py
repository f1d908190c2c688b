"""The mount tables `secrets list`, `auth list` and `audit list` print: columns, or the JSON of Vault's api types."""

from __future__ import annotations

from typing import Any

from strongroom.cli.answer_fields import int_or_zero, object_field, response_data
from strongroom.cli.rendering import go_format
from strongroom.cli.tables import columns


def mount_ttl(mount_type: str, ttl: Any) -> str:
    """The TTL columns of `secrets list -detailed`: blank for system/cubbyhole, `system` for 0, else seconds."""
    if mount_type in ("system", "cubbyhole"):
        return ""
    seconds = int_or_zero(ttl)
    return str(seconds) if seconds else "system"


def mount_table(mounts: dict[str, Any], detailed: bool, *, auth: bool) -> str:
    rows = []
    for path in sorted(mounts):
        mount = mounts[path] if isinstance(mounts[path], dict) else {}
        config = object_field(mount, "config")
        mount_type = str(mount.get("type") or "")
        if not detailed:
            row = [path, mount_type, mount.get("accessor") or "", mount.get("description") or ""]
            if auth:
                row.append(mount.get("plugin_version") or "")
            rows.append(row)
            continue
        options = object_field(mount, "options")
        middle = [config.get("token_type") or ""] if auth else [go_format(bool(config.get("force_no_cache")))]
        rows.append(
            [
                path,
                mount_type,
                mount.get("accessor") or "",
                mount_ttl(mount_type, config.get("default_lease_ttl")),
                mount_ttl(mount_type, config.get("max_lease_ttl")),
                *middle,
                "local" if mount.get("local") else "replicated",
                go_format(bool(mount.get("seal_wrap"))),
                go_format(bool(mount.get("external_entropy_access"))),
                go_format(options),
                mount.get("description") or "",
                mount.get("uuid") or "",
                mount.get("plugin_version") or "",
                mount.get("running_plugin_version") or "",
                mount.get("running_sha256") or "",
                mount.get("deprecation_status") or "",
            ]
        )
    if not detailed:
        header = ["Path", "Type", "Accessor", "Description"] + (["Version"] if auth else [])
    else:
        header = [
            "Path",
            "Plugin",
            "Accessor",
            "Default TTL",
            "Max TTL",
            "Token Type" if auth else "Force No Cache",
            "Replication",
            "Seal Wrap",
            "External Entropy Access",
            "Options",
            "Description",
            "UUID",
            "Version",
            "Running Version",
            "Running SHA256",
            "Deprecation Status",
        ]
    return columns(rows, header)


def mount_entries(body: Any) -> dict[str, Any]:
    """`path/ -> mount` from sys/mounts, sys/auth or sys/audit (under `data`, or at the top level)."""
    data = response_data(body)
    return {key: value for key, value in data.items() if isinstance(value, dict) and key.endswith("/")}


_MOUNT_FIELDS = (
    ("uuid", ""),
    ("type", ""),
    ("description", ""),
    ("accessor", ""),
    ("config", None),
    ("options", None),
    ("local", False),
    ("seal_wrap", False),
    ("external_entropy_access", False),
    ("plugin_version", ""),
    ("running_plugin_version", ""),
    ("running_sha256", ""),
    ("deprecation_status", ""),
)
_MOUNT_CONFIG_FIELDS = (("default_lease_ttl", 0), ("max_lease_ttl", 0), ("force_no_cache", False))
_MOUNT_CONFIG_OPTIONAL = (
    "audit_non_hmac_request_keys",
    "audit_non_hmac_response_keys",
    "listing_visibility",
    "passthrough_request_headers",
    "allowed_response_headers",
    "token_type",
    "allowed_managed_keys",
    "user_lockout_config",
)
_AUDIT_FIELDS = (("type", ""), ("description", ""), ("options", None), ("local", False), ("path", ""))


def mounts_json(mounts: dict[str, Any]) -> dict[str, Any]:
    """Mounts in the shape and field order `vault secrets|auth list -format=json` prints (api.MountOutput)."""
    out = {}
    for path in sorted(mounts):
        mount = mounts[path]
        entry = {key: mount.get(key, default) for key, default in _MOUNT_FIELDS}
        config = object_field(mount, "config")
        shaped = {key: config.get(key, default) for key, default in _MOUNT_CONFIG_FIELDS}
        shaped.update({key: config[key] for key in _MOUNT_CONFIG_OPTIONAL if config.get(key)})
        entry["config"] = shaped
        out[path] = entry
    return out


def audits_json(devices: dict[str, Any]) -> dict[str, Any]:
    """Audit devices as `vault audit list -format=json` prints them (api.Audit)."""
    return {path: {key: devices[path].get(key, default) for key, default in _AUDIT_FIELDS} for path in sorted(devices)}
