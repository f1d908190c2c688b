"""A rekey request, from a JSON body (the legacy endpoints, http/quorum_api.py) or a logical request's
data (the system backend's sys/rotate/* routes): read leniently (strongroom/logical/json_body.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from strongroom.logical.json_body import lenient_bool_field, lenient_int_field, lenient_string_list_field


@dataclass(frozen=True)
class RekeyRequest:
    secret_shares: int = 0
    secret_threshold: int = 0
    pgp_keys: tuple[str, ...] = ()
    backup: bool = False
    require_verification: bool = False

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> RekeyRequest:
        return cls(
            secret_shares=lenient_int_field(body, "secret_shares"),
            secret_threshold=lenient_int_field(body, "secret_threshold"),
            pgp_keys=tuple(lenient_string_list_field(body, "pgp_keys")),
            backup=lenient_bool_field(body, "backup"),
            require_verification=lenient_bool_field(body, "require_verification"),
        )
