"""The entries of one device, as Vault writes them: what each block holds, what is hashed under the device's
salt (tokens, accessors unless `hmac_accessor=false`, string values of data unless `log_raw=true`) and
what is left out when empty (Go's `omitempty`)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from strongroom.core.audit.entries import AuditAuth, AuditResponse, LogInput, WrapInfo
from strongroom.core.audit.hashing import hash_map, hmac_sha256
from strongroom.core.audit.options import FormatConfig
from strongroom.core.audit.times import rfc3339_nano_of, rfc3339_seconds_of
from strongroom.logical.errors import StrongroomError


def client_id(policies: Sequence[str], namespace_id: str = "root", entity_id: str = "") -> str:
    """Vault's client ID: the entity ID, or, for a token without an entity, the base64 SHA-256 of
    its sorted policies (joined by 0x7F) and its namespace (after 0x00)."""
    if entity_id:
        return entity_id
    plain = "\x7f".join(sorted(policies)) + "\x00" + namespace_id
    return base64.b64encode(hashlib.sha256(plain.encode()).digest()).decode()


class EntryFormatter:
    """Builds the entries for one device: its salt, its hmac_accessor / log_raw / elide settings."""

    def __init__(self, config: FormatConfig, salt: bytes) -> None:
        self.config = config
        self.salt = salt

    def hash(self, value: str) -> str:
        return hmac_sha256(self.salt, value)

    def secret(self, value: str) -> str:
        """A token: hashed unless the device logs raw."""
        return value if self.config.log_raw or not value else self.hash(value)

    def accessor(self, value: str) -> str:
        return value if self.config.log_raw or not self.config.hmac_accessor or not value else self.hash(value)

    # -- entries ----------------------------------------------------------------------------

    def request_entry(self, entry_input: LogInput, now: str) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "time": now,
            "type": "request",
            "auth": self.auth(entry_input.auth or AuditAuth(), request_entry=True),
            "request": self.request(entry_input),
        }
        error = _error_text(entry_input.error)
        if error:
            entry["error"] = error
        return entry

    def response_entry(self, entry_input: LogInput, now: str) -> dict[str, Any]:
        error = _error_text(entry_input.error)
        entry: dict[str, Any] = {
            "time": now,
            "type": "response",
            "auth": self.auth(entry_input.auth or AuditAuth(), request_entry=True),
            "request": self.request(entry_input),
            "response": self.response(entry_input, error),
        }
        if error:
            entry["error"] = error
        return entry

    def auth(self, auth: AuditAuth, *, request_entry: bool) -> dict[str, Any]:
        block: dict[str, Any] = {
            "client_token": self.secret(auth.client_token),
            "accessor": self.accessor(auth.accessor),
            "display_name": auth.display_name,
            "policies": list(auth.policies),
            "token_policies": list(auth.token_policies),
            "identity_policies": list(auth.identity_policies),
            "no_default_policy": auth.no_default_policy,
        }
        if auth.policy_results is not None:
            results: dict[str, Any] = {"allowed": auth.policy_results.allowed}
            if auth.policy_results.granting_policies:
                results["granting_policies"] = [dict(p) for p in auth.policy_results.granting_policies]
            block["policy_results"] = results
        block["metadata"] = dict(auth.metadata) if auth.metadata else None
        block["entity_id"] = auth.entity_id
        if request_entry:
            block["remaining_uses"] = auth.remaining_uses
        else:
            block["num_uses"] = auth.num_uses
        block["token_type"] = auth.token_type
        block["token_ttl"] = auth.token_ttl
        if auth.token_issue_time is not None:
            block["token_issue_time"] = rfc3339_seconds_of(auth.token_issue_time)
        return _omit_empty(block)

    def request(self, entry_input: LogInput) -> dict[str, Any]:
        request = entry_input.request
        auth = entry_input.auth
        identifier = request.client_id
        if not identifier and auth is not None and (auth.entity_id or auth.policies):
            identifier = client_id(auth.policies, request.namespace_id, auth.entity_id)
        data = None
        if request.data:
            data = self.data(request.data, entry_input.non_hmac_request_keys)
        block: dict[str, Any] = {
            "id": request.id,
            "client_id": identifier,
            "operation": str(request.operation),
            "mount_point": request.mount_point,
            "mount_type": request.mount_type,
            "mount_accessor": request.mount_accessor,
            "mount_running_version": request.mount_running_version,
            "mount_class": request.mount_class,
            "client_token": self.secret(request.client_token),
            "client_token_accessor": self.accessor(request.client_token_accessor),
            "namespace": {"id": request.namespace_id},
            "path": request.path,
            "data": data,
            "policy_override": request.policy_override,
            "remote_address": request.remote_address,
            "remote_port": request.remote_port,
            "request_uri": request.request_uri if request.request_uri != request.path else "",
            "wrap_ttl": request.wrap_ttl,
            "headers": self.headers(request.headers, request.hmac_headers),
        }
        return _omit_empty(block)

    def response(self, entry_input: LogInput, error: str) -> dict[str, Any]:
        request = entry_input.request
        response = entry_input.response
        if response is None:
            # What Vault logs for a failed request: the error response the client was given.
            response = AuditResponse(data={"error": error} if error else None)

        def mount(value: str | None, fallback: str) -> str:
            return fallback if value is None else value

        data = response.data
        if data is not None:
            if self.config.elide_list_responses and str(request.operation) == "list":
                data = _elide_list_data(data)
            data = self.data(data, entry_input.non_hmac_response_keys)
        block: dict[str, Any] = {
            "auth": self.auth(response.auth, request_entry=False) if response.auth is not None else None,
            "mount_point": mount(response.mount_point, request.mount_point),
            "mount_type": mount(response.mount_type, request.mount_type),
            "mount_accessor": mount(response.mount_accessor, request.mount_accessor),
            "mount_running_plugin_version": mount(response.mount_running_version, request.mount_running_version),
            "mount_class": mount(response.mount_class, request.mount_class),
            "secret": None if response.lease_id is None else _omit_empty({"lease_id": response.lease_id}),
            "data": data or None,
            "wrap_info": self.wrap_info(response.wrap_info) if response.wrap_info is not None else None,
            "redirect": response.redirect,
            "warnings": list(response.warnings) if response.warnings else None,
            "headers": {name: list(values) for name, values in response.headers.items()} if response.headers else None,
        }
        return _omit_empty(block, keep=("secret",))

    def wrap_info(self, wrap: WrapInfo) -> dict[str, Any]:
        return _omit_empty(
            {
                "ttl": wrap.ttl,
                "token": self.secret(wrap.token),
                "accessor": self.accessor(wrap.accessor),
                "creation_time": rfc3339_nano_of(wrap.creation_time),
                "creation_path": wrap.creation_path,
                "wrapped_accessor": self.accessor(wrap.wrapped_accessor),
            }
        )

    def headers(
        self, headers: Mapping[str, Sequence[str]] | None, hmac_headers: Collection[str]
    ) -> dict[str, list[str]] | None:
        if not headers:
            return None
        hashed = {name.lower() for name in hmac_headers}
        # As Vault: a header configured with hmac is hashed even on a log_raw device.
        return {
            name: [self.hash(v) if name.lower() in hashed else v for v in values] for name, values in headers.items()
        }

    def data(self, data: Mapping[str, Any], non_hmac_keys: Collection[str]) -> dict[str, Any]:
        if self.config.log_raw:
            return _plain(data)
        return hash_map(data, self.hash, frozenset(non_hmac_keys))


def _plain(value: Any) -> Any:
    """A JSON-ready copy for raw logging (times as RFC 3339, bytes as text)."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, datetime):
        return rfc3339_nano_of(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", "replace")
    return value


def _elide_list_data(data: Mapping[str, Any]) -> dict[str, Any]:
    """elide_list_responses: a list answer's `keys` become their count, `key_info` its size."""
    elided = dict(data)
    if isinstance(elided.get("keys"), (list, tuple)):
        elided["keys"] = len(elided["keys"])
    if isinstance(elided.get("key_info"), Mapping):
        elided["key_info"] = len(elided["key_info"])
    return elided


def _omit_empty(block: dict[str, Any], keep: Collection[str] = ()) -> dict[str, Any]:
    """Go's `omitempty`: drop empty strings, zeros, false, nulls and empty lists and maps (a
    key of `keep` is only dropped when null: an empty struct is still written)."""
    return {
        key: value
        for key, value in block.items()
        if value is not None and (key in keep or (value not in ("", 0, False) and value != [] and value != {}))
    }


def _error_text(error: BaseException | str | None) -> str:
    if error is None:
        return ""
    if isinstance(error, str):
        return error
    if isinstance(error, StrongroomError):
        messages = [m for m in error.messages if m]
        if len(messages) == 1:
            return messages[0]
        if messages:
            items = "".join(f"\t* {m}\n" for m in messages)
            return f"{len(messages)} errors occurred:\n{items}\n"
    return str(error) or type(error).__name__
