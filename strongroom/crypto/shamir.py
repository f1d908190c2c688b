"""Shamir's secret sharing over GF(2^8), wire-compatible with Vault/OpenBao.

The share format matches ``sdk/helper/shamir`` in HashiCorp Vault and OpenBao:
each share is the polynomial's y-values, one per secret byte, followed by one
trailing byte holding the share's x coordinate, so a share is one byte longer
than the secret.  The field is GF(2^8) with the AES polynomial
x^8 + x^4 + x^3 + x + 1 (0x11b); each secret byte gets its own random
polynomial of degree ``threshold - 1``, and the x coordinates are distinct,
random and non-zero.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import TypeAlias

__all__ = ["SHARE_OVERHEAD", "BytesLike", "combine", "split"]

#: Accepted input types; callers may keep secrets in wipeable bytearrays.
BytesLike: TypeAlias = bytes | bytearray | memoryview

#: Bytes a share carries on top of the secret (the trailing x coordinate).
SHARE_OVERHEAD = 1

_POLY = 0x11B
_GENERATOR = 3


def _build_tables() -> tuple[bytes, bytes, bytes]:
    """Return (EXP, LOG, MUL) tables for GF(2^8) mod 0x11b.

    Field arithmetic choice: log/exp tables for generator 3, used once at import to
    fill a full 64 KiB product table, so gf_mul is one branch-free index.
    """
    exp = bytearray(510)
    log = bytearray(256)
    value = 1
    for power in range(255):
        exp[power] = value
        log[value] = power
        # value *= 3, i.e. value ^ xtime(value)
        doubled = value << 1
        if doubled & 0x100:
            doubled ^= _POLY
        value ^= doubled
    for power in range(255, 510):
        exp[power] = exp[power - 255]

    mul = bytearray(65536)
    for a in range(1, 256):
        log_a = log[a]
        row = a << 8
        for b in range(1, 256):
            mul[row | b] = exp[log_a + log[b]]
    return bytes(exp), bytes(log), bytes(mul)


_EXP, _LOG, _MUL = _build_tables()
# _INV[a] is the multiplicative inverse of a; _INV[0] is unused (0).
_INV = bytes([0] + [_EXP[255 - _LOG[a]] for a in range(1, 256)])


def _gf_add(a: int, b: int) -> int:
    """Add (and subtract) in GF(2^8): bitwise XOR."""
    return a ^ b


def _gf_mul(a: int, b: int) -> int:
    """Multiply in GF(2^8) mod 0x11b."""
    return _MUL[(a << 8) | b]


def _gf_inv(a: int) -> int:
    """Multiplicative inverse in GF(2^8); raises ZeroDivisionError for 0."""
    if a == 0:
        raise ZeroDivisionError("zero has no inverse in GF(2^8)")
    return _INV[a]


def _gf_div(a: int, b: int) -> int:
    """Divide a by b in GF(2^8); raises ZeroDivisionError if b is 0."""
    return _MUL[(a << 8) | _gf_inv(b)]


def _evaluate(coefficients: Sequence[int], x: int) -> int:
    """Evaluate the polynomial sum(c[i] * x^i) at a non-zero x (Horner's method)."""
    if x == 0:
        # Evaluating at 0 would return the secret byte itself.
        raise ValueError("evaluation at x=0 would leak a byte of the secret")
    row = _MUL[x << 8 : (x << 8) + 256]
    out = 0
    for coeff in reversed(coefficients):
        out = row[out] ^ coeff
    return out


def _lagrange_basis_at_zero(x_samples: Sequence[int]) -> list[int]:
    """Lagrange basis values l_i(0) for distinct x samples.

    l_i(0) = prod_{j != i} (0 - x_j) / (x_i - x_j); in characteristic 2 subtraction
    is XOR, so this is prod x_j / (x_i ^ x_j).
    """
    basis = []
    for i, x_i in enumerate(x_samples):
        value = 1
        for j, x_j in enumerate(x_samples):
            if i != j:
                value = _gf_mul(value, _gf_div(x_j, x_i ^ x_j))
        basis.append(value)
    return basis


def _interpolate_at_zero(x_samples: Sequence[int], y_samples: Sequence[int]) -> int:
    """Value at x=0 of the unique polynomial through the (x, y) samples."""
    result = 0
    for y, b in zip(y_samples, _lagrange_basis_at_zero(x_samples), strict=True):
        result ^= _gf_mul(y, b)
    return result


def _random_bytes(n: int) -> bytes:
    """Polynomial coefficients (a seam tests can replace)."""
    return secrets.token_bytes(n)


def _random_x_coordinates(parts: int) -> list[int]:
    """The first ``parts`` entries of a uniformly random permutation of 1..255."""
    return secrets.SystemRandom().sample(range(1, 256), parts)


def split(secret: BytesLike, parts: int, threshold: int) -> list[bytes]:
    """Split ``secret`` into ``parts`` shares, any ``threshold`` of which recover it.

    Each share is ``len(secret) + 1`` bytes: the y-values followed by the x
    coordinate.  Raises ValueError with Vault's messages for invalid arguments.
    """
    if parts < threshold:
        raise ValueError("parts cannot be less than threshold")
    if parts > 255:
        raise ValueError("parts cannot exceed 255")
    if threshold < 2:
        raise ValueError("threshold must be at least 2")
    if threshold > 255:
        raise ValueError("threshold cannot exceed 255")
    with memoryview(secret) as view, view.cast("B") as data:
        length = len(data)
        if length == 0:
            raise ValueError("cannot split an empty secret")

        x_coordinates = _random_x_coordinates(parts)
        if len(set(x_coordinates)) != parts or not all(0 < x < 256 for x in x_coordinates):
            raise RuntimeError("x coordinates must be distinct and in 1..255")
        out = [bytearray(length + SHARE_OVERHEAD) for _ in range(parts)]
        for share, x in zip(out, x_coordinates, strict=True):
            share[length] = x

        coefficients = bytearray(threshold)
        for idx in range(length):
            coefficients[0] = data[idx]
            coefficients[1:] = _random_bytes(threshold - 1)
            for share, x in zip(out, x_coordinates, strict=True):
                share[idx] = _evaluate(coefficients, x)
        coefficients[:] = bytes(threshold)
    result = [bytes(share) for share in out]
    for share in out:
        share[:] = bytes(len(share))
    return result


def combine(shares: Sequence[BytesLike]) -> bytes:
    """Reconstruct the secret from at least ``threshold`` shares made by :func:`split`.

    With fewer than ``threshold`` shares the result is an unrelated value, not an
    error: the format carries no threshold or checksum.  Raises ValueError with
    Vault's messages for malformed input.
    """
    if len(shares) < 2:
        raise ValueError("less than two parts cannot be used to reconstruct the secret")
    views = [memoryview(share).cast("B") for share in shares]
    try:
        share_len = len(views[0])
        if share_len < 2:
            raise ValueError("parts must be at least two bytes")
        if any(len(view) != share_len for view in views):
            raise ValueError("all parts must be the same length")

        x_samples = [view[share_len - 1] for view in views]
        if len(set(x_samples)) != len(x_samples):
            raise ValueError("duplicate part detected")

        basis = _lagrange_basis_at_zero(x_samples)
        rows = [_MUL[b << 8 : (b << 8) + 256] for b in basis]
        secret = bytearray(share_len - 1)
        for idx in range(share_len - 1):
            value = 0
            for view, row in zip(views, rows, strict=True):
                value ^= row[view[idx]]
            secret[idx] = value
        result = bytes(secret)
        secret[:] = bytes(len(secret))
        return result
    finally:
        for view in views:
            view.release()
