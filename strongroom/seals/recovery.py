"""What an auto-unseal store keeps beside the root key: the recovery key, and the permit to unseal itself.

The permit is the operator's intent made durable: it is written (encrypted by the seal) whenever the
store is opened, and deleted by an operator's seal. At start the server unseals itself only with a
valid permit, so a store an operator sealed stays sealed across restarts until the recovery quorum
opens it. The permit is bound to the wrapped root key and can only be made by the seal, so neither
another seal-encrypted blob nor a permit of an earlier root key passes for one; deleting it only
keeps the store sealed.
"""

from __future__ import annotations

import hashlib
import hmac

from strongroom.seals.base import AutoSeal

RECOVERY_CONFIG_PATH = "core/recovery-config"
RECOVERY_KEY_PATH = "core/recovery-key"
UNSEAL_PERMIT_PATH = "core/unseal-permit"
_PERMIT_PREFIX = b"strongroom unseal permit v1:"


def _permit_plaintext(wrapped_root_key: bytes) -> bytes:
    return _PERMIT_PREFIX + hashlib.sha256(wrapped_root_key).digest()


async def make_permit(seal: AutoSeal, wrapped_root_key: bytes) -> bytes:
    return await seal.encrypt(_permit_plaintext(wrapped_root_key))


async def permit_is_valid(seal: AutoSeal, permit: bytes, wrapped_root_key: bytes) -> bool:
    """Raises SealUnavailable when the seal cannot answer; False when the permit is not this store's."""
    try:
        plaintext = await seal.decrypt(permit)
    except ValueError:
        return False
    return hmac.compare_digest(plaintext, _permit_plaintext(wrapped_root_key))
