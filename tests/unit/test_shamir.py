"""Tests for strongroom.crypto.shamir (Vault/OpenBao-compatible Shamir over GF(2^8))."""

from __future__ import annotations

import base64
import itertools
from collections import Counter
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strongroom.crypto import shamir
from strongroom.crypto.shamir import (
    _EXP,
    _LOG,
    _evaluate,
    _gf_add,
    _gf_div,
    _gf_inv,
    _gf_mul,
    _interpolate_at_zero,
    combine,
    split,
)

# --------------------------------------------------------------------------
# Slow reference arithmetic, independent of the module's tables.
# --------------------------------------------------------------------------


def ref_mul(a: int, b: int) -> int:
    """ "Russian peasant" multiplication in GF(2^8) mod x^8+x^4+x^3+x+1."""
    product = 0
    while b:
        if b & 1:
            product ^= a
        a <<= 1
        if a & 0x100:
            a ^= 0x11B
        b >>= 1
    return product


def ref_eval(coefficients: list[int], x: int) -> int:
    """sum(c[i] * x^i), term by term (no Horner), with ref_mul."""
    y, power = 0, 1
    for c in coefficients:
        y ^= ref_mul(c, power)
        power = ref_mul(power, x)
    return y


def _byte_stream(data: bytes) -> Iterator[int]:
    yield from data


@pytest.fixture
def fixed_randomness(monkeypatch: pytest.MonkeyPatch):
    """Make split() deterministic: fixed x coordinates and coefficient bytes."""

    def install(xs: list[int], coefficient_bytes: bytes) -> None:
        stream = _byte_stream(coefficient_bytes)
        monkeypatch.setattr(shamir, "_random_x_coordinates", lambda parts: list(xs[:parts]))
        monkeypatch.setattr(shamir, "_random_bytes", lambda n: bytes(next(stream) for _ in range(n)))

    return install


# --------------------------------------------------------------------------
# Field arithmetic
# --------------------------------------------------------------------------


def test_fips197_multiplication_examples() -> None:
    # FIPS-197 section 4.2: {57} . {83} = {c1}; section 4.2.1: {57} . {13} = {fe}.
    assert _gf_mul(0x57, 0x83) == 0xC1
    assert _gf_mul(0x57, 0x13) == 0xFE
    assert ref_mul(0x57, 0x83) == 0xC1
    assert ref_mul(0x57, 0x13) == 0xFE


def test_vault_field_examples() -> None:
    # The same small cases Vault's shamir_test.go checks.
    assert _gf_add(16, 16) == 0
    assert _gf_add(3, 4) == 7
    assert _gf_mul(3, 7) == 9
    assert _gf_mul(3, 0) == 0
    assert _gf_mul(0, 3) == 0
    assert _gf_div(0, 7) == 0
    assert _gf_div(3, 3) == 1
    assert _gf_div(6, 3) == 2


def test_generator_3_has_order_255() -> None:
    assert sorted(_EXP[:255]) == list(range(1, 256))
    assert all(_EXP[_LOG[a]] == a for a in range(1, 256))


def test_multiplication_matches_reference_for_all_pairs() -> None:
    for a in range(256):
        for b in range(256):
            assert _gf_mul(a, b) == ref_mul(a, b), (a, b)


def test_every_nonzero_element_has_an_inverse() -> None:
    for a in range(1, 256):
        inv = _gf_inv(a)
        assert ref_mul(a, inv) == 1, a
        assert _gf_div(1, a) == inv


def test_division_undoes_multiplication() -> None:
    for a in range(256):
        for b in range(1, 256):
            assert _gf_mul(_gf_div(a, b), b) == a, (a, b)


def test_division_by_zero_raises() -> None:
    with pytest.raises(ZeroDivisionError):
        _gf_div(1, 0)
    with pytest.raises(ZeroDivisionError):
        _gf_inv(0)


def test_evaluate_and_interpolate() -> None:
    coefficients = [0x42, 0x01, 0x02]
    assert [_evaluate(coefficients, x) for x in (1, 2, 3)] == [0x41, 0x48, 0x4B]
    with pytest.raises(ValueError, match="x=0"):
        _evaluate(coefficients, 0)
    for intercept in range(256):
        coeffs = [intercept, 0x9C, 0x37]
        xs = [0x10, 0x80, 0xF1]
        ys = [ref_eval(coeffs, x) for x in xs]
        assert _interpolate_at_zero(xs, ys) == intercept


# --------------------------------------------------------------------------
# Fixed vectors
# --------------------------------------------------------------------------

# Vector 1: one secret byte 0x42, threshold 3, polynomial f(x) = 0x42 + 0x01 x + 0x02 x^2.
#   f(1) = 42 ^ 01 ^ 02                               = 0x41
#   f(2) = 42 ^ 02 ^ 02*{04}        = 42 ^ 02 ^ 08    = 0x48
#   f(3) = 42 ^ 03 ^ 02*(3*3={05})  = 42 ^ 03 ^ 0a    = 0x4b
V1_SECRET = b"\x42"
V1_SHARES = [bytes.fromhex("4101"), bytes.fromhex("4802"), bytes.fromhex("4b03")]

# Vector 2: secret b"test" = 74 65 73 74, threshold 3, 4 parts at x = 05, c8, ff, 01.
# Per-byte polynomials (constant term first):
#   [74 11 22], [65 33 44], [73 55 66], [74 77 88]
# e.g. byte 0 at x=05: 05*05 = {11}, 11*05 = {55}, 22*11 = {34} -> 74 ^ 55 ^ 34 = 0x15;
#      byte 0 at x=01: 74 ^ 11 ^ 22 = 0x47.
V2_SECRET = b"test"
V2_XS = [0x05, 0xC8, 0xFF, 0x01]
V2_COEFFICIENTS = bytes.fromhex("1122334455667788")
V2_SHARES = [
    bytes.fromhex("15f2351405"),
    bytes.fromhex("c8fa92adc8"),
    bytes.fromhex("92241b60ff"),
    bytes.fromhex("4712408b01"),
]

# Vector 3: 32-byte secret 00 01 .. 1f, threshold 2, 3 parts at x = 01, 7f, fe, with
# f_i(x) = s_i + a_i x.  At x=1 the share is simply s ^ a (00^5b=5b, 01^1f=1e, ...).
V3_SECRET = bytes(range(32))
V3_XS = [0x01, 0x7F, 0xFE]
V3_COEFFICIENTS = bytes.fromhex("5b1f0c9e7a33d2e4086fa1c7b94e2d705c13e8f6a92b7d40915ec33af78816bd")
V3_SHARES = [
    bytes.fromhex("5b1e0e9d7e36d4e30066abccb543237f4c02fae5bd3e6b578947d921eb9508a201"),
    bytes.fromhex("17033081154c4494dd31f36091333a356121b3cf383861e5299696f8bf37b6657f"),
    bytes.fromhex("2e05661c2697823ab979e3dd2d71667bf2714bb04c4ff8e87a1c19c6414955ebfe"),
]


def test_vector_shares_match_reference_arithmetic() -> None:
    # The literals above, recomputed with the slow reference (not the module).
    assert [bytes([ref_eval([0x42, 0x01, 0x02], x), x]) for x in (1, 2, 3)] == V1_SHARES
    polys = [[V2_SECRET[i], V2_COEFFICIENTS[2 * i], V2_COEFFICIENTS[2 * i + 1]] for i in range(4)]
    assert [bytes(ref_eval(p, x) for p in polys) + bytes([x]) for x in V2_XS] == V2_SHARES
    assert [
        bytes(ref_eval([s, a], x) for s, a in zip(V3_SECRET, V3_COEFFICIENTS, strict=True)) + bytes([x]) for x in V3_XS
    ] == V3_SHARES
    assert V3_SHARES[0][:32] == bytes(s ^ a for s, a in zip(V3_SECRET, V3_COEFFICIENTS, strict=True))


@pytest.mark.parametrize(
    ("secret", "threshold", "xs", "coefficients", "shares"),
    [
        (V1_SECRET, 3, [1, 2, 3], b"\x01\x02", V1_SHARES),
        (V2_SECRET, 3, V2_XS, V2_COEFFICIENTS, V2_SHARES),
        (V3_SECRET, 2, V3_XS, V3_COEFFICIENTS, V3_SHARES),
    ],
    ids=["1-byte", "test", "32-byte"],
)
def test_split_produces_vector_with_fixed_randomness(
    fixed_randomness, secret, threshold, xs, coefficients, shares
) -> None:
    fixed_randomness(xs, coefficients)
    assert split(secret, len(xs), threshold) == shares


@pytest.mark.parametrize(
    ("secret", "threshold", "shares"),
    [(V1_SECRET, 3, V1_SHARES), (V2_SECRET, 3, V2_SHARES), (V3_SECRET, 2, V3_SHARES)],
    ids=["1-byte", "test", "32-byte"],
)
def test_combine_vector_every_subset(secret, threshold, shares) -> None:
    for size in range(threshold, len(shares) + 1):
        for subset in itertools.permutations(shares, size):
            assert combine(list(subset)) == secret


def test_32_byte_vector_shapes() -> None:
    assert all(len(share) == 33 for share in V3_SHARES)
    assert len(combine(V3_SHARES[:2])) == 32


# Real `bao operator init` output (5 shares, threshold 3) published in OpenBao's docs,
# website/content/docs/commands/operator/index.mdx.  The root key is not published,
# but a correct GF(2^8)/share-format implementation must get the same 32-byte value
# from all ten 3-share subsets; the wrong field or byte order would not.
OPENBAO_DOC_SHARES = [
    "sP/4C/fwIDjJmHEC2bi/1Pa43uKhsUQMmiB31GRzFc0R",
    "kHkw2xTBelbDFIMEgEC8NVX7NDSAZ+rdgBJ/HuJwxOX+",
    "+1+1ZnkQDfJFHDZPRq0wjFxEuEEHxDDOQxa8JJ/AYWcb",
    "cewseNJTLovmFrgpyY+9Hi5OgJlJgGGCg7PZyiVdPwN0",
    "wyd7rMGWX5fi0k36X4e+C4myt5CoTmJsHJ0rdYT7BQcF",
]
OPENBAO_DOC_ROOT_KEY = bytes.fromhex("12443b7d6894a5f6a1733e96aa67f984da39f5e7b69e07bc567431cd10542027")


def test_openbao_published_shares_are_consistent() -> None:
    shares = [base64.b64decode(s) for s in OPENBAO_DOC_SHARES]
    assert all(len(share) == 33 for share in shares)
    for subset in itertools.combinations(shares, 3):
        assert combine(list(subset)) == OPENBAO_DOC_ROOT_KEY
    assert combine(shares) == OPENBAO_DOC_ROOT_KEY
    pair_results = {combine(list(pair)) for pair in itertools.combinations(shares, 2)}
    assert OPENBAO_DOC_ROOT_KEY not in pair_results


# --------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------


@st.composite
def split_params(draw, min_threshold: int = 2, secret_size: st.SearchStrategy | None = None):
    if secret_size is None:
        secret_size = st.binary(min_size=1, max_size=64)
    secret = draw(secret_size)
    parts = draw(st.integers(min_value=max(2, min_threshold), max_value=20))
    threshold = draw(st.integers(min_value=min_threshold, max_value=parts))
    return secret, parts, threshold


@settings(max_examples=200, deadline=None)
@given(params=split_params(), data=st.data())
def test_any_threshold_subset_recovers_secret(params, data) -> None:
    secret, parts, threshold = params
    shares = split(secret, parts, threshold)
    assert len(shares) == parts
    assert all(len(share) == len(secret) + 1 for share in shares)
    xs = [share[-1] for share in shares]
    assert len(set(xs)) == parts
    assert 0 not in xs
    order = data.draw(st.permutations(range(parts)))
    size = data.draw(st.integers(min_value=threshold, max_value=parts))
    assert combine([shares[i] for i in order[:size]]) == secret


@settings(max_examples=100, deadline=None)
@given(
    params=split_params(min_threshold=3, secret_size=st.binary(min_size=32, max_size=32)),
    data=st.data(),
)
def test_below_threshold_does_not_recover_secret(params, data) -> None:
    secret, parts, threshold = params
    shares = split(secret, parts, threshold)
    order = data.draw(st.permutations(range(parts)))
    # Each byte of the result is uniform given t-1 shares: equality has odds 2^-256.
    assert combine([shares[i] for i in order[: threshold - 1]]) != secret


@settings(max_examples=50, deadline=None)
@given(secret=st.binary(min_size=1, max_size=64))
def test_bytes_like_inputs(secret) -> None:
    shares = split(bytearray(secret), 3, 2)
    assert combine([bytearray(shares[0]), memoryview(shares[2])]) == secret
    assert combine(split(memoryview(secret), 2, 2)) == secret


def test_single_share_y_bytes_are_uniform() -> None:
    # t=2: y = s + a*x with a uniform and x != 0, so y is uniform whatever s is.
    # 2000 splits x 16 positions = 32000 samples, 125 expected per value; the bounds
    # are > 6 standard deviations out, so this does not flake.
    counts: Counter[int] = Counter()
    secret = b"\x00" * 16
    for _ in range(2000):
        counts.update(split(secret, 2, 2)[0][:-1])
    assert len(counts) == 256
    assert min(counts.values()) >= 50
    assert max(counts.values()) <= 250


def test_one_share_is_consistent_with_every_secret_byte() -> None:
    share = split(b"\x99", 2, 2)[0]
    y, x = share[0], share[1]
    other_x = 1 if x != 1 else 2
    for candidate in range(256):
        slope = _gf_div(y ^ candidate, x)  # the line through (0, candidate) and (x, y)
        other = bytes([candidate ^ _gf_mul(slope, other_x), other_x])
        assert combine([share, other]) == bytes([candidate])


def test_x_coordinates_are_spread_over_1_to_255() -> None:
    seen: set[int] = set()
    for _ in range(200):
        seen.update(share[-1] for share in split(b"k", 10, 2))
    assert 0 not in seen
    assert len(seen) > 200  # 2000 draws over 255 values: ~255 expected


# --------------------------------------------------------------------------
# Validation (Vault's messages)
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parts", "threshold", "message"),
    [
        (2, 3, "parts cannot be less than threshold"),
        (1000, 3, "parts cannot exceed 255"),
        (256, 256, "parts cannot exceed 255"),
        (0, 0, "threshold must be at least 2"),
        (5, 1, "threshold must be at least 2"),
        (1, 1, "threshold must be at least 2"),
    ],
)
def test_split_rejects_bad_parameters(parts, threshold, message) -> None:
    with pytest.raises(ValueError, match=f"^{message}$"):
        split(b"test", parts, threshold)


def test_split_threshold_cap_is_unreachable_but_ordered_like_vault() -> None:
    # As in Vault, "threshold cannot exceed 255" can never fire: threshold > 255
    # means either parts < threshold or parts > 255, both checked first.
    with pytest.raises(ValueError, match="^parts cannot be less than threshold$"):
        split(b"test", 255, 256)
    with pytest.raises(ValueError, match="^parts cannot exceed 255$"):
        split(b"test", 300, 300)


def test_split_rejects_empty_secret() -> None:
    for empty in (b"", bytearray(), memoryview(b"")):
        with pytest.raises(ValueError, match="^cannot split an empty secret$"):
            split(empty, 3, 2)


@pytest.mark.parametrize(
    ("shares", "message"),
    [
        ([], "less than two parts cannot be used to reconstruct the secret"),
        ([b"ab"], "less than two parts cannot be used to reconstruct the secret"),
        ([b"foo", b"ba"], "all parts must be the same length"),
        ([b"ab", b"cde"], "all parts must be the same length"),
        ([b"f", b"b"], "parts must be at least two bytes"),
        ([b"", b""], "parts must be at least two bytes"),
        ([b"foo", b"foo"], "duplicate part detected"),
        ([b"ab\x01", b"cd\x02", b"ef\x01"], "duplicate part detected"),
    ],
)
def test_combine_rejects_bad_input(shares, message) -> None:
    with pytest.raises(ValueError, match=f"^{message}$"):
        combine(shares)
