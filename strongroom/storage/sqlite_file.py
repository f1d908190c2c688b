"""The SQLite database file: creating it (and its directories) with modes only its owner may use, opening it with
every commit fsynced, its schema, and the one-line errors for a file that cannot be used."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from strongroom.storage.base import StorageError
from strongroom.storage.file_access import describe_denial

SCHEMA_VERSION = 1
#: seconds a connection waits for a lock held by another process before failing
BUSY_TIMEOUT = 5.0


def connect(path: Path) -> sqlite3.Connection:
    # isolation_level=None: no implicit BEGINs; transactions are explicit above.
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous = FULL")  # per connection: fsync every commit
    except BaseException:
        conn.close()
        raise
    return conn


def export_entries(path: Path) -> list[tuple[str, bytes]]:
    conn = connect(path)
    try:
        conn.execute("PRAGMA query_only = ON")
        return conn.execute("SELECT key, value FROM entries ORDER BY key").fetchall()
    finally:
        conn.close()


def create_database_file(path: Path) -> None:
    """Create missing parent directories (0700) and the database file (0600)."""
    try:
        _create_missing(path)
    except PermissionError as exc:
        denial = describe_denial(path) or f"permission denied: {exc.strerror}"
        raise StorageError(f"sqlite storage {path}: {denial}") from None


def _create_missing(path: Path) -> None:
    if path.is_dir():
        raise StorageError(f"sqlite storage {path}: is a directory, not a database file")
    missing: list[Path] = []
    parent = path.parent
    while not parent.exists():
        missing.append(parent)
        parent = parent.parent
    try:
        for directory in reversed(missing):
            os.mkdir(directory, 0o700)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    except PermissionError:
        raise
    except OSError as exc:
        raise StorageError(f"sqlite storage {path}: cannot create: {exc.strerror}") from exc
    try:
        os.fchmod(fd, 0o600)  # independent of the umask
        os.fsync(fd)
    finally:
        os.close(fd)
    # SQLite fsyncs the directory for its journal files, but not for the main file.
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def open_error(path: Path, exc: BaseException) -> StorageError:
    if isinstance(exc, StorageError):
        return exc
    denial = describe_denial(path) if isinstance(exc, (sqlite3.Error, PermissionError)) else None
    if denial is not None:
        error = StorageError(f"sqlite storage {path}: {denial}")
    elif isinstance(exc, sqlite3.DatabaseError) and "not a database" in str(exc):
        error = StorageError(f"sqlite storage {path}: not a SQLite database file")
    elif isinstance(exc, sqlite3.Error):
        error = StorageError(f"sqlite storage {path}: cannot open: {exc}")
    else:
        error = StorageError(f"sqlite storage {path}: cannot open: {type(exc).__name__}")
    error.__cause__ = exc
    return error


def initialize_schema(conn: sqlite3.Connection, path: Path) -> None:
    """Switch to WAL and create or check the schema; sqlite3 errors propagate."""
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if mode.lower() != "wal":
        raise StorageError(f"sqlite storage {path}: cannot enable WAL mode (got {mode!r})")
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")}
        if version == 0 and not tables:
            conn.execute("CREATE TABLE entries (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID")
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        elif version == 0 or "entries" not in tables:
            raise StorageError(f"sqlite storage {path}: a SQLite database, but not a Strongroom one")
        elif version > SCHEMA_VERSION:
            raise StorageError(
                f"sqlite storage {path}: schema version {version} is newer than this "
                f"Strongroom supports ({SCHEMA_VERSION})"
            )
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
