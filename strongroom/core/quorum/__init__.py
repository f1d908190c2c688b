"""Quorum operations: rekeying the unseal (or recovery) shares (`rekey.py`) and generating a new root
token (`generate_root.py`), both authorized by a quorum of the current key holders.

Each holder enters a share; when the threshold is reached the shares are combined and checked against
the store before anything happens (`attempt.py` holds what both repeat). What the shares protect is a
key target (`targets.py`), reached through `SealState`'s public operations only. Both improve on Vault
in one way: a share that is not one of the current shares is refused when it is submitted (400) and
the progress is kept, instead of failing the whole attempt at the threshold. The wording of every
other answer follows Vault/OpenBao; where the legacy and the authenticated endpoints word things
differently, each API passes its own `Wording`.

The names below are those that modules outside this package import from `strongroom.core.quorum`
itself: the system backend (core/system_quorum.py), the DC/OS adapter and an integration test.
"""

from strongroom.core.quorum.generate_root import decode_token_with_otp
from strongroom.core.quorum.init_pgp import unseal_key_fingerprints
from strongroom.core.quorum.rekey import Rekey, RekeyResult
from strongroom.core.quorum.requests import RekeyRequest, string_field
from strongroom.core.quorum.rotate_wording import (
    ROTATE,
    ROTATE_ROOT,
    rotate_rekey_result,
    rotate_rekey_status,
    rotate_root_attempt,
    rotate_root_update,
    rotate_verify_status,
)

__all__ = [
    "ROTATE",
    "ROTATE_ROOT",
    "Rekey",
    "RekeyRequest",
    "RekeyResult",
    "decode_token_with_otp",
    "rotate_rekey_result",
    "rotate_rekey_status",
    "rotate_root_attempt",
    "rotate_root_update",
    "rotate_verify_status",
    "string_field",
    "unseal_key_fingerprints",
]
