"""Audit devices and the broker that writes Vault-shaped audit entries to them.

Every audited request produces two entries on every enabled device, one line of JSON each: a
`request` entry before the request is served and a `response` entry after it, in the format of
Vault's (and OpenBao's) audit log. Secrets never reach a device in clear unless it was enabled
with `log_raw=true`: tokens, accessors (unless `hmac_accessor=false`) and every string value in
request and response data are replaced by `hmac-sha256:<hex>` under a salt of the device's own,
kept encrypted behind the barrier. Keys of maps, numbers, booleans and nulls are kept, as Vault
keeps them, so an operator can still read the shape of a request; `sys/audit-hash` (`hash()`)
gives the HMAC of a known value so it can be searched for in a log.

The broker fails closed: with at least one device enabled, an entry that no device could write
raises `AuditFailed` (a 500 "internal error", what Vault answers), so nothing is served unaudited;
while at least one device writes, the failures of the others are only logged.

How the core uses it (the core owns the audit table and its persistence):

    device = create_device("file", "file/", {"file_path": "/var/log/strongroom/audit.log"})
    await core.audit.enable(device, StorageView(barrier, device.storage_prefix))
    table = [device.to_json() for device in core.audit.devices.values()]  # persist this
    # on unseal, for each stored document:
    device = AuditDevice.from_json(document)
    await core.audit.enable(device, StorageView(barrier, device.storage_prefix))
    # on seal:
    await core.audit.close()
    # SIGHUP (log rotation):
    loop.add_signal_handler(signal.SIGHUP, lambda: asyncio.ensure_future(core.audit.reopen()))

    entry = LogInput(AuditRequest.from_core(request, client_token_accessor=accessor), auth=...)
    await core.audit.log_request(entry)   # raises AuditFailed: answer 500, do not serve
    ...
    entry.response = AuditResponse(data=response.data) ; entry.error = error_or_None
    await core.audit.log_response(entry)  # raises AuditFailed: answer 500 instead of the response
"""

from __future__ import annotations

import abc
import asyncio
import base64
import concurrent.futures
import hashlib
import hmac
import json
import logging
import os
import stat
import sys
import time
import uuid as uuid_module
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, ClassVar

from strongroom.logical.errors import BadRequest, StrongroomError
from strongroom.logical.go import rfc3339_nano, rfc3339_seconds

if TYPE_CHECKING:
    from strongroom.logical.request import Request
    from strongroom.logical.storage_view import StorageView
    from strongroom.core.tokens import TokenEntry

log = logging.getLogger("strongroom.audit")

HMAC_PREFIX = "hmac-sha256:"
#: where, in a device's storage view, its salt lives (encrypted by the barrier like everything else)
SALT_KEY = "salt"
SALT_SIZE = 32
DEFAULT_FILE_MODE = 0o600
#: the prefix of the storage view of a device, followed by its uuid (Vault's `audit/<uuid>/`)
STORAGE_PREFIX = "audit/"


# -- errors ----------------------------------------------------------------------------------------


class AuditDeviceError(BadRequest, ValueError):
    """A device cannot be enabled: bad options, a path in use, a file that cannot be opened (400)."""


class UnknownAuditDevice(BadRequest):
    """No device is enabled at that path (Vault answers 400 for sys/audit-hash)."""

    def __init__(self, path: str) -> None:
        super().__init__(f'unknown audit backend "{path}"')
        self.path = path


class AuditFailed(StrongroomError):
    """No enabled device could write the entry: the request must not be served (or answered).

    The client sees Vault's answer, a 500 with "internal error"; `reason` is for the server log.
    """

    status = 500

    def __init__(self, kind: str) -> None:
        super().__init__("internal error")
        self.kind = kind
        self.reason = f"no audit device succeeded in logging the {kind}"


# -- what the core hands in ------------------------------------------------------------------------


@dataclass
class PolicyResults:
    """The ACL decision, as Vault logs it in `auth.policy_results`."""

    allowed: bool
    #: [{"name": "root", "namespace_id": "root", "type": "acl"}, ...]
    granting_policies: list[dict[str, str]] = field(default_factory=list)


@dataclass
class AuditAuth:
    """The token a request was made with (or, in a response, the token it issued)."""

    client_token: str = ""
    accessor: str = ""
    display_name: str = ""
    policies: list[str] = field(default_factory=list)
    token_policies: list[str] = field(default_factory=list)
    identity_policies: list[str] = field(default_factory=list)
    #: logged in clear, as Vault does: metadata names the token's owner, it is not a secret
    metadata: Mapping[str, Any] | None = None
    entity_id: str = ""
    #: "service" or "batch"; Vault logs "default" when the request carried no valid token
    token_type: str = "default"
    #: seconds
    token_ttl: int = 0
    #: a datetime, epoch seconds or an RFC 3339 string; omitted when unknown
    token_issue_time: datetime | float | str | None = None
    #: remaining uses of a limited-use token (request entries)
    remaining_uses: int = 0
    #: uses a newly issued token has (response entries)
    num_uses: int = 0
    no_default_policy: bool = False
    policy_results: PolicyResults | None = None

    @classmethod
    def from_token(
        cls,
        token: str,
        entry: TokenEntry,
        accessor: str,
        *,
        policy_results: PolicyResults | None = None,
    ) -> AuditAuth:
        """The auth block of a request made with `token` (whose `entry` the token store found)."""
        return cls(
            client_token=token,
            accessor=accessor,
            display_name=entry.display_name,
            policies=list(entry.policies),
            token_policies=list(entry.policies),
            metadata=entry.meta,
            token_type=entry.type,
            token_ttl=entry.ttl,
            token_issue_time=float(entry.creation_time),
            remaining_uses=entry.num_uses,
            policy_results=policy_results,
        )


@dataclass
class AuditRequest:
    operation: str
    path: str
    data: Mapping[str, Any] | None = None
    id: str = field(default_factory=lambda: str(uuid_module.uuid4()))
    client_token: str = ""
    client_token_accessor: str = ""
    #: filled in from the auth block when empty (Vault's client ID: the entity, or a hash of the policies)
    client_id: str = ""
    mount_point: str = ""
    mount_type: str = ""
    mount_accessor: str = ""
    mount_class: str = ""  # "secret" or "auth"
    mount_running_version: str = ""
    namespace_id: str = "root"
    remote_address: str = ""
    remote_port: int = 0
    wrap_ttl: int = 0
    policy_override: bool = False
    request_uri: str = ""
    #: the audited request headers (sys/config/auditing/request-headers), lower-case names
    headers: Mapping[str, Sequence[str]] | None = None
    #: names of headers whose values are HMAC'd (Vault's per-header `hmac` setting)
    hmac_headers: Collection[str] = ()

    @classmethod
    def from_core(cls, request: Request, **fields: Any) -> AuditRequest:
        """The audit view of a core request; `fields` fill in (or override) what the core knows besides."""
        values: dict[str, Any] = {
            "operation": str(request.operation),
            "path": request.path,
            "data": request.data or None,
            "client_token": request.token or "",
            "remote_address": request.client_address,
            "mount_point": request.mount_path,
        }
        values.update(fields)
        return cls(**values)


@dataclass
class WrapInfo:
    token: str
    accessor: str
    ttl: int
    creation_time: datetime | float | str
    creation_path: str
    wrapped_accessor: str = ""


@dataclass
class AuditResponse:
    data: Mapping[str, Any] | None = None
    #: a token this request issued (logins, token creation)
    auth: AuditAuth | None = None
    wrap_info: WrapInfo | None = None
    warnings: Sequence[str] | None = None
    redirect: str = ""
    #: None: the response carries no secret; "" a secret without a lease ID (Vault logs `"secret": {}`,
    #: as for a kv v1 read); otherwise `"secret": {"lease_id": ...}`
    lease_id: str | None = None
    headers: Mapping[str, Sequence[str]] | None = None
    #: None: the same as the request's
    mount_point: str | None = None
    mount_type: str | None = None
    mount_accessor: str | None = None
    mount_class: str | None = None
    mount_running_version: str | None = None


@dataclass
class LogInput:
    """Everything one audit entry is made from; the same object serves the request and the response entry."""

    request: AuditRequest
    auth: AuditAuth | None = None
    response: AuditResponse | None = None
    #: the error the request failed with, if it did (an exception's messages, or a string)
    error: BaseException | str | None = None
    #: the mount's audit_non_hmac_request_keys / audit_non_hmac_response_keys
    non_hmac_request_keys: Collection[str] = ()
    non_hmac_response_keys: Collection[str] = ()


# -- devices ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FormatConfig:
    """The options every device type shares."""

    format: str = "json"
    prefix: str = ""
    hmac_accessor: bool = True
    log_raw: bool = False
    elide_list_responses: bool = False


_COMMON_OPTIONS = frozenset({"format", "prefix", "hmac_accessor", "log_raw", "elide_list_responses"})


class AuditDevice(abc.ABC):
    """An enabled audit device: where entries go, and how they are formatted for it."""

    type: ClassVar[str]
    #: device-specific option names, besides the common ones
    options_known: ClassVar[frozenset[str]] = frozenset()

    def __init__(
        self,
        path: str,
        options: Mapping[str, Any] | None = None,
        *,
        description: str = "",
        local: bool = False,
        uuid: str | None = None,
    ) -> None:
        self.path = normalize_path(path)
        self.description = description
        self.local = local
        self.uuid = uuid or str(uuid_module.uuid4())
        #: as given (strings), for listing and persistence
        self.options: dict[str, str] = {str(k): _option_string(v) for k, v in (options or {}).items() if v is not None}
        unknown = sorted(set(self.options) - _COMMON_OPTIONS - self.options_known)
        if unknown:
            known = ", ".join(sorted(_COMMON_OPTIONS | self.options_known))
            names = ", ".join(map(repr, unknown))
            raise AuditDeviceError(f"unknown option(s) {names} for a {self.type} audit device (known: {known})")
        self.config = FormatConfig(
            format=_parse_format(self.options.get("format", "json")),
            prefix=self.options.get("prefix", ""),
            hmac_accessor=_parse_bool(self.options, "hmac_accessor", True),
            log_raw=_parse_bool(self.options, "log_raw", False),
            elide_list_responses=_parse_bool(self.options, "elide_list_responses", False),
        )

    @property
    def storage_prefix(self) -> str:
        """The barrier prefix of this device's storage view (its salt lives there)."""
        return f"{STORAGE_PREFIX}{self.uuid}/"

    async def open(self) -> None:
        """Check the device can be written to (called by `AuditBroker.enable`); raise AuditDeviceError if not."""

    @abc.abstractmethod
    async def write(self, entry: dict[str, Any]) -> None:
        """Write one formatted entry; raise on failure (the broker decides what a failure means)."""

    async def reopen(self) -> None:
        """Close and reopen the underlying sink (log rotation); a no-op where that means nothing."""

    @abc.abstractmethod
    async def close(self) -> None: ...

    def serialize(self, entry: Mapping[str, Any]) -> bytes:
        """One line: the prefix, the entry as compact JSON, a newline."""
        text = json.dumps(entry, separators=(",", ":"), ensure_ascii=False, default=_json_default)
        # A lone surrogate (JSON input may carry one) cannot be UTF-8 encoded; backslashreplace
        # turns it into the 6-character JSON escape "\udXXX", which is valid inside a JSON string
        # (the only place one can occur) and decodes back to the same value.
        return (self.config.prefix + text + "\n").encode("utf-8", "backslashreplace")

    def describe(self) -> dict[str, Any]:
        """This device in a `GET sys/audit` answer."""
        return {
            "type": self.type,
            "description": self.description,
            "options": dict(self.options),
            "path": self.path,
            "local": self.local,
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "path": self.path,
            "description": self.description,
            "options": dict(self.options),
            "local": self.local,
            "uuid": self.uuid,
        }

    @staticmethod
    def from_json(document: Mapping[str, Any]) -> AuditDevice:
        return create_device(
            document["type"],
            document["path"],
            document.get("options") or {},
            description=document.get("description", ""),
            local=bool(document.get("local", False)),
            uuid=document.get("uuid"),
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.path!r}>"


class FileAuditDevice(AuditDevice):
    """Appends one JSON line per entry to a file, or to stdout, or nowhere ("discard").

    Writes run on a thread of the device's own (one worker, so lines are written whole and in the
    order they were logged, and the event loop never waits on the disk). The file is opened
    unbuffered, so each line reaches the kernel when its write returns; it is not fsync'd: a
    crash of the machine (not of the process) can lose the last entries, as with Vault.
    """

    type = "file"
    options_known = frozenset({"file_path", "mode"})

    def __init__(
        self,
        path: str,
        options: Mapping[str, Any] | None = None,
        *,
        description: str = "",
        local: bool = False,
        uuid: str | None = None,
    ) -> None:
        super().__init__(path, options, description=description, local=local, uuid=uuid)
        file_path = self.options.get("file_path", "").strip()
        if not file_path:
            raise AuditDeviceError("file_path is required")
        if file_path.lower() in ("stdout", "discard"):
            self.target = file_path.lower()
        else:
            self.target = os.path.abspath(file_path)
        self.mode = _parse_mode(self.options.get("mode", "0600"))
        self._fd: int | None = None
        self._closed = False
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None

    @property
    def file_path(self) -> str:
        return self.target

    async def open(self) -> None:
        if self.target in ("stdout", "discard"):
            return
        await self._run(self._open_sync)

    async def write(self, entry: dict[str, Any]) -> None:
        if self._closed:
            raise RuntimeError(f"audit device {self.path} is closed")
        if self.target == "discard":
            return
        line = self.serialize(entry)
        await self._run(self._write_sync, line)

    async def reopen(self) -> None:
        if self._closed or self.target in ("stdout", "discard"):
            return
        await self._run(self._reopen_sync)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._executor is not None:
            executor, self._executor = self._executor, None
            await asyncio.get_running_loop().run_in_executor(executor, self._close_sync)
            executor.shutdown(wait=False)
        else:
            self._close_sync()

    # -- on the device's thread --------------------------------------------------------------

    async def _run(self, function: Any, *args: Any) -> Any:
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=1, thread_name_prefix=f"audit-{self.path.rstrip('/')}"
            )
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    def _open_sync(self) -> None:
        if self._fd is not None:
            return
        path = self.target
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, self.mode or DEFAULT_FILE_MODE)
        except FileNotFoundError:
            raise AuditDeviceError(
                f'cannot open audit file "{path}": directory "{os.path.dirname(path)}" does not exist'
            ) from None
        except OSError as error:
            raise AuditDeviceError(f'cannot open audit file "{path}" for writing: {error.strerror}') from None
        try:
            # Enforce the mode on a file that already existed too (and despite the umask),
            # except for "0000" (keep the file's mode) and non-regular files (/dev/null, a FIFO).
            if self.mode and stat.S_ISREG(os.fstat(fd).st_mode):
                os.fchmod(fd, self.mode)
        except OSError as error:
            os.close(fd)
            raise AuditDeviceError(
                f'cannot set the mode of audit file "{path}" to {self.mode:04o}: {error.strerror}'
            ) from None
        self._fd = fd

    def _close_sync(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def _reopen_sync(self) -> None:
        self._close_sync()
        self._open_sync()

    def _write_sync(self, line: bytes) -> None:
        if self.target == "stdout":
            stream = sys.stdout
            stream.write(line.decode("utf-8"))
            stream.flush()
            return
        if self._fd is None:  # a failed reopen leaves the file closed; try again now
            self._open_sync()
        written = self._write_all(line)
        if written == len(line):
            return
        if written:
            raise OSError(f"short write to audit file {self.target!r}")
        # Nothing was written: like Vault, reopen once and retry (the file may have been replaced).
        self._close_sync()
        self._open_sync()
        if self._write_all(line, raise_errors=True) != len(line):
            raise OSError(f"short write to audit file {self.target!r}")

    def _write_all(self, data: bytes, *, raise_errors: bool = False) -> int:
        assert self._fd is not None
        view = memoryview(data)
        written = 0
        while written < len(data):
            try:
                count = os.write(self._fd, view[written:])
            except OSError:
                if raise_errors or written:
                    raise
                return 0
            if count == 0:
                break
            written += count
        return written


DEVICE_TYPES: dict[str, type[AuditDevice]] = {"file": FileAuditDevice}


def create_device(
    device_type: str,
    path: str,
    options: Mapping[str, Any] | None = None,
    *,
    description: str = "",
    local: bool = False,
    uuid: str | None = None,
) -> AuditDevice:
    factory = DEVICE_TYPES.get(device_type)
    if factory is None:
        raise AuditDeviceError(f'unknown backend type: "{device_type}"')
    return factory(path, options, description=description, local=local, uuid=uuid)


# -- the broker ------------------------------------------------------------------------------------


@dataclass
class _Enabled:
    device: AuditDevice
    view: StorageView
    salt: bytes


class AuditBroker:
    """The enabled devices, their salts, and the formatting and fan-out of entries to them."""

    def __init__(self) -> None:
        self._enabled: dict[str, _Enabled] = {}
        self._lock = asyncio.Lock()

    @property
    def devices(self) -> dict[str, AuditDevice]:
        return {path: enabled.device for path, enabled in self._enabled.items()}

    @property
    def enabled(self) -> bool:
        return bool(self._enabled)

    def get(self, path: str) -> AuditDevice | None:
        enabled = self._enabled.get(normalize_path(path))
        return enabled.device if enabled else None

    def listing(self) -> dict[str, dict[str, Any]]:
        """The `GET sys/audit` document: path → type, description, options, path, local."""
        return {path: enabled.device.describe() for path, enabled in self._enabled.items()}

    async def enable(self, device: AuditDevice, view: StorageView) -> None:
        """Open `device` (a file that cannot be opened is refused) and load its salt from `view`,
        creating it on first enable. Raises AuditDeviceError ("path already in use", an unwritable
        file); on failure nothing stays open or enabled."""
        async with self._lock:
            for existing in self._enabled:
                if existing.startswith(device.path) or device.path.startswith(existing):
                    raise AuditDeviceError("path already in use")
            try:
                await device.open()
                salt = await view.get(SALT_KEY)
                if salt is None:
                    salt = os.urandom(SALT_SIZE)
                    await view.put(SALT_KEY, salt)
            except BaseException:
                await device.close()
                raise
            self._enabled[device.path] = _Enabled(device, view, bytes(salt))
            log.info("audit device enabled", extra={"path": device.path, "type": device.type})

    async def disable(self, path: str, *, forget_salt: bool = True) -> AuditDevice | None:
        """Close and remove the device at `path` (None if there is none); its salt is deleted
        unless `forget_salt` is false, so hashes of a later device cannot be matched with its log."""
        async with self._lock:
            enabled = self._enabled.pop(normalize_path(path), None)
            if enabled is None:
                return None
            try:
                await enabled.device.close()
            except Exception as error:  # the device is gone either way
                log.warning(
                    "audit device did not close cleanly", extra={"path": enabled.device.path, "error": _describe(error)}
                )
            if forget_salt:
                await enabled.view.delete(SALT_KEY)
            log.info("audit device disabled", extra={"path": enabled.device.path})
            return enabled.device

    async def close(self) -> None:
        """Close every device and forget the salts (at seal); the devices stay in the core's table."""
        async with self._lock:
            enabled, self._enabled = self._enabled, {}
            for item in enabled.values():
                try:
                    await item.device.close()
                except Exception as error:
                    log.warning(
                        "audit device did not close cleanly", extra={"path": item.device.path, "error": _describe(error)}
                    )

    async def reopen(self) -> list[str]:
        """Reopen every device's sink (SIGHUP, after log rotation); returns the paths that failed,
        which keep trying to open their file at each write."""
        failed = []
        for item in list(self._enabled.values()):
            try:
                await item.device.reopen()
            except Exception as error:
                failed.append(item.device.path)
                log.error("audit device failed to reopen", extra={"path": item.device.path, "error": _describe(error)})
        return failed

    def hash(self, path: str, value: str) -> str:
        """The HMAC of `value` as device `path` logs it (sys/audit-hash)."""
        enabled = self._enabled.get(normalize_path(path))
        if enabled is None:
            raise UnknownAuditDevice(normalize_path(path))
        return hmac_sha256(enabled.salt, value)

    async def log_request(self, entry_input: LogInput) -> None:
        await self._log("request", entry_input)

    async def log_response(self, entry_input: LogInput) -> None:
        await self._log("response", entry_input)

    async def _log(self, kind: str, entry_input: LogInput) -> None:
        targets = list(self._enabled.values())
        if not targets:
            return
        now = rfc3339_nano(time.time_ns())
        results = await asyncio.gather(
            *(self._write_to(target, kind, entry_input, now) for target in targets), return_exceptions=True
        )
        succeeded = 0
        counted = 0
        for target, result in zip(targets, results):
            if self._enabled.get(target.device.path) is not target:
                continue  # disabled (or the store sealed) while the entry was being written
            counted += 1
            if isinstance(result, BaseException):
                log.error(
                    f"audit device failed to log the {kind}",
                    extra={"path": target.device.path, "error": _describe(result)},
                )
            else:
                succeeded += 1
        if counted and not succeeded:
            failure = AuditFailed(kind)
            log.error(failure.reason, extra={"devices": len(targets)})
            raise failure

    async def _write_to(self, target: _Enabled, kind: str, entry_input: LogInput, now: str) -> None:
        formatter = _Formatter(target.device.config, target.salt)
        if kind == "request":
            entry = formatter.request_entry(entry_input, now)
        else:
            entry = formatter.response_entry(entry_input, now)
        await target.device.write(entry)


# -- formatting ------------------------------------------------------------------------------------


def hmac_sha256(salt: bytes, value: str) -> str:
    """Vault's identified HMAC: `hmac-sha256:` and the hex HMAC-SHA256 of the value under the salt."""
    return HMAC_PREFIX + hmac.new(salt, value.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


def client_id(policies: Sequence[str], namespace_id: str = "root", entity_id: str = "") -> str:
    """Vault's client ID: the entity ID, or, for a token without an entity, the base64 SHA-256 of
    its sorted policies (joined by 0x7F) and its namespace (after 0x00)."""
    if entity_id:
        return entity_id
    plain = "\x7f".join(sorted(policies)) + "\x00" + namespace_id
    return base64.b64encode(hashlib.sha256(plain.encode()).digest()).decode()


class _Formatter:
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
            block["token_issue_time"] = _rfc3339(auth.token_issue_time)
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
                "creation_time": _rfc3339_nano_from(wrap.creation_time),
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
        return _hash_map(data, self.hash, frozenset(non_hmac_keys))


def _hash_map(data: Mapping[str, Any], hash_fn: Any, ignored: frozenset[str]) -> dict[str, Any]:
    return {key: _hash_value(value, hash_fn, ignored, str(key)) for key, value in data.items()}


def _hash_value(value: Any, hash_fn: Any, ignored: frozenset[str], key: str) -> Any:
    """Vault's HashStructure: every string value is HMAC'd, except under a key of `ignored` (the
    mount's non-HMAC keys, which also cover the items of a list under that key); map keys,
    numbers, booleans and nulls are kept; times become RFC 3339 strings, unhashed."""
    if isinstance(value, str):
        return value if key in ignored else hash_fn(value)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, Mapping):
        return _hash_map(value, hash_fn, ignored)
    if isinstance(value, (list, tuple)):
        return [_hash_value(item, hash_fn, ignored, key) for item in value]
    if isinstance(value, datetime):
        return _rfc3339_nano_from(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        text = bytes(value).decode("utf-8", "replace")
        return text if key in ignored else hash_fn(text)
    # Anything else is hashed in its string form: an unknown type must not leak in clear.
    return str(value) if key in ignored else hash_fn(str(value))


def _plain(value: Any) -> Any:
    """A JSON-ready copy for raw logging (times as RFC 3339, bytes as text)."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, datetime):
        return _rfc3339_nano_from(value)
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


def _describe(error: BaseException) -> str:
    """An error for the server log, without the values it may carry: the type, and for an OS
    error its errno, message and file name."""
    if isinstance(error, AuditDeviceError):
        return f"{type(error).__name__}: {error.messages[0] if error.messages else ''}"
    if isinstance(error, OSError) and error.strerror:
        where = f": {error.filename}" if error.filename else ""
        return f"{type(error).__name__}: [Errno {error.errno}] {error.strerror}{where}"
    if isinstance(error, OSError):
        return f"{type(error).__name__}: {error}"
    return type(error).__name__


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return _rfc3339_nano_from(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    return str(value)


def _rfc3339_nano_from(value: datetime | float | str) -> str:
    """Go's RFC3339Nano of a time given as a datetime or epoch seconds; a string is already formatted."""
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
        delta = moment - epoch
        return rfc3339_nano((delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000)
    return rfc3339_nano(int(round(value * 1_000_000_000)))


def _rfc3339(value: datetime | float | str) -> str:
    """RFC 3339 to the second, as Vault logs token_issue_time."""
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return rfc3339_seconds(moment.timestamp())
    return rfc3339_seconds(value)


# -- options ---------------------------------------------------------------------------------------


def normalize_path(path: str) -> str:
    """Device paths end with one slash, as Vault lists them ("file/")."""
    cleaned = path.strip().strip("/")
    if not cleaned:
        raise AuditDeviceError("audit device path must be specified")
    return cleaned + "/"


_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


def _option_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _parse_bool(options: Mapping[str, str], name: str, default: bool) -> bool:
    """Go's strconv.ParseBool, which Vault uses for these options."""
    if name not in options:
        return default
    value = options[name]
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise AuditDeviceError(f'unable to parse "{name}": {value!r} is not a boolean')


def _parse_format(value: str) -> str:
    if value == "json":
        return value
    if value == "jsonx":
        raise AuditDeviceError('the "jsonx" audit format is not supported; omit "format" or set it to "json"')
    raise AuditDeviceError(f'unknown format type "{value}" (only "json" is supported)')


def _parse_mode(value: str) -> int:
    try:
        mode = int(value, 8)
    except ValueError:
        raise AuditDeviceError(f'unable to parse "mode": {value!r} is not an octal file mode such as "0600"') from None
    if not 0 <= mode <= 0o777:
        raise AuditDeviceError(f'invalid "mode" {value!r}: only permission bits (0000 to 0777) are allowed')
    if mode & 0o111:
        raise AuditDeviceError(f'invalid "mode" {value!r}: an audit file cannot have executable permissions')
    return mode
