"""The mount table: which backend serves a path, by longest matching mount prefix."""

from __future__ import annotations

from typing import TYPE_CHECKING

from strongroom.core.backend import Backend
from strongroom.core.errors import NotFound

if TYPE_CHECKING:
    from strongroom.core.core import Core


class Router:
    def __init__(self, core: Core) -> None:
        from strongroom.core.system import system_backend
        from strongroom.engines.token import token_backend

        self._mounts: dict[str, Backend] = {
            "sys/": system_backend(core),
            "auth/token/": token_backend(core),
        }

    def resolve(self, path: str) -> tuple[Backend, str, str]:
        """The backend for `path`, its mount path, and the path relative to the mount."""
        candidates = [mount for mount in self._mounts if path.startswith(mount) or path + "/" == mount]
        if not candidates:
            raise NotFound(f'no handler for route "{path}". route entry not found.')
        mount = max(candidates, key=len)
        return self._mounts[mount], mount, path[len(mount) :]
