"""The mount tables (secrets engines and auth methods), stored behind the barrier and rebuilt at unseal."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from strongroom.barrier import Barrier
from strongroom.logical.backend import Backend
from strongroom.logical.errors import BadRequest, NotFound
from strongroom.logical.mount import EngineFactory, MountContext, MountEntry
from strongroom.logical.storage_view import StorageView

log = logging.getLogger("strongroom.mounts")

TABLE_PATHS = {"mounts": "core/mounts", "auth": "core/auth"}
#: mounts the core provides itself; they cannot be disabled or moved
BUILTIN_PATHS = {"mounts": ("sys/", "cubbyhole/", "identity/"), "auth": ("token/",)}


@dataclass
class Mounted:
    entry: MountEntry
    backend: Backend


class MountTable:
    def __init__(
        self,
        barrier: Barrier,
        factories: Mapping[str, EngineFactory],
        context_for: Callable[[MountEntry, StorageView], MountContext],
        builtins: Mapping[str, Backend],
    ) -> None:
        self._barrier = barrier
        self._factories = factories
        self._context_for = context_for
        self._builtins = builtins
        self._mounted: dict[str, Mounted] = {}

    # -- lifecycle ----------------------------------------------------------------------------

    async def load(self, defaults: list[MountEntry]) -> None:
        """Rebuild every backend from the stored tables; write the defaults on the first unseal."""
        self._mounted = {}
        for table, storage_path in TABLE_PATHS.items():
            raw = await self._barrier.get(storage_path)
            if raw is None:
                entries = [entry for entry in defaults if entry.table == table]
                await self._store(table, entries)
            else:
                entries = [MountEntry.from_json(document) for document in json.loads(raw)]
            for entry in entries:
                self._mounted[entry.router_path] = Mounted(entry, await self._build(entry))

    async def store_defaults(self, defaults: list[MountEntry]) -> None:
        """Write the default tables of a new store (at init): every node of a cluster then loads the same mounts,
        with the same storage prefixes, and a standby, which does not write, never has to make them."""
        for table, storage_path in TABLE_PATHS.items():
            if await self._barrier.get(storage_path) is None:
                await self._store(table, [entry for entry in defaults if entry.table == table])

    async def reload(self) -> None:
        """Follow the stored tables after another process changed them; unchanged mounts keep their backends."""
        kept = {(m.entry.table, json.dumps(m.entry.to_json(), sort_keys=True)): m for m in self._mounted.values()}
        mounted: dict[str, Mounted] = {}
        for table, storage_path in TABLE_PATHS.items():
            raw = await self._barrier.get(storage_path)
            for document in json.loads(raw) if raw else []:
                entry = MountEntry.from_json(document)
                same = kept.get((table, json.dumps(entry.to_json(), sort_keys=True)))
                mounted[entry.router_path] = same or Mounted(entry, await self._build(entry))
        self._mounted = mounted

    def owner(self, storage_key: str) -> tuple[Mounted, str] | None:
        """The mount whose storage holds `storage_key`, and the key relative to that storage."""
        for mounted in self._mounted.values():
            prefix = mounted.entry.storage_prefix
            if storage_key.startswith(prefix):
                return mounted, storage_key[len(prefix) :]
        return None

    def clear(self) -> None:
        self._mounted = {}

    async def _build(self, entry: MountEntry) -> Backend:
        builtin = self._builtins.get(entry.router_path)
        if builtin is not None:
            return builtin
        factory = self._factories.get(entry.type)
        if factory is None:
            raise BadRequest(f"plugin not found in the catalog: {entry.type}")
        view = StorageView(self._barrier, entry.storage_prefix)
        return await factory(self._context_for(entry, view))

    async def _store(self, table: str, entries: list[MountEntry]) -> None:
        document = json.dumps([entry.to_json() for entry in entries]).encode()
        await self._barrier.put(TABLE_PATHS[table], document)

    async def _store_table(self, table: str) -> None:
        await self._store(table, self.entries(table))

    # -- queries ------------------------------------------------------------------------------

    def entries(self, table: str) -> list[MountEntry]:
        return sorted((m.entry for m in self._mounted.values() if m.entry.table == table), key=lambda e: e.path)

    def resolve(self, path: str) -> tuple[Mounted, str]:
        """The mount serving `path` (longest prefix) and the path relative to it."""
        best: str | None = None
        for mount_path in self._mounted:
            if (path.startswith(mount_path) or path + "/" == mount_path) and (
                best is None or len(mount_path) > len(best)
            ):
                best = mount_path
        if best is None:
            raise NotFound(f'no handler for route "{path}". route entry not found.')
        return self._mounted[best], path[len(best) :]

    def all(self) -> list[Mounted]:
        return list(self._mounted.values())

    def find(self, router_path: str) -> Mounted | None:
        return self._mounted.get(_normalize(router_path))

    # -- changes ------------------------------------------------------------------------------

    async def mount(self, entry: MountEntry) -> None:
        entry.path = _normalize(entry.path)
        self._check_free(entry)
        if entry.type not in self._factories:
            kind = "auth method" if entry.table == "auth" else "secrets engine"
            raise BadRequest(f'unknown {kind} type "{entry.type}"; available: {", ".join(sorted(self._factories))}')
        backend = await self._build(entry)
        self._mounted[entry.router_path] = Mounted(entry, backend)
        try:
            await self._store_table(entry.table)
        except BaseException:
            del self._mounted[entry.router_path]
            raise
        log.info("mounted", extra={"path": entry.router_path, "type": entry.type})

    async def unmount(self, table: str, path: str) -> None:
        router_path = _router_path(table, path)
        mounted = self._mounted.get(router_path)
        if mounted is None:
            return  # Vault: disabling what is not mounted succeeds
        if mounted.entry.path in BUILTIN_PATHS[table]:
            raise BadRequest(f"cannot unmount {mounted.entry.path!r}")
        del self._mounted[router_path]
        await self._store_table(table)
        await StorageView(self._barrier, mounted.entry.storage_prefix).delete_tree()
        log.info("unmounted", extra={"path": router_path})

    async def remount(self, source: str, destination: str) -> MountEntry:
        table = "auth" if source.startswith("auth/") else "mounts"
        if table == "auth" and not destination.startswith("auth/"):
            raise BadRequest("cannot remount auth mount to non-auth mount")
        source_path, destination_path = _normalize(source), _normalize(destination)
        mounted = self._mounted.get(source_path)
        if mounted is None:
            raise BadRequest(f"no matching mount at {source_path!r}")
        if mounted.entry.path in BUILTIN_PATHS[table]:
            raise BadRequest(f"cannot remount {mounted.entry.path!r}")
        moved = MountEntry.from_json(mounted.entry.to_json())
        moved.path = destination_path.removeprefix("auth/") if table == "auth" else destination_path
        self._check_free(moved)
        del self._mounted[source_path]
        self._mounted[moved.router_path] = Mounted(moved, mounted.backend)
        await self._store_table(table)
        return moved

    async def replace(self, entry: MountEntry) -> None:
        """Store a changed entry (tune) and rebuild its backend, which may upgrade its data."""
        backend = await self._build(entry)
        self._mounted[entry.router_path] = Mounted(entry, backend)
        await self._store_table(entry.table)

    async def replace_entry(self, entry: MountEntry) -> None:
        """Store a changed entry whose backend stays as it is (a tune of TTLs or description)."""
        await self._store_table(entry.table)

    def _check_free(self, entry: MountEntry) -> None:
        new = entry.router_path
        if entry.table == "mounts" and (new.startswith(("sys/", "auth/")) or new in ("cubbyhole/", "identity/")):
            raise BadRequest(f"cannot mount at {entry.path!r}: the path is reserved")
        for existing in self._mounted:
            if existing == new:
                raise BadRequest(f"path is already in use at {entry.path}")
            if new.startswith(existing):
                raise BadRequest(f"cannot mount under existing mount {existing!r}")
            if existing.startswith(new):
                raise BadRequest(f"cannot mount {entry.path!r}: existing mount at {existing!r} is below it")


def _normalize(path: str) -> str:
    path = path.strip("/")
    if not path:
        raise BadRequest("path cannot be empty")
    return path + "/"


def _router_path(table: str, path: str) -> str:
    path = _normalize(path)
    return ("auth/" + path) if table == "auth" else path
