"""The engines a mount can run, by type."""

from __future__ import annotations

from strongroom.engines.approle import approle_backend
from strongroom.engines.kv import kv_backend
from strongroom.engines.transit import transit_backend
from strongroom.engines.userpass import userpass_backend
from strongroom.logical.mount import EngineFactory

SECRETS_ENGINES: dict[str, EngineFactory] = {
    "kv": kv_backend,
    "transit": transit_backend,
}
AUTH_METHODS: dict[str, EngineFactory] = {
    "userpass": userpass_backend,
    "approle": approle_backend,
}
ENGINES: dict[str, EngineFactory] = {**SECRETS_ENGINES, **AUTH_METHODS}
