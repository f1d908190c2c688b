"""What an approle mount stores: its roles and their secret IDs (as JSON, behind the barrier)."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any

from strongroom.logical.go import GO_ZERO_TIME, rfc3339_micro
from strongroom.logical.token_params import TokenParams


def random_uuid() -> str:
    """128 random bits formatted like a UUID, as Vault's `uuid.GenerateUUID` makes them."""
    raw = os.urandom(16).hex()
    return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"


def rfc3339(timestamp: float) -> str:
    """A secret ID's time as Vault shows it; 0 (never set) is Go's zero time."""
    return rfc3339_micro(timestamp) if timestamp else GO_ZERO_TIME


@dataclass
class Role:
    name: str
    role_id: str
    bind_secret_id: bool = True
    secret_id_bound_cidrs: list[str] | None = None
    secret_id_num_uses: int = 0
    secret_id_ttl: int = 0
    local_secret_ids: bool = False
    token: TokenParams = field(default_factory=TokenParams)
    #: deprecated fields, shown on read while in use
    policies: list[str] = field(default_factory=list)
    period: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> Role:
        document = dict(document)
        document["token"] = TokenParams.from_json(document.get("token", {}))
        return cls(**{name: document[name] for name in cls.__dataclass_fields__ if name in document})

    def has_constraint(self) -> bool:
        return bool(self.bind_secret_id or self.secret_id_bound_cidrs or self.token.token_bound_cidrs)


@dataclass
class SecretIdEntry:
    secret_id_hmac: str
    secret_id_accessor: str
    secret_id_num_uses: int
    secret_id_ttl: int
    creation_time: float
    expiration_time: float
    last_updated_time: float
    metadata: dict[str, str] = field(default_factory=dict)
    cidr_list: list[str] = field(default_factory=list)
    token_bound_cidrs: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> SecretIdEntry:
        return cls(**{name: document[name] for name in cls.__dataclass_fields__ if name in document})

    def expired(self, now: float) -> bool:
        return bool(self.expiration_time) and now >= self.expiration_time

    def describe(self) -> dict[str, Any]:
        """The lookup answer, under Vault's field names."""
        return {
            "cidr_list": list(self.cidr_list),
            "creation_time": rfc3339(self.creation_time),
            "expiration_time": rfc3339(self.expiration_time),
            "last_updated_time": rfc3339(self.last_updated_time),
            "metadata": dict(self.metadata),
            "secret_id_accessor": self.secret_id_accessor,
            "secret_id_num_uses": self.secret_id_num_uses,
            "secret_id_ttl": self.secret_id_ttl,
            "token_bound_cidrs": list(self.token_bound_cidrs),
        }
