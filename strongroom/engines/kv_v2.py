"""KV version 2: versioned secrets, with Vault's (and OpenBao's) endpoints, semantics and messages.

Storage, relative to the mount's view (every entry is encrypted by the barrier below it):

    config                      the engine settings: max_versions, cas_required, delete_version_after, ...
    metadata/<path>             one secret's metadata: its versions' times and states, its settings
    versions/<digest>/<n>       version n's data; <digest> is a hash of <path>, so a version key has a fixed shape
    upgraded                    present once v1 data (under `data/`) has been turned into v2 secrets

Reading the latest version costs two storage reads: the metadata, then that version. A write puts
the new version and the metadata (and deletes the versions that fall out of `max_versions`) in one
transaction. Writers of one secret are serialised by a per-path asyncio lock; readers take no lock
and re-read the metadata when the version they were told about has just gone.

Decoded metadata and the engine config are cached in memory (metadata first in first out, at most
`METADATA_CACHE_SIZE` paths; version data never, so that secrets do not linger in memory). Cached
objects are shared: readers never change them, and writers start from their own copy, read from
storage (another process may have written since this one cached). Another process's writes reach
the cache through `invalidate`; a fill from a read that a write or an invalidation overtook is
dropped (a generation counter tells), and a reader that finds its version gone or replaced reads
the metadata again from storage.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from strongroom.logical.backend import Backend, Handler, route
from strongroom.logical.errors import BadRequest, NotFound, NotFoundResponse, StrongroomError
from strongroom.logical.request import Operation, Request, Response
from strongroom.logical.storage_view import StorageView
from strongroom.engines.kv import (
    BOOL,
    COUNT,
    DURATION,
    INT,
    INT_LIST,
    MAP,
    SIGNED_DURATION,
    STRING,
    FieldError,
    decode_fields,
    encode_json,
    go_duration,
    go_quote,
    reject_directory_write,
    rfc3339_nano,
    weak_int,
    weak_string,
    with_ignored_parameters,
)
from strongroom.engines.kv_v1 import DATA_PREFIX
from strongroom.storage.base import Delete, Put, WriteConflict

READ, UPDATE, PATCH, DELETE, LIST = (
    Operation.READ,
    Operation.UPDATE,
    Operation.PATCH,
    Operation.DELETE,
    Operation.LIST,
)

CONFIG_KEY = "config"
METADATA_PREFIX = "metadata/"
VERSIONS_PREFIX = "versions/"
UPGRADE_MARKER = "upgraded"

DEFAULT_MAX_VERSIONS = 10
#: decoded metadata kept in memory, by secret path
METADATA_CACHE_SIZE = 10_000
MAX_CUSTOM_METADATA_KEYS = 64
MAX_CUSTOM_METADATA_KEY_LENGTH = 128
MAX_CUSTOM_METADATA_VALUE_LENGTH = 512
#: how often a reader re-reads metadata when a writer removed the version it was about to read
READ_ATTEMPTS = 3
UPGRADE_BATCH = 128


# -- the stored model ---------------------------------------------------------------------------


@dataclass(slots=True)
class EngineConfig:
    max_versions: int = 0
    cas_required: bool = False
    metadata_cas_required: bool = False
    #: seconds; 0 is "not set", -1 disables delete_version_after on every secret
    delete_version_after: int = 0

    @property
    def deletion_disabled(self) -> bool:
        return self.delete_version_after < 0

    def encode(self) -> bytes:
        return encode_json(
            {
                "cas_required": self.cas_required,
                "delete_version_after": self.delete_version_after,
                "max_versions": self.max_versions,
                "metadata_cas_required": self.metadata_cas_required,
            }
        )

    @classmethod
    def decode(cls, raw: bytes) -> EngineConfig:
        return cls(**json.loads(raw))

    def describe(self) -> dict[str, Any]:
        return {
            "cas_required": self.cas_required,
            "delete_version_after": go_duration(self.delete_version_after),
            "max_versions": self.max_versions,
            "metadata_cas_required": self.metadata_cas_required,
        }


@dataclass(slots=True)
class VersionMetadata:
    created_time: int  # nanoseconds since the epoch, like every time below
    deletion_time: int | None = None
    destroyed: bool = False

    def readable(self, now: int) -> bool:
        """Neither destroyed nor deleted; a deletion time still in the future does not count yet."""
        return not self.destroyed and not self.soft_deleted(now)

    def soft_deleted(self, now: int) -> bool:
        # Inclusive, unlike Vault's Before(): a delete stamped `now` and read within the same clock tick
        # (coarse clocks) must already read as deleted.
        return self.deletion_time is not None and self.deletion_time <= now


@dataclass(slots=True)
class KeyMetadata:
    created_time: int | None = None
    updated_time: int | None = None
    current_version: int = 0
    oldest_version: int = 0
    max_versions: int = 0
    cas_required: bool = False
    delete_version_after: int = 0  # seconds; 0 is "use the engine's"
    custom_metadata: dict[str, str] = field(default_factory=dict)
    metadata_cas_required: bool = False
    current_metadata_version: int = 0
    versions: dict[int, VersionMetadata] = field(default_factory=dict)

    def copy(self) -> KeyMetadata:
        """A copy a writer may change: the cached one is shared. Built field by field: every write of a
        secret copies up to `max_versions` versions, and `dataclasses.replace` costs several times more."""
        return KeyMetadata(
            self.created_time,
            self.updated_time,
            self.current_version,
            self.oldest_version,
            self.max_versions,
            self.cas_required,
            self.delete_version_after,
            dict(self.custom_metadata),
            self.metadata_cas_required,
            self.current_metadata_version,
            {number: VersionMetadata(v.created_time, v.deletion_time, v.destroyed) for number, v in self.versions.items()},
        )

    def encode(self) -> bytes:
        return encode_json(
            {
                "cas_required": self.cas_required,
                "created_time": self.created_time,
                "current_metadata_version": self.current_metadata_version,
                "current_version": self.current_version,
                "custom_metadata": self.custom_metadata,
                "delete_version_after": self.delete_version_after,
                "max_versions": self.max_versions,
                "metadata_cas_required": self.metadata_cas_required,
                "oldest_version": self.oldest_version,
                "updated_time": self.updated_time,
                "versions": {
                    str(number): [v.created_time, v.deletion_time, v.destroyed] for number, v in self.versions.items()
                },
            }
        )

    @classmethod
    def decode(cls, raw: bytes) -> KeyMetadata:
        document = json.loads(raw)
        versions = {int(number): VersionMetadata(*state) for number, state in document.pop("versions").items()}
        return cls(**document, versions=versions)

    def add_version(self, created: int, deletion: int | None, engine_max_versions: int) -> list[int]:
        """Record a new current version and slide the `max_versions` window (the larger of the
        secret's and the engine's, else 10, as Vault does); returns the versions whose data must go."""
        self.current_version += 1
        self.versions[self.current_version] = VersionMetadata(created, deletion)
        self.updated_time = created
        if self.created_time is None:
            self.created_time = created
        keep = max(self.max_versions, engine_max_versions) or DEFAULT_MAX_VERSIONS
        if self.current_version - self.oldest_version < keep:
            return []
        last_dropped = self.current_version - keep
        dropped = list(range(max(self.oldest_version, 1), last_dropped + 1))
        for number in range(self.oldest_version, last_dropped + 1):
            self.versions.pop(number, None)
        self.oldest_version = last_dropped + 1
        return dropped

    def version_summary(self, number: int) -> dict[str, Any]:
        """A version as a data read, a write and a patch describe it."""
        version = self.versions[number]
        return {
            "created_time": rfc3339_nano(version.created_time),
            "custom_metadata": self.sorted_custom_metadata(),
            "deletion_time": rfc3339_nano(version.deletion_time),
            "destroyed": version.destroyed,
            "version": number,
        }

    def sorted_custom_metadata(self) -> dict[str, str] | None:
        """As Go encodes the map: keys sorted, and null when empty."""
        return dict(sorted(self.custom_metadata.items())) or None

    def describe(self) -> dict[str, Any]:
        """The body of a metadata read, in Vault's (sorted) field order."""
        return {
            "cas_required": self.cas_required,
            "created_time": rfc3339_nano(self.created_time),
            "current_metadata_version": self.current_metadata_version,
            "current_version": self.current_version,
            "custom_metadata": self.sorted_custom_metadata(),
            "delete_version_after": go_duration(self.delete_version_after),
            "max_versions": self.max_versions,
            "metadata_cas_required": self.metadata_cas_required,
            "oldest_version": self.oldest_version,
            "updated_time": rfc3339_nano(self.updated_time),
            "versions": {
                str(number): {
                    "created_time": rfc3339_nano(v.created_time),
                    "deletion_time": rfc3339_nano(v.deletion_time),
                    "destroyed": v.destroyed,
                }
                # Go sorts map keys as strings: "1", "10", "2"
                for number, v in sorted(self.versions.items(), key=lambda item: str(item[0]))
            },
        }


def deletion_time(created: int, engine_seconds: int, key_seconds: int) -> int | None:
    """When a version written at `created` reads as deleted: after the smaller non-zero of the two settings."""
    if engine_seconds == 0 and key_seconds == 0:
        return None
    chosen = key_seconds
    if (engine_seconds != 0 and engine_seconds < chosen) or chosen == 0:
        chosen = engine_seconds
    return created + chosen * 1_000_000_000


_UNKNOWN = object()
_WRITE_STRIPES = 4096


def version_key(path: str, number: int) -> str:
    digest = hashlib.blake2b(path.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
    return f"{VERSIONS_PREFIX}{digest}/{number}"


def encode_version(created: int, data: Mapping[str, Any]) -> bytes:
    """A version's entry keeps its creation time, so a reader can tell it from a later secret at the same path."""
    return encode_json({"created_time": created, "data": data})


# -- endpoint parameters: Vault's field schemas (decoded by `kv.decode_fields`) --------------------

CONFIG_FIELDS = {
    "max_versions": COUNT,
    "cas_required": BOOL,
    "metadata_cas_required": BOOL,
    "delete_version_after": SIGNED_DURATION,
}
DATA_FIELDS = {"version": INT, "options": MAP, "data": MAP}
METADATA_FIELDS = {
    "cas_required": BOOL,
    "metadata_cas_required": BOOL,
    "max_versions": COUNT,
    "delete_version_after": DURATION,
    "custom_metadata": MAP,
    "metadata_cas": INT,
    "after": STRING,
    "limit": INT,
}
LIST_FIELDS = {"after": STRING, "limit": INT}
VERSIONS_FIELDS = {"versions": INT_LIST}
SUBKEYS_FIELDS = {"depth": INT, "version": INT}
METADATA_SETTINGS = ("max_versions", "cas_required", "metadata_cas_required", "delete_version_after", "custom_metadata")


# -- custom metadata, JSON merge patch, subkeys ---------------------------------------------------

_CUSTOM_METADATA_ERROR = "custom_metadata validation failed"


def parse_custom_metadata(raw: Mapping[str, Any], *, keep_nulls: bool) -> dict[str, Any]:
    """String values, as Vault converts them; with `keep_nulls` (a patch) a null stays, to remove its key."""
    parsed: dict[str, Any] = {}
    for key, value in raw.items():
        if value is None and keep_nulls:
            parsed[key] = None
            continue
        try:
            parsed[key] = weak_string(value)
        except FieldError as error:
            raise BadRequest(f"{_CUSTOM_METADATA_ERROR}: {error}") from None
    return parsed


def validate_custom_metadata(metadata: Mapping[str, str | None]) -> None:
    """Vault's limits: at most 64 keys, keys of 1-128 bytes, values of 1-512 bytes, all printable."""
    if len(metadata) > MAX_CUSTOM_METADATA_KEYS:
        raise BadRequest(
            _multierror(
                [f"{_CUSTOM_METADATA_ERROR}: payload must contain at most "
                 f"{MAX_CUSTOM_METADATA_KEYS} keys, provided {len(metadata)}"]
            )
        )
    errors: list[str] = []
    for key, value in metadata.items():
        if value is None:  # a patch removing the key
            continue
        key_length = len(key.encode("utf-8", "surrogatepass"))
        value_length = len(value.encode("utf-8", "surrogatepass"))
        if not 0 < key_length <= MAX_CUSTOM_METADATA_KEY_LENGTH:
            errors.append(
                f"{_CUSTOM_METADATA_ERROR}: length of key {go_quote(key)} is {key_length} "
                f"but must be 0 < len(key) <= {MAX_CUSTOM_METADATA_KEY_LENGTH}"
            )
        if not 0 < value_length <= MAX_CUSTOM_METADATA_VALUE_LENGTH:
            errors.append(
                f"{_CUSTOM_METADATA_ERROR}: length of value for key {go_quote(key)} is {value_length} "
                f"but must be 0 < len(value) <= {MAX_CUSTOM_METADATA_VALUE_LENGTH}"
            )
        if not key.isprintable():
            errors.append(f"{_CUSTOM_METADATA_ERROR}: key {go_quote(key)} ({key}) contains unprintable characters")
        if not value.isprintable():
            errors.append(f"{_CUSTOM_METADATA_ERROR}: value for key {go_quote(key)} contains unprintable characters")
    if errors:
        raise BadRequest(_multierror(errors))


def _multierror(errors: list[str]) -> str:
    """go-multierror's format, which Vault uses for custom_metadata."""
    points = "\n\t".join(f"* {error}" for error in errors)
    if len(errors) == 1:
        return f"1 error occurred:\n\t{points}\n\n"
    return f"{len(errors)} errors occurred:\n\t{points}\n\n"


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: objects merge recursively, null removes a key, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def subkeys(data: Mapping[str, Any], max_depth: int, depth: int = 1) -> dict[str, Any]:
    """The secret's structure with every leaf (a non-object or an empty object) replaced by null;
    objects deeper than `max_depth` (0: no limit) count as leaves."""
    result: dict[str, Any] = {}
    for key, value in data.items():
        descend = isinstance(value, dict) and value and (max_depth == 0 or depth + 1 <= max_depth)
        result[key] = subkeys(value, max_depth, depth + 1) if descend else None
    return result


# -- the engine ----------------------------------------------------------------------------------


class VersionedKV:
    def __init__(self, storage: StorageView, *, cache_size: int = METADATA_CACHE_SIZE) -> None:
        self.storage = storage
        self.cache_size = cache_size
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._config: EngineConfig | None = None
        self._config_lock = asyncio.Lock()
        #: decoded metadata per path; None: known to have none (a write of a new path asks first)
        self._metadata: dict[str, KeyMetadata | None] = {}
        #: moves when the config or everything is invalidated: a fill from a read it overtook is dropped
        self._generation = 0
        #: per stripe of paths, moves before and after every write and when a path of the stripe is
        #: invalidated: a fill from a read (or a write) it overtook is dropped, while writes and
        #: invalidations of other paths leave it alone
        self._writes = [0] * _WRITE_STRIPES

    # the cache ----------------------------------------------------------------------------------

    def invalidate(self, key: str) -> None:
        """Forget what is cached of `key` (relative to the mount's view), which another process wrote.
        Version data (`versions/...`) and v1 leftovers are never cached: nothing to forget."""
        if key == CONFIG_KEY:
            self._config = None
            self._generation += 1
        elif key.startswith(METADATA_PREFIX):
            path = key[len(METADATA_PREFIX) :]
            self._metadata.pop(path, None)
            # Only fills and writes of this path's stripe are overtaken: what this process cached of
            # other secrets, its own writes included, stays.
            self._writes[hash(path) % _WRITE_STRIPES] += 2

    def invalidate_all(self) -> None:
        self._config = None
        self._metadata.clear()
        self._generation += 1

    def _remember(self, path: str, meta: KeyMetadata | None) -> None:
        if self.cache_size <= 0:
            return
        if path not in self._metadata:
            while len(self._metadata) >= self.cache_size:
                del self._metadata[next(iter(self._metadata))]
        self._metadata[path] = meta

    # storage ------------------------------------------------------------------------------------

    def _lock(self, path: str) -> asyncio.Lock:
        """The lock of one secret, alive while someone holds or waits for it."""
        lock = self._locks.get(path)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[path] = lock
        return lock

    async def config(self) -> EngineConfig:
        """The engine settings, cached (never to be changed in place)."""
        config = self._config
        if config is None:
            stripe = hash(CONFIG_KEY) % _WRITE_STRIPES
            generation, writes = self._generation, self._writes[stripe]
            config = await self._stored_config()
            if generation == self._generation and writes == self._writes[stripe]:
                self._config = config
        return config

    async def _stored_config(self) -> EngineConfig:
        raw = await self.storage.get(CONFIG_KEY)
        return EngineConfig.decode(raw) if raw is not None else EngineConfig()

    async def metadata(self, path: str) -> KeyMetadata | None:
        """The secret's metadata, cached and shared: never change it (writers use `_stored_metadata`)."""
        meta = self._metadata.get(path, _UNKNOWN)
        if meta is _UNKNOWN:
            stripe = hash(path) % _WRITE_STRIPES
            generation, writes = self._generation, self._writes[stripe]
            raw = await self.storage.get(METADATA_PREFIX + path)
            meta = KeyMetadata.decode(raw) if raw is not None else None
            if generation == self._generation and writes == self._writes[stripe]:
                self._remember(path, meta)
        return meta  # type: ignore[return-value]

    async def _stored_metadata(self, path: str) -> KeyMetadata | None:
        """The metadata as last known, this caller's own copy: what a change starts from.

        The cache follows this process's own writes and drops what other processes wrote; a change
        based on metadata another process has changed meanwhile conflicts (see `_write`)."""
        meta = await self.metadata(path)
        return meta.copy() if meta is not None else None

    async def _write(self, path: str, operations: list[Put | Delete], since: int | None) -> bool:
        """Run `operations` (a change of `path`) in one transaction; False when an invalidation overtook
        it, so that the writer must not cache what it wrote. Reads of the path's stripe overlapping the
        write fill nothing: its count moves before and after it.

        With `since` (the storage's position before the change read anything), the transaction is
        conditional: WriteConflict when another process changed the path's metadata or the engine's
        config after that; the core then runs the handler again (`Core._run`) on what that process wrote."""
        stripe = hash(path) % _WRITE_STRIPES
        self._writes[stripe] += 1
        mark = self._writes[stripe]
        generation = self._generation
        try:
            if since is None:
                await self.storage.transaction(operations)
            else:
                await self.storage.conditional_transaction(operations, (METADATA_PREFIX + path, CONFIG_KEY), since)
        except WriteConflict:
            self._metadata.pop(path, None)
            self._config = None
            raise
        finally:
            overtaken = generation != self._generation or self._writes[stripe] != mark
            self._writes[stripe] += 1
        return not overtaken

    async def _commit(self, path: str, meta: KeyMetadata | None, operations: list[Put | Delete], since: int) -> None:
        """Run `operations`, which store `meta` at `path` (None: delete it), and cache `meta`."""
        self._metadata.pop(path, None)
        if await self._write(path, operations, since) and meta is not None:
            self._remember(path, meta)

    async def _save(self, path: str, meta: KeyMetadata, since: int) -> None:
        await self._commit(path, meta, [Put(METADATA_PREFIX + path, meta.encode())], since)

    async def _add_version(self, path: str, meta: KeyMetadata, data: Mapping[str, Any], since: int) -> Response:
        """Write `data` as the next version and its metadata in one transaction."""
        config = await self.config()
        created = time.time_ns()
        deletion = None
        if not config.deletion_disabled:
            deletion = deletion_time(created, config.delete_version_after, meta.delete_version_after)
        dropped = meta.add_version(created, deletion, config.max_versions)
        await self._commit(
            path,
            meta,
            [
                Put(version_key(path, meta.current_version), encode_version(created, data)),
                Put(METADATA_PREFIX + path, meta.encode()),
                *(Delete(version_key(path, number)) for number in dropped),
            ],
            since,
        )
        return Response(data=meta.version_summary(meta.current_version))

    async def _read_version(
        self, path: str, requested: int, describe: Callable[[KeyMetadata, int, dict[str, Any] | None], dict[str, Any]]
    ) -> Response:
        """A version's data (the current one unless `requested` > 0), described by `describe`; a deleted or
        destroyed version is a 404 that still describes it. No lock: when a writer removes the version
        between our two reads, the metadata is read again."""
        for _ in range(READ_ATTEMPTS):
            meta = await self.metadata(path)
            if meta is None:
                raise NotFound()
            number = requested if requested > 0 else meta.current_version
            version = meta.versions.get(number)
            if version is None:
                raise NotFound()
            if not version.readable(time.time_ns()):
                raise NotFoundResponse(Response(data=describe(meta, number, None)))
            raw = await self.storage.get(version_key(path, number))
            stored = json.loads(raw) if raw is not None else None
            if stored is not None and stored["created_time"] == version.created_time:
                return Response(data=describe(meta, number, stored["data"]))
            # The metadata read is older than the data: storage has it newer (and the cache may not yet).
            self._metadata.pop(path, None)
        raise StrongroomError(f"could not find version data for {path!r}, version {number}")

    # config -------------------------------------------------------------------------------------

    async def read_config(self, request: Request, match: re.Match[str]) -> Response:
        decode_fields(request.data, CONFIG_FIELDS, prefixed=True)
        config = await self.config()
        return with_ignored_parameters(request, CONFIG_FIELDS, Response(data=config.describe()))

    async def write_config(self, request: Request, match: re.Match[str]) -> None:
        reject_directory_write(request)
        fields = decode_fields(request.data, CONFIG_FIELDS, prefixed=True)
        if not fields:
            return
        async with self._config_lock:
            current = await self._stored_config()
            config = EngineConfig(
                max_versions=fields.get("max_versions", current.max_versions),
                cas_required=fields.get("cas_required", current.cas_required),
                metadata_cas_required=fields.get("metadata_cas_required", current.metadata_cas_required),
                delete_version_after=max(fields.get("delete_version_after", current.delete_version_after), -1),
            )
            self._config = None
            if await self._write(CONFIG_KEY, [Put(CONFIG_KEY, config.encode())], None):
                self._config = config

    # data ---------------------------------------------------------------------------------------

    async def secret_exists(self, request: Request, match: re.Match[str]) -> bool:
        return await self.metadata(match["path"]) is not None

    async def read_data(self, request: Request, match: re.Match[str]) -> Response:
        fields = decode_fields(request.data, DATA_FIELDS, prefixed=True)

        def describe(meta: KeyMetadata, number: int, data: dict[str, Any] | None) -> dict[str, Any]:
            return {"data": data, "metadata": meta.version_summary(number)}

        response = await self._read_version(match["path"], fields.get("version", 0), describe)
        return with_ignored_parameters(request, DATA_FIELDS, response)

    async def write_data(self, request: Request, match: re.Match[str]) -> Response:
        fields, data = _data_write_fields(request, prefixed=False)
        path = match["path"]
        async with self._lock(path):
            since = self.storage.position()
            meta = await self._stored_metadata(path) or KeyMetadata()
            await self._check_and_set(fields, meta)
            response = await self._add_version(path, meta, data, since)
        return with_ignored_parameters(request, DATA_FIELDS, response)

    async def patch_data(self, request: Request, match: re.Match[str]) -> Response:
        fields, patch = _data_write_fields(request, prefixed=True)
        path = match["path"]
        async with self._lock(path):
            since = self.storage.position()
            meta = await self._stored_metadata(path)
            if meta is None:
                raise NotFound()
            await self._check_and_set(fields, meta)
            current = meta.versions.get(meta.current_version)
            if current is None:
                raise NotFound()
            if not current.readable(time.time_ns()):
                raise NotFoundResponse(Response(data=meta.version_summary(meta.current_version)))
            raw = await self.storage.get(version_key(path, meta.current_version))
            if raw is None:
                raise StrongroomError(f"could not find version data for {path!r}, version {meta.current_version}")
            response = await self._add_version(path, meta, merge_patch(json.loads(raw)["data"], patch), since)
        return with_ignored_parameters(request, DATA_FIELDS, response)

    async def _check_and_set(self, fields: Mapping[str, Any], meta: KeyMetadata) -> None:
        options = fields.get("options") or {}
        if "cas" in options:
            try:
                cas = weak_int(options["cas"])
            except FieldError:
                raise BadRequest("error parsing check-and-set parameter") from None
            if cas != meta.current_version:
                raise BadRequest("check-and-set parameter did not match the current version")
        elif (await self.config()).cas_required or meta.cas_required:
            raise BadRequest("check-and-set parameter required for this call")

    async def delete_latest(self, request: Request, match: re.Match[str]) -> None:
        """DELETE on data/: soft-deletes the current version."""
        path = match["path"]
        async with self._lock(path):
            since = self.storage.position()
            meta = await self._stored_metadata(path)
            latest = meta.versions.get(meta.current_version) if meta else None
            now = time.time_ns()
            if meta is None or latest is None or latest.destroyed or latest.soft_deleted(now):
                return
            latest.deletion_time = now
            await self._save(path, meta, since)

    # delete / undelete / destroy ----------------------------------------------------------------

    async def _versions_change(
        self,
        request: Request,
        path: str,
        missing: str,
        change: Callable[[KeyMetadata, list[int]], Awaitable[list[str]]],
    ) -> None:
        """Apply `change` to the versions named by `versions`; it returns the storage keys to remove."""
        reject_directory_write(request)
        versions = decode_fields(request.data, VERSIONS_FIELDS, prefixed=True).get("versions") or []
        if not versions:
            raise BadRequest(missing)
        async with self._lock(path):
            since = self.storage.position()
            meta = await self._stored_metadata(path)
            if meta is None:
                return
            removed_keys = await change(meta, versions)
            await self._commit(
                path, meta, [Put(METADATA_PREFIX + path, meta.encode()), *(Delete(key) for key in removed_keys)], since
            )

    async def delete_versions(self, request: Request, match: re.Match[str]) -> None:
        async def soft_delete(meta: KeyMetadata, numbers: list[int]) -> list[str]:
            now = time.time_ns()
            for number in numbers:
                version = meta.versions.get(number)
                if version is not None and not version.destroyed and not version.soft_deleted(now):
                    version.deletion_time = now
            return []

        await self._versions_change(request, match["path"], "No version number provided", soft_delete)

    async def undelete_versions(self, request: Request, match: re.Match[str]) -> None:
        async def undelete(meta: KeyMetadata, numbers: list[int]) -> list[str]:
            config = await self.config()
            now = time.time_ns()
            for number in numbers:
                version = meta.versions.get(number)
                if version is None or version.destroyed:
                    continue
                version.deletion_time = None
                if not config.deletion_disabled:
                    version.deletion_time = deletion_time(now, config.delete_version_after, meta.delete_version_after)
            return []

        await self._versions_change(request, match["path"], "No version number provided", undelete)

    async def destroy_versions(self, request: Request, match: re.Match[str]) -> None:
        path = match["path"]

        async def destroy(meta: KeyMetadata, numbers: list[int]) -> list[str]:
            removed = []
            for number in numbers:
                version = meta.versions.get(number)
                if version is not None and not version.destroyed:
                    version.destroyed = True
                    removed.append(version_key(path, number))
            return removed

        await self._versions_change(request, path, "no version number provided", destroy)

    # metadata -----------------------------------------------------------------------------------

    async def read_metadata(self, request: Request, match: re.Match[str]) -> Response:
        decode_fields(request.data, METADATA_FIELDS, prefixed=True)
        meta = await self.metadata(match["path"])
        if meta is None:
            raise NotFound()
        return with_ignored_parameters(request, METADATA_FIELDS, Response(data=meta.describe()))

    async def write_metadata(self, request: Request, match: re.Match[str]) -> Response | None:
        fields = _metadata_write_fields(request, prefixed=False)
        path = match["path"]
        if fields is None:
            return None
        custom: dict[str, Any] | None = None
        if "custom_metadata" in fields:
            custom = parse_custom_metadata(fields["custom_metadata"] or {}, keep_nulls=False)
            validate_custom_metadata(custom)
        async with self._lock(path):
            since = self.storage.position()
            config = await self.config()
            warnings = _mandated_by_config(fields, config)
            meta = await self._stored_metadata(path)
            _check_metadata_cas(fields, meta, config)
            now = time.time_ns()
            if meta is None:
                meta = KeyMetadata(created_time=now, updated_time=now, current_metadata_version=1)
            else:
                meta.current_metadata_version += 1
                meta.updated_time = now
            _apply_settings(meta, fields)
            if custom is not None:
                meta.custom_metadata = custom
            await self._save(path, meta, since)
        return with_ignored_parameters(request, METADATA_FIELDS, Response(warnings=warnings)) if warnings else None

    async def patch_metadata(self, request: Request, match: re.Match[str]) -> Response | None:
        fields = _metadata_write_fields(request, prefixed=True)
        path = match["path"]
        if fields is None:
            return None
        patch: dict[str, Any] | None = None
        if "custom_metadata" in fields and fields["custom_metadata"] is not None:
            patch = parse_custom_metadata(fields["custom_metadata"], keep_nulls=True)
            validate_custom_metadata(patch)
        async with self._lock(path):
            since = self.storage.position()
            config = await self.config()
            meta = await self._stored_metadata(path)
            if meta is None:
                raise NotFound()
            _check_metadata_cas(fields, meta, config)
            warnings = _mandated_by_config(fields, config)
            _apply_settings(meta, fields)
            if "custom_metadata" in fields:
                custom = merge_patch(meta.custom_metadata, patch) if patch is not None else {}
                if len(custom) > MAX_CUSTOM_METADATA_KEYS:
                    validate_custom_metadata(custom)
                meta.custom_metadata = custom
            meta.current_metadata_version += 1
            meta.updated_time = time.time_ns()
            await self._save(path, meta, since)
        return with_ignored_parameters(request, METADATA_FIELDS, Response(warnings=warnings)) if warnings else None

    async def delete_metadata(self, request: Request, match: re.Match[str]) -> None:
        """Every version and the metadata, permanently."""
        path = match["path"]
        async with self._lock(path):
            since = self.storage.position()
            meta = await self._stored_metadata(path)
            if meta is None:
                return
            await self._commit(
                path,
                None,
                [*(Delete(version_key(path, number)) for number in meta.versions), Delete(METADATA_PREFIX + path)],
                since,
            )

    async def list_metadata(self, request: Request, match: re.Match[str]) -> Response:
        detailed = match["kind"] == "detailed-metadata"
        fields = decode_fields(request.data, LIST_FIELDS if detailed else METADATA_FIELDS, prefixed=True)
        folder = match.groupdict().get("path") or ""
        if folder and not folder.endswith("/"):
            folder += "/"
        keys = await self.storage.list(METADATA_PREFIX + folder)
        after = fields.get("after", "")
        if after:
            keys = [key for key in keys if key > after]
        limit = fields.get("limit", 0)
        if limit > 0:
            keys = keys[:limit]
        if not keys:
            raise NotFound()
        data: dict[str, Any] = {"keys": keys}
        if detailed:
            key_info = {}
            for key in keys:
                meta = None if key.endswith("/") else await self.metadata(folder + key)
                key_info[key] = meta.describe() if meta is not None else {}
            data = {"key_info": key_info, "keys": keys}
        return with_ignored_parameters(request, LIST_FIELDS if detailed else METADATA_FIELDS, Response(data=data))

    # subkeys ------------------------------------------------------------------------------------

    async def read_subkeys(self, request: Request, match: re.Match[str]) -> Response:
        fields = decode_fields(request.data, SUBKEYS_FIELDS, prefixed=True)
        depth = fields.get("depth", 0)

        def describe(meta: KeyMetadata, number: int, data: dict[str, Any] | None) -> dict[str, Any]:
            return {
                "metadata": meta.version_summary(number),
                "subkeys": subkeys(data, depth) if isinstance(data, dict) else None,
            }

        response = await self._read_version(match["path"], fields.get("version", 0), describe)
        return with_ignored_parameters(request, SUBKEYS_FIELDS, response)

    # paths that are not endpoints ---------------------------------------------------------------

    async def mount_root(self, request: Request, match: re.Match[str]) -> None:
        raise NotFoundResponse(
            Response(warnings=["Non-listing operations on the root of a K/V v2 mount are not supported."])
        )

    async def invalid_path(self, request: Request, match: re.Match[str]) -> None:
        command = {READ: "get", LIST: "list", DELETE: "delete", PATCH: "patch"}.get(request.operation, "put")
        raise NotFoundResponse(
            Response(
                warnings=[
                    "Invalid path for a versioned K/V secrets engine. See the API docs for the appropriate API "
                    "endpoints to use. If using the OpenBao CLI, use 'bao kv "
                    f"{command}' for this operation."
                ]
            )
        )

    def backend(self) -> Backend:
        item = r"/(?P<path>.*)"
        root: dict[Operation, Handler] = dict.fromkeys((READ, UPDATE, PATCH, DELETE), self.mount_root)
        return Backend(
            "kv",
            invalidate=self.invalidate,
            invalidate_all=self.invalidate_all,
            routes=[
                route(r"config", {READ: self.read_config, UPDATE: self.write_config}),
                route(
                    r"data" + item,
                    {READ: self.read_data, UPDATE: self.write_data, PATCH: self.patch_data, DELETE: self.delete_latest},
                    exists=self.secret_exists,
                    conditional=True,
                ),
                route(
                    r"(?P<kind>metadata)" + item,
                    {
                        READ: self.read_metadata,
                        UPDATE: self.write_metadata,
                        PATCH: self.patch_metadata,
                        DELETE: self.delete_metadata,
                        LIST: self.list_metadata,
                    },
                    exists=self.secret_exists,
                    conditional=True,
                ),
                route(r"(?P<kind>detailed-metadata)" + item, {LIST: self.list_metadata}),
                route(r"(?P<kind>metadata|detailed-metadata)", {**root, LIST: self.list_metadata}),
                route(r"delete" + item, {UPDATE: self.delete_versions}, conditional=True),
                route(r"undelete" + item, {UPDATE: self.undelete_versions}, conditional=True),
                route(r"destroy" + item, {UPDATE: self.destroy_versions}, conditional=True),
                route(r"subkeys" + item, {READ: self.read_subkeys}),
                route(r"data|delete|undelete|destroy", root),
                route(r".*", dict.fromkeys((READ, UPDATE, PATCH, DELETE, LIST), self.invalid_path)),
            ],
        )


def _data_write_fields(request: Request, *, prefixed: bool) -> tuple[dict[str, Any], Any]:
    """The fields of a write or patch of data/<path>, and its `data` (which must be given)."""
    reject_directory_write(request)
    fields = decode_fields(request.data, DATA_FIELDS, prefixed=prefixed)
    data = fields.get("data")
    if data is None:
        raise BadRequest("no data provided")
    return fields, data


def _metadata_write_fields(request: Request, *, prefixed: bool) -> dict[str, Any] | None:
    """The fields of a write or patch of metadata/<path>; None when it sets none of the settings (a no-op)."""
    reject_directory_write(request)
    fields = decode_fields(request.data, METADATA_FIELDS, prefixed=prefixed)
    if not any(name in fields for name in METADATA_SETTINGS):
        return None
    return fields


def _mandated_by_config(fields: Mapping[str, Any], config: EngineConfig) -> list[str]:
    warnings = []
    for name in ("cas_required", "metadata_cas_required"):
        if name in fields and getattr(config, name) and not fields[name]:
            warnings.append(f'"{name}" set to false, but is mandated by backend config. This value will be ignored.')
    return warnings


def _check_metadata_cas(fields: Mapping[str, Any], meta: KeyMetadata | None, config: EngineConfig) -> None:
    """OpenBao's check-and-set on metadata: `metadata_cas` must name the current metadata version (0 to create)."""
    required = config.metadata_cas_required or (meta is not None and meta.metadata_cas_required)
    if "metadata_cas" not in fields:
        if required:
            raise BadRequest("metadata check-and-set parameter required for this call")
        return
    if meta is None and fields["metadata_cas"] != 0:
        raise BadRequest("metadata_cas must be 0 when creating new metadata")
    if meta is not None and fields["metadata_cas"] != meta.current_metadata_version:
        raise BadRequest("metadata check-and-set parameter does not match the current version")


def _apply_settings(meta: KeyMetadata, fields: Mapping[str, Any]) -> None:
    for name in ("max_versions", "cas_required", "metadata_cas_required", "delete_version_after"):
        if name in fields:
            setattr(meta, name, fields[name])


# -- upgrading a v1 mount in place ----------------------------------------------------------------


async def upgrade_from_v1(storage: StorageView) -> int:
    """Make every v1 secret version 1 of a v2 secret, once (the `upgraded` marker says it is done).

    Each batch moves its secrets and deletes their v1 entries in one transaction, so an upgrade
    interrupted half way resumes where it stopped. Returns how many secrets were moved.
    """
    if await storage.get(UPGRADE_MARKER) is not None:
        return 0
    moved = 0
    batch: list[Put | Delete] = []
    async for path in _walk(storage, DATA_PREFIX):
        raw = await storage.get(DATA_PREFIX + path)
        if raw is None:
            continue
        existing = await storage.get(METADATA_PREFIX + path)
        meta = KeyMetadata.decode(existing) if existing is not None else KeyMetadata()
        created = time.time_ns()
        # Vault keeps an upgraded secret's window at one version, so its oldest_version reads 1.
        meta.add_version(created, None, 1 if existing is None else 0)
        batch += [
            Put(version_key(path, meta.current_version), encode_version(created, json.loads(raw))),
            Put(METADATA_PREFIX + path, meta.encode()),
            Delete(DATA_PREFIX + path),
        ]
        moved += 1
        if len(batch) >= 3 * UPGRADE_BATCH:
            await storage.transaction(batch)
            batch = []
    await storage.transaction([*batch, Put(UPGRADE_MARKER, encode_json({"moved": moved, "time": time.time_ns()}))])
    return moved


async def _walk(storage: StorageView, prefix: str, folder: str = "") -> AsyncIterator[str]:
    """Every key below `prefix`, relative to it, depth first."""
    for name in await storage.list(prefix + folder):
        if name.endswith("/"):
            async for path in _walk(storage, prefix, folder + name):
                yield path
        else:
            yield folder + name
