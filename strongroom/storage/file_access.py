"""Why the running user may not use a file as storage: which path stops it, whose it is, and who we are.

A bare `[Errno 13] Permission denied` names neither the directory that refused nor the user the server runs
as, and those are the two things an operator needs to fix it (chown the data directory, or run as its owner).
"""

from __future__ import annotations

import grp
import os
import pwd
import stat
from pathlib import Path


def describe_denial(path: str | os.PathLike[str]) -> str | None:
    """`permission denied: ...` naming the first path the running user may not use, or None if none refuses.

    The database file must be readable and writable, its directory writable (SQLite creates `-wal` and `-shm`
    beside it), and every directory above it searchable; a directory still to be created needs its nearest
    existing ancestor writable.
    """
    target = Path(os.path.abspath(path))
    for ancestor in reversed(target.parents):
        if not os.path.isdir(ancestor):
            return _refusal(ancestor.parent, os.W_OK | os.X_OK, "create directories in")
        if not _allowed(ancestor, os.X_OK):
            return _refusal(ancestor, os.X_OK, "enter")
    if os.path.exists(target):
        if not _allowed(target, os.R_OK | os.W_OK):
            return _refusal(target, os.R_OK | os.W_OK, "read and write")
        if not os.path.exists(f"{target}-wal"):
            return _refusal(target.parent, os.W_OK | os.X_OK, "create the database's -wal file in")
        return None
    return _refusal(target.parent, os.W_OK | os.X_OK, "create files in")


def running_user() -> str:
    """The effective user's name (its number if it has none)."""
    return _user_name(os.geteuid())


def _refusal(path: Path, mode: int, doing: str) -> str | None:
    if _allowed(path, mode):
        return None
    try:
        info = path.stat()
    except OSError:
        return f"permission denied: cannot {doing} {path}; the server runs as {running_user()}"
    kind = "directory" if stat.S_ISDIR(info.st_mode) else "file"
    owner = f"{_user_name(info.st_uid)}:{_group_name(info.st_gid)}"
    return (
        f"permission denied: cannot {doing} {kind} {path} (owner {owner}, mode {stat.S_IMODE(info.st_mode):04o}); "
        f"the server runs as {running_user()}"
    )


def _allowed(path: Path, mode: int) -> bool:
    return os.access(path, mode, effective_ids=os.access in os.supports_effective_ids)


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)
