"""What an auto-unseal seal provides: somewhere outside storage that wraps and unwraps the root key."""

from __future__ import annotations

import abc


class SealUnavailable(Exception):
    """The seal device or service cannot be reached or refused to work; the message says why, without secrets."""

    #: False when trying again by itself cannot help and may harm: an HSM that refused the PIN locks
    #: the token after a few more wrong attempts, so the server must not retry on its own
    retryable = True


class AutoSeal(abc.ABC):
    """A trusted device or service (another server's transit engine, an HSM, a static key) that
    encrypts the root key; the server can then unseal itself at start."""

    #: the seal-status `type`: "transit", "pkcs11", "static"
    type_name: str = ""

    @abc.abstractmethod
    async def encrypt(self, plaintext: bytes) -> bytes:
        """Wrap `plaintext`; the blob carries whatever the seal needs to unwrap it later (key id, version)."""

    @abc.abstractmethod
    async def decrypt(self, blob: bytes) -> bytes:
        """Unwrap a blob made by `encrypt` (by this seal, or an earlier key of it)."""

    async def check(self) -> None:
        """Raise SealUnavailable when the seal cannot work right now (used for health and retries)."""
        await self.decrypt(await self.encrypt(b"strongroom seal check"))

    async def close(self) -> None:
        return None
