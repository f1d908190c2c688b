"""What the core asks of the other nodes of an HA cluster (strongroom/cluster/ha/ answers).

Without HA a core has no membership: sys/seal seals this node, sys/step-down has nothing to hand over,
sys/ha-status lists this node alone.
"""

from __future__ import annotations

from typing import Any, Protocol


class ClusterMembership(Protocol):
    async def seal_everywhere(self) -> None:
        """Seal every node of the cluster, this one included; return once every live node has dropped its keys."""
        ...

    async def step_down(self) -> None:
        """Give the active node's lease up (forwarded to the active node when this one is a standby)."""
        ...

    async def nodes(self) -> list[dict[str, Any]]:
        """sys/ha-status's `nodes`, in Vault's fields."""
        ...
