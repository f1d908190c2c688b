"""KV version 2: versioned secrets, with Vault's (and OpenBao's) endpoints, semantics and messages.

What it stores, relative to the mount's view, is drawn in `v2_entries`; what its endpoints take, in
`v2_parameters`; the storage and its cache are `v2_store` (`VersionedStore`, which the engine extends). Every
entry is encrypted by the barrier below the view.

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

import json
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from strongroom.engines.kv.v2_entries import (
    METADATA_PREFIX,
    EngineConfig,
    KeyMetadata,
    deletion_time,
    encode_version,
    version_key,
)
from strongroom.engines.kv.v2_parameters import (
    CONFIG_FIELDS,
    DATA_FIELDS,
    LIST_FIELDS,
    MAX_CUSTOM_METADATA_KEYS,
    METADATA_FIELDS,
    SUBKEYS_FIELDS,
    VERSIONS_FIELDS,
    apply_settings,
    check_metadata_cas,
    data_write_fields,
    mandated_by_config,
    merge_patch,
    metadata_write_fields,
    parse_custom_metadata,
    validate_custom_metadata,
)
from strongroom.engines.kv.v2_store import VersionedStore
from strongroom.logical.backend import Backend, Handler, route
from strongroom.logical.errors import BadRequest, NotFound, NotFoundResponse, StrongroomError
from strongroom.logical.fields import FieldError, decode_fields, weak_int, with_ignored_parameters
from strongroom.logical.listing import folder, list_response, page
from strongroom.logical.paths import reject_directory_write
from strongroom.logical.request import DELETE, LIST, PATCH, READ, UPDATE, Operation, Request, Response
from strongroom.storage.base import Delete, Put

#: how often a reader re-reads metadata when a writer removed the version it was about to read
READ_ATTEMPTS = 3


def subkeys(data: Mapping[str, Any], max_depth: int, depth: int = 1) -> dict[str, Any]:
    """The secret's structure with every leaf (a non-object or an empty object) replaced by null;
    objects deeper than `max_depth` (0: no limit) count as leaves."""
    result: dict[str, Any] = {}
    for key, value in data.items():
        descend = isinstance(value, dict) and value and (max_depth == 0 or depth + 1 <= max_depth)
        result[key] = subkeys(value, max_depth, depth + 1) if descend else None
    return result


class VersionedKV(VersionedStore):
    """The endpoints of the engine."""

    # versions -----------------------------------------------------------------------------------

    async def add_version(self, path: str, meta: KeyMetadata, data: Mapping[str, Any], since: int) -> Response:
        """Write `data` as the next version and its metadata in one transaction."""
        config = await self.config()
        created = time.time_ns()
        deletion = None
        if not config.deletion_disabled:
            deletion = deletion_time(created, config.delete_version_after, meta.delete_version_after)
        dropped = meta.add_version(created, deletion, config.max_versions)
        await self.commit(
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

    async def read_version(
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
            self.forget_metadata(path)
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

        def changed(current: EngineConfig) -> EngineConfig:
            return EngineConfig(
                max_versions=fields.get("max_versions", current.max_versions),
                cas_required=fields.get("cas_required", current.cas_required),
                metadata_cas_required=fields.get("metadata_cas_required", current.metadata_cas_required),
                delete_version_after=max(fields.get("delete_version_after", current.delete_version_after), -1),
            )

        await self.change_config(changed)

    # data ---------------------------------------------------------------------------------------

    async def secret_exists(self, request: Request, match: re.Match[str]) -> bool:
        return await self.metadata(match["path"]) is not None

    async def read_data(self, request: Request, match: re.Match[str]) -> Response:
        fields = decode_fields(request.data, DATA_FIELDS, prefixed=True)

        def describe(meta: KeyMetadata, number: int, data: dict[str, Any] | None) -> dict[str, Any]:
            return {"data": data, "metadata": meta.version_summary(number)}

        response = await self.read_version(match["path"], fields.get("version", 0), describe)
        return with_ignored_parameters(request, DATA_FIELDS, response)

    async def write_data(self, request: Request, match: re.Match[str]) -> Response:
        fields, data = data_write_fields(request, prefixed=False)
        path = match["path"]
        async with self.lock(path):
            since = self.storage.position()
            meta = await self.stored_metadata(path) or KeyMetadata()
            await self._check_and_set(fields, meta)
            response = await self.add_version(path, meta, data, since)
        return with_ignored_parameters(request, DATA_FIELDS, response)

    async def patch_data(self, request: Request, match: re.Match[str]) -> Response:
        fields, patch = data_write_fields(request, prefixed=True)
        path = match["path"]
        async with self.lock(path):
            since = self.storage.position()
            meta = await self.stored_metadata(path)
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
            response = await self.add_version(path, meta, merge_patch(json.loads(raw)["data"], patch), since)
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
        async with self.lock(path):
            since = self.storage.position()
            meta = await self.stored_metadata(path)
            latest = meta.versions.get(meta.current_version) if meta else None
            now = time.time_ns()
            if meta is None or latest is None or latest.destroyed or latest.soft_deleted(now):
                return
            latest.deletion_time = now
            await self.save_metadata(path, meta, since)

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
        async with self.lock(path):
            since = self.storage.position()
            meta = await self.stored_metadata(path)
            if meta is None:
                return
            removed_keys = await change(meta, versions)
            await self.commit(
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
        fields = metadata_write_fields(request, prefixed=False)
        path = match["path"]
        if fields is None:
            return None
        custom: dict[str, Any] | None = None
        if "custom_metadata" in fields:
            custom = parse_custom_metadata(fields["custom_metadata"] or {}, keep_nulls=False)
            validate_custom_metadata(custom)
        async with self.lock(path):
            since = self.storage.position()
            config = await self.config()
            warnings = mandated_by_config(fields, config)
            meta = await self.stored_metadata(path)
            check_metadata_cas(fields, meta, config)
            now = time.time_ns()
            if meta is None:
                meta = KeyMetadata(created_time=now, updated_time=now, current_metadata_version=1)
            else:
                meta.current_metadata_version += 1
                meta.updated_time = now
            apply_settings(meta, fields)
            if custom is not None:
                meta.custom_metadata = custom
            await self.save_metadata(path, meta, since)
        return with_ignored_parameters(request, METADATA_FIELDS, Response(warnings=warnings)) if warnings else None

    async def patch_metadata(self, request: Request, match: re.Match[str]) -> Response | None:
        fields = metadata_write_fields(request, prefixed=True)
        path = match["path"]
        if fields is None:
            return None
        patch: dict[str, Any] | None = None
        if "custom_metadata" in fields and fields["custom_metadata"] is not None:
            patch = parse_custom_metadata(fields["custom_metadata"], keep_nulls=True)
            validate_custom_metadata(patch)
        async with self.lock(path):
            since = self.storage.position()
            config = await self.config()
            meta = await self.stored_metadata(path)
            if meta is None:
                raise NotFound()
            check_metadata_cas(fields, meta, config)
            warnings = mandated_by_config(fields, config)
            apply_settings(meta, fields)
            if "custom_metadata" in fields:
                custom = merge_patch(meta.custom_metadata, patch) if patch is not None else {}
                if len(custom) > MAX_CUSTOM_METADATA_KEYS:
                    validate_custom_metadata(custom)
                meta.custom_metadata = custom
            meta.current_metadata_version += 1
            meta.updated_time = time.time_ns()
            await self.save_metadata(path, meta, since)
        return with_ignored_parameters(request, METADATA_FIELDS, Response(warnings=warnings)) if warnings else None

    async def delete_metadata(self, request: Request, match: re.Match[str]) -> None:
        """Every version and the metadata, permanently."""
        path = match["path"]
        async with self.lock(path):
            since = self.storage.position()
            meta = await self.stored_metadata(path)
            if meta is None:
                return
            await self.commit(
                path,
                None,
                [*(Delete(version_key(path, number)) for number in meta.versions), Delete(METADATA_PREFIX + path)],
                since,
            )

    async def list_metadata(self, request: Request, match: re.Match[str]) -> Response:
        detailed = match["kind"] == "detailed-metadata"
        fields = decode_fields(request.data, LIST_FIELDS if detailed else METADATA_FIELDS, prefixed=True)
        prefix = folder(match.groupdict().get("path") or "")
        keys = await self.storage.list(METADATA_PREFIX + prefix)
        keys = page(keys, after=fields.get("after", ""), limit=fields.get("limit", 0))
        response = list_response(keys)
        if detailed:
            key_info = {}
            for key in keys:
                meta = None if key.endswith("/") else await self.metadata(prefix + key)
                key_info[key] = meta.describe() if meta is not None else {}
            response.data = {"key_info": key_info, "keys": keys}
        return with_ignored_parameters(request, LIST_FIELDS if detailed else METADATA_FIELDS, response)

    # subkeys ------------------------------------------------------------------------------------

    async def read_subkeys(self, request: Request, match: re.Match[str]) -> Response:
        fields = decode_fields(request.data, SUBKEYS_FIELDS, prefixed=True)
        depth = fields.get("depth", 0)

        def describe(meta: KeyMetadata, number: int, data: dict[str, Any] | None) -> dict[str, Any]:
            return {
                "metadata": meta.version_summary(number),
                "subkeys": subkeys(data, depth) if isinstance(data, dict) else None,
            }

        response = await self.read_version(match["path"], fields.get("version", 0), describe)
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
                route(r"config", {READ: self.read_config, UPDATE: self.write_config}, fields=CONFIG_FIELDS),
                route(
                    r"data" + item,
                    {READ: self.read_data, UPDATE: self.write_data, PATCH: self.patch_data, DELETE: self.delete_latest},
                    exists=self.secret_exists,
                    conditional=True,
                    fields=DATA_FIELDS,
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
                    fields=METADATA_FIELDS,
                ),
                route(r"(?P<kind>detailed-metadata)" + item, {LIST: self.list_metadata}, fields=LIST_FIELDS),
                route(r"(?P<kind>metadata|detailed-metadata)", {**root, LIST: self.list_metadata}, fields=LIST_FIELDS),
                route(r"delete" + item, {UPDATE: self.delete_versions}, conditional=True, fields=VERSIONS_FIELDS),
                route(r"undelete" + item, {UPDATE: self.undelete_versions}, conditional=True, fields=VERSIONS_FIELDS),
                route(r"destroy" + item, {UPDATE: self.destroy_versions}, conditional=True, fields=VERSIONS_FIELDS),
                route(r"subkeys" + item, {READ: self.read_subkeys}, fields=SUBKEYS_FIELDS),
                route(r"data|delete|undelete|destroy", root),
                route(r".*", dict.fromkeys((READ, UPDATE, PATCH, DELETE, LIST), self.invalid_path)),
            ],
        )
