"""How the pkcs11 seal says what the HSM answered."""

from __future__ import annotations

from strongroom.seals.base import SealUnavailable


class HsmRefused(SealUnavailable):
    """The HSM answered, and the answer is final: retrying on a new session would not change it."""


class PinRefused(HsmRefused):
    """The HSM refused the PIN (or the PIN cannot be used): the server must not try it again by itself,
    since a few more wrong attempts lock the token's user PIN."""

    retryable = False


def ckr_name(exc: BaseException) -> str:
    """`PinIncorrect` -> `CKR_PIN_INCORRECT`, from python-pkcs11's exception class."""
    name = type(exc).__name__
    if name in ("PKCS11Error", "RuntimeError"):
        return "an unrecognised PKCS#11 error"
    snake = "".join(f"_{c}" if c.isupper() and i else c for i, c in enumerate(name)).upper()
    return f"CKR_{snake}"
