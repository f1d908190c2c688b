"""What a KV v2 mount stores, and how each entry is encoded (relative to the mount's view):

config                      the engine settings (`EngineConfig`)
metadata/<path>             one secret's metadata (`KeyMetadata`): its versions' times and states, its settings
versions/<digest>/<n>       version n's data (`encode_version`); <digest> is a hash of <path> (`version_key`)
upgraded                    present once v1 data (under `data/`) has been turned into v2 secrets (`upgrade`)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from strongroom.logical.go import format_go_duration, go_map, rfc3339_nano
from strongroom.logical.json_entries import encode

CONFIG_KEY = "config"
METADATA_PREFIX = "metadata/"
VERSIONS_PREFIX = "versions/"
UPGRADE_MARKER = "upgraded"

DEFAULT_MAX_VERSIONS = 10


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
        return encode(
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
            "delete_version_after": format_go_duration(self.delete_version_after),
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
            {
                number: VersionMetadata(v.created_time, v.deletion_time, v.destroyed)
                for number, v in self.versions.items()
            },
        )

    def encode(self) -> bytes:
        return encode(
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
        return go_map(self.custom_metadata) or None

    def describe(self) -> dict[str, Any]:
        """The body of a metadata read, in Vault's (sorted) field order."""
        return {
            "cas_required": self.cas_required,
            "created_time": rfc3339_nano(self.created_time),
            "current_metadata_version": self.current_metadata_version,
            "current_version": self.current_version,
            "custom_metadata": self.sorted_custom_metadata(),
            "delete_version_after": format_go_duration(self.delete_version_after),
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


def version_key(path: str, number: int) -> str:
    digest = hashlib.blake2b(path.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
    return f"{VERSIONS_PREFIX}{digest}/{number}"


def encode_version(created: int, data: Mapping[str, Any]) -> bytes:
    """A version's entry keeps its creation time, so a reader can tell it from a later secret at the same path."""
    return encode({"created_time": created, "data": data})
