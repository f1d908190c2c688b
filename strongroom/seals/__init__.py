"""How the root key is protected: the Shamir seal, or an auto-unseal seal built from the `seal` block."""

from __future__ import annotations

from collections.abc import Mapping

from strongroom.seals.base import AutoSeal, SealUnavailable

AUTO_SEAL_TYPES = ("transit", "pkcs11", "static")


def build_auto_seal(seal_type: str, options: Mapping[str, str]) -> AutoSeal:
    """The seal a `seal "<type>" {...}` block describes; ValueError names a missing or bad field."""
    if seal_type == "transit":
        from strongroom.seals import transit

        return transit.from_options(options)
    if seal_type == "pkcs11":
        from strongroom.seals import pkcs11

        return pkcs11.from_options(options)
    if seal_type == "static":
        from strongroom.seals import static

        return static.from_options(options)
    raise ValueError(f'seal "{seal_type}": unknown seal type; known: shamir, {", ".join(AUTO_SEAL_TYPES)}')


__all__ = ["AUTO_SEAL_TYPES", "AutoSeal", "SealUnavailable", "build_auto_seal"]
