"""The KV secrets engine, as Vault and OpenBao define it: version 1 (`v1`) or version 2 (`v2`).

The mount option `version` ("1", the default, or "2") picks one. The two layouts in the mount's
storage never overlap: v1 keeps each secret at `data/<path>`; v2 uses `config`, `metadata/<path>`,
`versions/<digest>/<n>` and the `upgraded` marker. When a v1 mount is tuned to version 2, the core
builds the engine again, and this factory first turns every v1 secret into version 1 of a v2
secret (once: the marker records it, see `upgrade`), as Vault does.
"""

from __future__ import annotations

from strongroom.engines.kv.upgrade import upgrade_from_v1
from strongroom.engines.kv.v1 import passthrough_backend
from strongroom.engines.kv.v2 import VersionedKV
from strongroom.logical.backend import Backend
from strongroom.logical.errors import BadRequest
from strongroom.logical.mount import MountContext


async def kv_backend(context: MountContext) -> Backend:
    """The EngineFactory of `kv` mounts."""
    version = context.mount.options.get("version") or "1"
    if version == "1":
        return passthrough_backend(context)
    if version == "2":
        await upgrade_from_v1(context.storage)
        return VersionedKV(context.storage).backend()
    raise BadRequest(f'invalid KV version "{version}": it must be "1" or "2"')
