"""The snapshot file: every stored entry (barrier ciphertext, as storage holds it), a format version and checksums.

A tar archive in a gzip stream (stored blocks: the values are ciphertext), in the shape Vault's raft snapshots have
(which is what lets `bao operator raft snapshot save` accept it: its client checks for a non-empty
`SHA256SUMS.sealed` member):

- `meta.json`: `{"format": "strongroom-snapshot", "version": 1, "created_at", "storage_type", "entries"}`;
- `entries.bin`: each entry as a 4-byte big-endian length and the key (UTF-8), then a 4-byte length and the value;
- `SHA256SUMS`: `<sha256 hex>  <name>` of the two members above, one a line;
- `SHA256SUMS.sealed`: `SHA256SUMS` sealed by whoever writes the snapshot (the core encrypts it with the barrier's
  keyring, so that a restore can tell a snapshot of this very store from one of another).

Reading checks everything before it returns anything: an archive that is truncated or corrupt, a member missing or
altered, an unknown version or an entry count that does not match is refused whole with one `SnapshotError`. The
values are read as they were stored, encrypted: nothing here holds a key or a secret in clear.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import struct
import tarfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

FORMAT = "strongroom-snapshot"
VERSION = 1
META = "meta.json"
ENTRIES = "entries.bin"
SUMS = "SHA256SUMS"
SEALED_SUMS = "SHA256SUMS.sealed"
_LENGTH = struct.Struct(">I")


class SnapshotError(Exception):
    """Not a snapshot this version can restore; the message says why in one line."""


@dataclass(frozen=True)
class Snapshot:
    entries: list[tuple[str, bytes]]
    storage_type: str
    created_at: str
    #: the `SHA256SUMS` member, and what sealed it
    sums: bytes
    sealed_sums: bytes


def checksums(meta: bytes, entries: bytes) -> bytes:
    """The `SHA256SUMS` member of a snapshot whose other members are `meta` and `entries`."""
    return b"".join(
        f"{hashlib.sha256(data).hexdigest()}  {name}\n".encode() for name, data in ((META, meta), (ENTRIES, entries))
    )


def encode_entries(entries: Sequence[tuple[str, bytes]]) -> bytes:
    out = io.BytesIO()
    for key, value in entries:
        raw_key = key.encode()
        out.write(_LENGTH.pack(len(raw_key)))
        out.write(raw_key)
        out.write(_LENGTH.pack(len(value)))
        out.write(value)
    return out.getvalue()


@dataclass(frozen=True)
class SnapshotContent:
    """What a snapshot archive is made of, before its checksums are sealed."""

    meta: bytes
    entries: bytes

    @classmethod
    def of(cls, entries: Sequence[tuple[str, bytes]], storage_type: str) -> SnapshotContent:
        meta = {
            "format": FORMAT,
            "version": VERSION,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "storage_type": storage_type,
            "entries": len(entries),
        }
        return cls(json.dumps(meta, sort_keys=True).encode(), encode_entries(entries))

    @property
    def sums(self) -> bytes:
        return checksums(self.meta, self.entries)

    def archive(self, sealed_sums: bytes) -> bytes:
        """The snapshot file, with `sealed_sums` (the `sums` sealed by the caller)."""
        raw = io.BytesIO()
        # mtime 0: the archive depends on its content alone. Level 0 (stored blocks, with gzip's CRC-32 and length):
        # the values are ciphertext, which no level compresses, and level 1 took 6 times as long (2.7 s for 33 MB)
        members = ((META, self.meta), (ENTRIES, self.entries), (SUMS, self.sums), (SEALED_SUMS, sealed_sums))
        with (
            gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=0, mtime=0) as compressed,
            tarfile.open(fileobj=compressed, mode="w", format=tarfile.PAX_FORMAT) as archive,
        ):
            for name, data in members:
                info = tarfile.TarInfo(name)
                info.size = len(data)
                info.mode = 0o600
                archive.addfile(info, io.BytesIO(data))
        return raw.getvalue()


def read_snapshot(data: bytes) -> Snapshot:
    """The snapshot in `data`, checked whole; SnapshotError when any of it is wrong."""
    members = _members(data)
    for name in (META, ENTRIES, SUMS, SEALED_SUMS):
        if name not in members:
            raise SnapshotError(f"not a Strongroom snapshot: it has no {name}")
    meta_raw, entries_raw, sums = members[META], members[ENTRIES], members[SUMS]
    if sums != checksums(meta_raw, entries_raw):
        raise SnapshotError("the snapshot is corrupt: its SHA256SUMS do not match its content")
    if not members[SEALED_SUMS]:
        raise SnapshotError("the snapshot is incomplete: SHA256SUMS.sealed is empty")
    meta = _meta(meta_raw)
    entries = _decode_entries(entries_raw)
    if len(entries) != meta["entries"]:
        raise SnapshotError(
            f"the snapshot is corrupt: it holds {len(entries)} entries, its metadata says {meta['entries']}"
        )
    return Snapshot(entries, str(meta["storage_type"]), str(meta["created_at"]), sums, members[SEALED_SUMS])


def _members(data: bytes) -> dict[str, bytes]:
    members: dict[str, bytes] = {}
    try:
        # the whole stream first: gzip's length and CRC-32 at its very end are checked before anything is read
        with tarfile.open(fileobj=io.BytesIO(gzip.decompress(data)), mode="r:") as archive:
            for info in archive:
                if not info.isfile():
                    raise SnapshotError(f"not a Strongroom snapshot: member {info.name!r} is not a file")
                if info.name in members:
                    raise SnapshotError(f"not a Strongroom snapshot: member {info.name!r} appears twice")
                extracted = archive.extractfile(info)
                assert extracted is not None  # a regular file
                members[info.name] = extracted.read()
    except (tarfile.TarError, EOFError, OSError, zlib.error, ValueError) as error:
        raise SnapshotError(f"not a readable snapshot (truncated or corrupt?): {_reason(error)}") from None
    return members


def _reason(error: BaseException) -> str:
    if isinstance(error, EOFError):
        return "it ends too early"
    return str(error) or type(error).__name__


def _meta(raw: bytes) -> dict[str, object]:
    try:
        meta = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise SnapshotError("not a Strongroom snapshot: meta.json is not JSON") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise SnapshotError("not a Strongroom snapshot: meta.json names another format")
    version = meta.get("version")
    if version != VERSION:
        raise SnapshotError(f"snapshot format version {version!r}: this Strongroom reads version {VERSION}")
    if not isinstance(meta.get("entries"), int):
        raise SnapshotError("not a Strongroom snapshot: meta.json has no entry count")
    return meta


def _decode_entries(raw: bytes) -> list[tuple[str, bytes]]:
    entries: list[tuple[str, bytes]] = []
    view = memoryview(raw)
    offset = 0
    try:
        while offset < len(view):
            key, offset = _field(view, offset)
            value, offset = _field(view, offset)
            entries.append((bytes(key).decode(), bytes(value)))
    except (struct.error, UnicodeDecodeError, ValueError):
        raise SnapshotError("the snapshot is corrupt: entries.bin does not parse") from None
    return entries


def _field(view: memoryview, offset: int) -> tuple[memoryview, int]:
    (length,) = _LENGTH.unpack_from(view, offset)
    start = offset + _LENGTH.size
    if start + length > len(view):
        raise ValueError("a field runs past the end")
    return view[start : start + length], start + length
