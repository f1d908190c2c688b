"""What approle's endpoints read alike from a request: the role named in the path, a required string field."""

from __future__ import annotations

import json
import re
from typing import Any

from strongroom.logical.errors import BadRequest
from strongroom.logical.fields import field_str

#: Vault refuses to HMAC longer values; no role name or secret ID can be longer
MAX_HMAC_INPUT = 4096


def role_name_of(match: re.Match[str]) -> str:
    return match["role_name"]


def no_such_role(match: re.Match[str]) -> BadRequest:
    return BadRequest(f"role {json.dumps(role_name_of(match))} does not exist")


def required_str(data: dict[str, Any], name: str) -> str:
    value = (field_str(data, name) or "").strip()
    if not value:
        raise BadRequest(f"missing {name}")
    return value


def too_long_to_hmac(value: str) -> bool:
    return len(value.encode("utf-8", "surrogatepass")) > MAX_HMAC_INPUT
