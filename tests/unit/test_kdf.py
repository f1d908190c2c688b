"""crypto/kdf.py: HKDF-SHA256 against RFC 5869, the token store's derivation pinned, and the counter-mode KDF
against Vault's vector."""

from __future__ import annotations

import pytest

from strongroom.crypto.kdf import counter_mode_hmac_sha256, hkdf_sha256


def test_rfc_5869_test_case_3_no_salt_no_info() -> None:
    okm = hkdf_sha256(b"\x0b" * 22, info=b"", length=42)
    assert okm == bytes.fromhex("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8")


def test_the_token_accessor_key_derivation_does_not_drift() -> None:
    """Accessors sealed under this key are in storage: a change would lose every token's accessor."""
    key = hkdf_sha256(b"s.0123456789abcdefghijklmn", info=b"strongroom token accessor")
    assert key == bytes.fromhex("c49ff7dec922068475fbbaec282952efd6e8b4dcb550c59a64a323a1db216558")


@pytest.mark.parametrize("bits", [128, 256, 384, 1024])
def test_the_counter_mode_kdf_is_vaults(bits: int) -> None:
    """Vault's own vector (sdk/helper/kdf's TestCounterMode): key 1..16, context "the quick brown fox"."""
    out = counter_mode_hmac_sha256(bytes(range(1, 17)), b"the quick brown fox", bits)
    assert len(out) * 8 == bits and bytes(range(1, 17)) not in out
    if bits == 256:
        assert out.hex() == "db19ee06b9ecb440f898fb994f058dde42c8428f280365ddcea3665058ea579d"
