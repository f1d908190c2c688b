"""The static seal: OpenBao's key forms and rotation, blob format, and errors that never show a key."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from strongroom.crypto.aead import open_bytes
from strongroom.seals.base import AutoSeal, SealUnavailable
from strongroom.seals.static import ENV_OVERRIDES, StaticSeal, from_options, load_key, parse_blob


@pytest.fixture(autouse=True)
def no_bao_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ENV_OVERRIDES.values():
        monkeypatch.delenv(variable, raising=False)


def key_file(directory: Path, name: str, data: bytes) -> str:
    path = directory / name
    path.write_bytes(data)
    return f"file://{path}"


def encodings(key: bytes) -> dict[str, bytes]:
    return {
        "raw": key,
        "hex": key.hex().encode(),
        "hex + newline": key.hex().encode() + b"\n",
        "base64": base64.b64encode(key),
        "base64 + newline": base64.b64encode(key) + b"\n",
        "unpadded url-safe base64": base64.urlsafe_b64encode(key).rstrip(b"="),
    }


def assert_no_key_material(message: str, *keys: bytes) -> None:
    for key in keys:
        for form in encodings(key).values():
            text = form.strip().decode("latin-1")
            assert text not in message
        assert key.hex()[:16] not in message
        assert base64.b64encode(key).decode()[:16] not in message


# -- round trips and the blob ----------------------------------------------------------------------


@pytest.mark.anyio
async def test_round_trip_from_a_key_file(tmp_path: Path) -> None:
    key = os.urandom(32)
    seal = from_options({"current_key_id": "k1", "current_key": key_file(tmp_path, "unseal.key", key)})
    assert isinstance(seal, AutoSeal)
    assert seal.type_name == "static"

    blob = await seal.encrypt(b"the root key")
    assert await seal.decrypt(blob) == b"the root key"
    assert b"the root key" not in blob
    await seal.check()
    await seal.close()


@pytest.mark.anyio
async def test_blob_is_header_with_key_id_then_gcm_under_that_id(tmp_path: Path) -> None:
    key = os.urandom(32)
    seal = StaticSeal("20250606-1", key)
    blob = await seal.encrypt(b"payload")

    assert blob[0] == 1
    assert blob[1] == len(b"20250606-1")
    assert blob[2:12] == b"20250606-1"
    key_id, body = parse_blob(blob)
    assert key_id == "20250606-1"
    assert len(body) == 12 + len(b"payload") + 16
    # AES-256-GCM with the key id as associated data, exactly as crypto.aead.seal_bytes makes it.
    assert bytes(open_bytes(key, body, b"20250606-1")) == b"payload"


@pytest.mark.anyio
async def test_each_encryption_uses_a_fresh_nonce() -> None:
    seal = StaticSeal("k1", os.urandom(32))
    blobs = {await seal.encrypt(b"same") for _ in range(20)}
    assert len(blobs) == 20


@pytest.mark.anyio
async def test_key_id_is_bound_to_the_ciphertext() -> None:
    key = os.urandom(32)
    seal = StaticSeal("k1", key, "k2", os.urandom(32))
    blob = await seal.encrypt(b"payload")
    # Point the header at the other configured key id: it must not decrypt (and must not crash).
    relabelled = bytes([1, 2]) + b"k2" + blob[4:]
    with pytest.raises(SealUnavailable, match="did not decrypt under key id 'k2'"):
        await seal.decrypt(relabelled)


@pytest.mark.anyio
async def test_tampered_blob_is_refused() -> None:
    seal = StaticSeal("k1", os.urandom(32))
    blob = bytearray(await seal.encrypt(b"payload"))
    blob[-1] ^= 1
    with pytest.raises(SealUnavailable, match="did not decrypt"):
        await seal.decrypt(bytes(blob))


@pytest.mark.parametrize("blob", [b"", b"\x01", b"\x02\x02k1" + bytes(40), b"\x01\x05k1", b"\x01\x00" + bytes(40)])
@pytest.mark.anyio
async def test_malformed_blobs_are_refused(blob: bytes) -> None:
    seal = StaticSeal("k1", os.urandom(32))
    with pytest.raises(SealUnavailable, match="static seal"):
        await seal.decrypt(blob)


# -- rotation ---------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_previous_key_decrypts_blobs_made_before_rotation(tmp_path: Path) -> None:
    old, new = os.urandom(32), os.urandom(32)
    before = from_options({"current_key_id": "2024", "current_key": key_file(tmp_path, "old.key", old)})
    old_blob = await before.encrypt(b"root key v1")

    after = from_options(
        {
            "current_key_id": "2025",
            "current_key": key_file(tmp_path, "new.key", new),
            "previous_key_id": "2024",
            "previous_key": key_file(tmp_path, "old.key", old),
        }
    )
    assert after.current_key_id == "2025"
    assert after.previous_key_id == "2024"
    assert await after.decrypt(old_blob) == b"root key v1"

    new_blob = await after.encrypt(b"root key v2")
    assert parse_blob(new_blob)[0] == "2025"
    assert await after.decrypt(new_blob) == b"root key v2"
    # The old configuration cannot read what the new key made.
    with pytest.raises(SealUnavailable, match="key id '2025'"):
        await before.decrypt(new_blob)


@pytest.mark.anyio
async def test_unknown_key_id_names_the_ids_it_knows() -> None:
    made_by = StaticSeal("gone", os.urandom(32))
    blob = await made_by.encrypt(b"payload")
    seal = StaticSeal("k2", os.urandom(32), "k1", os.urandom(32))
    with pytest.raises(SealUnavailable) as caught:
        await seal.decrypt(blob)
    message = str(caught.value)
    assert "'gone'" in message
    assert "current_key_id 'k2'" in message
    assert "previous_key_id 'k1'" in message


@pytest.mark.anyio
async def test_unknown_key_id_without_a_previous_key() -> None:
    blob = await StaticSeal("a", os.urandom(32)).encrypt(b"x")
    with pytest.raises(SealUnavailable, match="key id 'a', which is not current_key_id 'b'"):
        await StaticSeal("b", os.urandom(32)).decrypt(blob)


def test_same_id_for_different_keys_is_refused() -> None:
    with pytest.raises(ValueError, match="share the key id 'k1'"):
        StaticSeal("k1", os.urandom(32), "k1", os.urandom(32))


def test_same_key_under_two_ids_is_refused() -> None:
    key = os.urandom(32)
    with pytest.raises(ValueError, match="same key under different ids"):
        StaticSeal("k1", key, "k2", key)


@pytest.mark.anyio
async def test_same_key_and_id_twice_is_just_the_current_key() -> None:
    key = os.urandom(32)
    seal = StaticSeal("k1", key, "k1", key)
    assert seal.previous_key_id is None
    assert await seal.decrypt(await seal.encrypt(b"x")) == b"x"


def test_previous_key_needs_its_id_and_the_other_way_round(tmp_path: Path) -> None:
    current = key_file(tmp_path, "c.key", os.urandom(32))
    previous = key_file(tmp_path, "p.key", os.urandom(32))
    with pytest.raises(ValueError, match='"previous_key" is set but field "previous_key_id" is missing'):
        from_options({"current_key_id": "c", "current_key": current, "previous_key": previous})
    with pytest.raises(ValueError, match='"previous_key_id" is set but field "previous_key" is missing'):
        from_options({"current_key_id": "c", "current_key": current, "previous_key_id": "p"})


def test_required_fields() -> None:
    with pytest.raises(ValueError, match='"current_key_id"'):
        from_options({"current_key": "env://X"})
    with pytest.raises(ValueError, match='"current_key"'):
        from_options({"current_key_id": "k1"})


# -- key sources and encodings -----------------------------------------------------------------------


@pytest.mark.parametrize("form", list(encodings(b"\0" * 32)))
def test_key_file_in_every_openbao_encoding(tmp_path: Path, form: str) -> None:
    key = os.urandom(32)
    source = key_file(tmp_path, "unseal.key", encodings(key)[form])
    assert load_key(source, "current_key") == key


@pytest.mark.parametrize("form", [f for f in encodings(b"\0" * 32) if f != "raw"])
@pytest.mark.anyio
async def test_key_in_an_environment_variable(monkeypatch: pytest.MonkeyPatch, form: str) -> None:
    key = os.urandom(32)
    monkeypatch.setenv("STRONGROOM_TEST_UNSEAL_KEY", encodings(key)[form].decode())
    seal = from_options({"current_key_id": "k1", "current_key": "env://STRONGROOM_TEST_UNSEAL_KEY"})
    assert await StaticSeal("k1", key).decrypt(await seal.encrypt(b"x")) == b"x"


def test_raw_key_file_is_taken_byte_for_byte_even_with_whitespace_at_its_ends(tmp_path: Path) -> None:
    key = b"\n" + os.urandom(30) + b" "
    assert load_key(key_file(tmp_path, "unseal.key", key), "current_key") == key


def test_relative_key_file_is_read_from_the_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = os.urandom(32)
    (tmp_path / "unseal.key").write_bytes(key)
    monkeypatch.chdir(tmp_path)
    assert load_key("file://./unseal.key", "current_key") == key
    assert load_key("file://unseal.key", "current_key") == key


def test_any_32_characters_are_a_raw_key_as_in_openbao() -> None:
    # So a 128-bit key written as 32 hex digits is taken as 32 raw bytes, not refused.
    text = os.urandom(16).hex()
    assert load_key(text, "current_key") == text.encode()


def test_literal_key_value_as_openbao_allows() -> None:
    key = os.urandom(32)
    assert load_key(key.hex(), "current_key") == key
    assert load_key(base64.b64encode(key).decode(), "current_key") == key


@pytest.mark.anyio
async def test_openbao_environment_variables_override_the_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = os.urandom(32)
    monkeypatch.setenv("BAO_STATIC_SEAL_CURRENT_KEY_ID", "from-env")
    monkeypatch.setenv("BAO_STATIC_SEAL_CURRENT_KEY", key.hex())
    seal = from_options({"current_key_id": "k1", "current_key": key_file(tmp_path, "other.key", os.urandom(32))})
    assert seal.current_key_id == "from-env"
    blob = await seal.encrypt(b"x")
    assert await StaticSeal("from-env", key).decrypt(blob) == b"x"


# -- errors: clear, and never the key ------------------------------------------------------------------


def test_missing_key_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.key"
    with pytest.raises(SealUnavailable) as caught:
        from_options({"current_key_id": "k1", "current_key": f"file://{missing}"})
    assert str(missing) in str(caught.value)
    assert "does not exist" in str(caught.value)
    assert "current_key" in str(caught.value)


def test_unreadable_key_source_is_a_directory(tmp_path: Path) -> None:
    with pytest.raises(SealUnavailable, match="cannot read the current_key file"):
        load_key(f"file://{tmp_path}", "current_key")


def test_unset_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STRONGROOM_TEST_NO_SUCH_KEY", raising=False)
    with pytest.raises(SealUnavailable, match="STRONGROOM_TEST_NO_SUCH_KEY for current_key is not set"):
        from_options({"current_key_id": "k1", "current_key": "env://STRONGROOM_TEST_NO_SUCH_KEY"})


@pytest.mark.parametrize("size", [0, 1, 16, 24, 31, 33, 48, 63, 65, 128])
def test_wrong_size_key_files_are_refused_without_showing_the_key(tmp_path: Path, size: int) -> None:
    data = bytes(b | 0x80 for b in os.urandom(size))  # no ASCII whitespace to strip
    source = key_file(tmp_path, "bad.key", data)
    with pytest.raises((ValueError, SealUnavailable)) as caught:
        from_options({"current_key_id": "k1", "current_key": source})
    message = str(caught.value)
    assert "current_key" in message
    assert "not an AES-256 key" in message
    assert f"found {size} bytes" in message
    if size >= 4:
        assert data.hex()[:8] not in message
        assert repr(data)[2:10] not in message


@pytest.mark.parametrize(
    "text",
    [
        "ab" * 16 + "zz" * 16,  # 64 characters, not hex
        "@" * 44,  # 44 characters, not base64
        "!" * 43,  # 43 characters, not base64
        base64.b64encode(os.urandom(33)).decode()[:44],  # 44 base64 characters, not 32 bytes
        os.urandom(24).hex(),  # a 192-bit key
        os.urandom(20).hex(),  # 160 bits in hex
        base64.b64encode(os.urandom(16)).decode(),  # a 128-bit key in base64
    ],
    ids=["bad-hex", "bad-base64", "bad-base64url", "33-bytes-base64", "192-bit-hex", "160-bit-hex", "128-bit-base64"],
)
def test_wrong_encodings_in_the_environment_are_refused_without_showing_them(
    monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    monkeypatch.setenv("STRONGROOM_TEST_UNSEAL_KEY", text)
    with pytest.raises(ValueError) as caught:
        from_options({"current_key_id": "k1", "current_key": "env://STRONGROOM_TEST_UNSEAL_KEY"})
    message = str(caught.value)
    assert "STRONGROOM_TEST_UNSEAL_KEY" in message
    assert text not in message
    assert text[:12] not in message


@pytest.mark.anyio
async def test_no_error_or_repr_shows_key_material(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    current, previous, stranger = os.urandom(32), os.urandom(32), os.urandom(32)
    seal = from_options(
        {
            "current_key_id": "c",
            "current_key": key_file(tmp_path, "c.key", current.hex().encode()),
            "previous_key_id": "p",
            "previous_key": key_file(tmp_path, "p.key", base64.b64encode(previous)),
        }
    )
    messages = [repr(seal), str(seal.__dict__)]
    blob = await StaticSeal("c", stranger).encrypt(b"x")
    for bad in (blob, blob[:5], await StaticSeal("x", stranger).encrypt(b"x")):
        with pytest.raises(SealUnavailable) as caught:
            await seal.decrypt(bad)
        messages.append(str(caught.value))
    with pytest.raises(ValueError) as refused:
        StaticSeal("c", current, "c", previous)
    messages.append(str(refused.value))
    with pytest.raises(ValueError) as refused:
        StaticSeal("c", current, "p", current)
    messages.append(str(refused.value))
    monkeypatch.setenv("STRONGROOM_TEST_UNSEAL_KEY", current.hex()[:-2])
    with pytest.raises(ValueError) as refused:
        from_options({"current_key_id": "c", "current_key": "env://STRONGROOM_TEST_UNSEAL_KEY"})
    messages.append(str(refused.value))

    for message in messages:
        assert_no_key_material(message, current, previous, stranger)
