"""The transit secrets engine through hvac's transit methods and our own CLI, against the real server.

Where it can, a result is checked outside the server too: an exported key decrypts a ciphertext with
plain AES-GCM, an ed25519 signature verifies under the public key read_key shows, a hash is hashlib's.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import hvac
import hvac.exceptions
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tests.integration.cli_harness import Bao, ok
from tests.integration.unsealed import Unsealed, run_unsealed

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def transit_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Unsealed]:
    with run_unsealed(tmp_path_factory.mktemp("transit"), clean_log=False) as running:
        running.ok("POST", "sys/mounts/transit", json={"type": "transit"})
        yield running
        assert "Traceback" not in running.server.log()


@pytest.fixture(scope="module")
def client(transit_store: Unsealed) -> hvac.Client:
    session = requests.Session()
    session.trust_env = False
    return hvac.Client(url=transit_store.server.address, token=transit_store.root_token, session=session)


HELLO = base64.b64encode(b"hello").decode()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_key_lifecycle_encrypt_rotate_rewrap_trim(client: hvac.Client) -> None:
    transit = client.secrets.transit
    name = unique("aes")
    transit.create_key(name, exportable=True, allow_plaintext_backup=True)
    key = transit.read_key(name)["data"]
    assert key["type"] == "aes256-gcm96" and key["latest_version"] == 1 and list(key["keys"]) == ["1"], key
    assert name in transit.list_keys()["data"]["keys"]

    plaintext = b"attack at dawn"
    v1 = transit.encrypt_data(name, plaintext=b64(plaintext))["data"]["ciphertext"]
    assert v1.startswith("vault:v1:")
    transit.rotate_key(name)
    assert transit.read_key(name)["data"]["latest_version"] == 2
    v2 = transit.encrypt_data(name, plaintext=b64(plaintext))["data"]["ciphertext"]
    assert v2.startswith("vault:v2:")
    pinned = transit.encrypt_data(name, plaintext=b64(plaintext), key_version=1)["data"]["ciphertext"]
    assert pinned.startswith("vault:v1:")
    for ciphertext in (v1, v2, pinned):
        assert base64.b64decode(transit.decrypt_data(name, ciphertext=ciphertext)["data"]["plaintext"]) == plaintext
    rewrapped = transit.rewrap_data(name, ciphertext=v1)["data"]["ciphertext"]
    assert rewrapped.startswith("vault:v2:")

    # The exported version-2 key decrypts a version-2 ciphertext with plain AES-256-GCM (nonce | ciphertext | tag).
    exported = transit.export_key(name, key_type="encryption-key", version="2")["data"]["keys"]
    raw = base64.b64decode(rewrapped.split(":", 2)[2])
    assert AESGCM(base64.b64decode(exported["2"])).decrypt(raw[:12], raw[12:], None) == plaintext

    transit.update_key_configuration(name, min_decryption_version=2)
    with pytest.raises(hvac.exceptions.InvalidRequest):
        transit.decrypt_data(name, ciphertext=v1)
    transit.update_key_configuration(name, min_encryption_version=2)  # trim needs it (hvac refuses both in one call)
    transit.trim_key(name, min_version=2)
    assert list(transit.read_key(name)["data"]["keys"]) == ["2"]
    assert base64.b64decode(transit.decrypt_data(name, ciphertext=rewrapped)["data"]["plaintext"]) == plaintext

    # Backup, delete (only once allowed), restore under another name: old ciphertexts still open.
    backup = transit.backup_key(name)["data"]["backup"]
    with pytest.raises(hvac.exceptions.InvalidRequest):
        transit.delete_key(name)
    transit.update_key_configuration(name, deletion_allowed=True)
    transit.delete_key(name)
    with pytest.raises(hvac.exceptions.InvalidPath):
        transit.read_key(name)
    with pytest.raises(hvac.exceptions.InvalidRequest):
        transit.decrypt_data(name, ciphertext=v2)
    restored = unique("restored")
    transit.restore_key(backup, name=restored)
    assert base64.b64decode(transit.decrypt_data(restored, ciphertext=v2)["data"]["plaintext"]) == plaintext


def test_batch_input(client: hvac.Client) -> None:
    transit = client.secrets.transit
    name = unique("batch")
    transit.create_key(name)
    plaintexts = [os.urandom(n) for n in (1, 16, 100)]
    encrypted = transit.encrypt_data(name, batch_input=[{"plaintext": b64(p)} for p in plaintexts])
    ciphertexts = [item["ciphertext"] for item in encrypted["data"]["batch_results"]]
    assert len(ciphertexts) == 3 and all(c.startswith("vault:v1:") for c in ciphertexts)
    decrypted = transit.decrypt_data(name, batch_input=[{"ciphertext": c} for c in ciphertexts])
    assert [base64.b64decode(item["plaintext"]) for item in decrypted["data"]["batch_results"]] == plaintexts
    # One bad item fails the batch (400) and says which.
    with pytest.raises(hvac.exceptions.InvalidRequest) as caught:
        transit.decrypt_data(name, batch_input=[{"ciphertext": ciphertexts[0]}, {"ciphertext": "vault:v1:AAAA"}])
    assert "invalid ciphertext" in str(caught.value) or "error" in str(caught.value)


def test_derived_keys_need_their_context(client: hvac.Client) -> None:
    transit = client.secrets.transit
    name = unique("derived")
    transit.create_key(name, derived=True)
    assert transit.read_key(name)["data"]["derived"] is True
    alice, bob = b64(b"tenant-alice"), b64(b"tenant-bob")
    with pytest.raises(hvac.exceptions.InvalidRequest):
        transit.encrypt_data(name, plaintext=b64(b"x"))  # no context
    ciphertext = transit.encrypt_data(name, plaintext=b64(b"for alice"), context=alice)["data"]["ciphertext"]
    opened = transit.decrypt_data(name, ciphertext=ciphertext, context=alice)["data"]["plaintext"]
    assert base64.b64decode(opened) == b"for alice"
    with pytest.raises(hvac.exceptions.InvalidRequest):
        transit.decrypt_data(name, ciphertext=ciphertext, context=bob)

    convergent = unique("convergent")
    transit.create_key(convergent, derived=True, convergent_encryption=True)
    same = {
        transit.encrypt_data(convergent, plaintext=b64(b"same"), context=alice)["data"]["ciphertext"] for _ in range(2)
    }
    assert len(same) == 1
    other = transit.encrypt_data(convergent, plaintext=b64(b"same"), context=bob)["data"]["ciphertext"]
    assert other not in same

    # A data key derived under a context.
    datakey = transit.generate_data_key(name, key_type="plaintext", context=alice, bits=256)["data"]
    assert len(base64.b64decode(datakey["plaintext"])) == 32
    unwrapped = transit.decrypt_data(name, ciphertext=datakey["ciphertext"], context=alice)["data"]["plaintext"]
    assert unwrapped == datakey["plaintext"]


def test_data_keys_random_hash_hmac(client: hvac.Client) -> None:
    transit = client.secrets.transit
    name = unique("misc")
    transit.create_key(name)
    plain = transit.generate_data_key(name, key_type="plaintext")["data"]
    assert base64.b64decode(
        transit.decrypt_data(name, ciphertext=plain["ciphertext"])["data"]["plaintext"]
    ) == base64.b64decode(plain["plaintext"])
    wrapped = transit.generate_data_key(name, key_type="wrapped", bits=512)["data"]
    assert "plaintext" not in wrapped or wrapped["plaintext"] in (None, "")
    assert (
        len(base64.b64decode(transit.decrypt_data(name, ciphertext=wrapped["ciphertext"])["data"]["plaintext"])) == 64
    )

    random_b64 = transit.generate_random_bytes(n_bytes=48)["data"]["random_bytes"]
    assert len(base64.b64decode(random_b64)) == 48
    random_hex = transit.generate_random_bytes(n_bytes=16, output_format="hex")["data"]["random_bytes"]
    assert len(bytes.fromhex(random_hex)) == 16

    data = b"the quick brown fox"
    assert transit.hash_data(b64(data))["data"]["sum"] == hashlib.sha256(data).hexdigest()
    digest = transit.hash_data(b64(data), algorithm="sha2-512", output_format="base64")["data"]["sum"]
    assert base64.b64decode(digest) == hashlib.sha512(data).digest()

    mac = transit.generate_hmac(name, b64(data))["data"]["hmac"]
    assert mac.startswith("vault:v1:")
    assert transit.verify_signed_data(name, b64(data), hmac=mac)["data"]["valid"] is True
    assert transit.verify_signed_data(name, b64(b"tampered"), hmac=mac)["data"]["valid"] is False
    mac384 = transit.generate_hmac(name, b64(data), algorithm="sha2-384")["data"]["hmac"]
    assert transit.verify_signed_data(name, b64(data), hmac=mac384, hash_algorithm="sha2-384")["data"]["valid"] is True


def test_sign_and_verify(client: hvac.Client) -> None:
    transit = client.secrets.transit
    data = b"signed statement"
    ed = unique("ed25519")
    transit.create_key(ed, key_type="ed25519")
    signature = transit.sign_data(ed, hash_input=b64(data))["data"]["signature"]
    assert signature.startswith("vault:v1:")
    assert transit.verify_signed_data(ed, b64(data), signature=signature)["data"]["valid"] is True
    assert transit.verify_signed_data(ed, b64(b"forged"), signature=signature)["data"]["valid"] is False
    public = transit.read_key(ed)["data"]["keys"]["1"]["public_key"]
    Ed25519PublicKey.from_public_bytes(base64.b64decode(public)).verify(
        base64.b64decode(signature.split(":", 2)[2]), data
    )

    ec = unique("ecdsa")
    transit.create_key(ec, key_type="ecdsa-p256")
    for algorithm in ("sha2-256", "sha2-384"):
        signed = transit.sign_data(ec, hash_input=b64(data), hash_algorithm=algorithm)["data"]["signature"]
        verified = transit.verify_signed_data(ec, b64(data), signature=signed, hash_algorithm=algorithm)
        assert verified["data"]["valid"] is True
    batch = transit.sign_data(ec, batch_input=[{"input": b64(b"one")}, {"input": b64(b"two")}])
    assert [item["signature"].startswith("vault:v1:") for item in batch["data"]["batch_results"]] == [True, True]

    rsa = unique("rsa")
    transit.create_key(rsa, key_type="rsa-2048")
    pss = transit.sign_data(rsa, hash_input=b64(data), signature_algorithm="pss")["data"]["signature"]
    assert transit.verify_signed_data(rsa, b64(data), signature=pss, signature_algorithm="pss")["data"]["valid"] is True


def test_our_cli_writes_and_reads_transit(transit_store: Unsealed, tmp_path: Path) -> None:
    name = unique("cli")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("STRONGROOM_", "VAULT_", "BAO_"))}
    env.update(
        STRONGROOM_ADDR=transit_store.server.address,
        STRONGROOM_TOKEN=transit_store.root_token,
        HOME=str(tmp_path),
        PYTHONPATH=str(REPO_ROOT),
    )

    def cli(*args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "strongroom.cli.main", *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=REPO_ROOT,
            timeout=30,
        )
        assert result.returncode == 0, (args, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
        return result.stdout

    plaintext = b64(b"hello from the cli")
    written = cli("write", f"transit/encrypt/{name}", f"plaintext={plaintext}")
    ciphertext = next(line.split()[1] for line in written.splitlines() if line.startswith("ciphertext"))
    assert ciphertext.startswith("vault:v1:"), written
    as_json = json.loads(cli("write", "-format=json", f"transit/decrypt/{name}", f"ciphertext={ciphertext}"))
    assert as_json["data"]["plaintext"] == plaintext

    read = cli("read", f"transit/keys/{name}")
    rows = {line.split()[0]: line.split(None, 1)[1] for line in read.splitlines()[2:] if len(line.split()) > 1}
    assert rows["type"] == "aes256-gcm96" and rows["latest_version"] == "1", read
    key = json.loads(cli("read", "-format=json", f"transit/keys/{name}"))["data"]
    assert key["name"] == name and key["deletion_allowed"] is False, key


def test_hvac_drives_every_endpoint_family(client: hvac.Client) -> None:
    transit = client.secrets.transit
    transit.create_key(name="hv", exportable=True, allow_plaintext_backup=True)
    assert transit.read_key(name="hv")["data"]["type"] == "aes256-gcm96"
    assert "hv" in transit.list_keys()["data"]["keys"]
    ciphertext = transit.encrypt_data(name="hv", plaintext=HELLO)["data"]["ciphertext"]
    assert transit.decrypt_data(name="hv", ciphertext=ciphertext)["data"]["plaintext"] == HELLO
    transit.rotate_key(name="hv")
    rewrapped = transit.rewrap_data(name="hv", ciphertext=ciphertext)["data"]
    assert rewrapped["key_version"] == 2
    transit.update_key_configuration(name="hv", min_encryption_version=2)  # (hvac refuses both at once when equal)
    transit.update_key_configuration(name="hv", min_decryption_version=2)
    with pytest.raises(hvac.exceptions.InvalidRequest, match="too old"):
        transit.decrypt_data(name="hv", ciphertext=ciphertext)
    assert transit.trim_key(name="hv", min_version=2)["data"]["min_available_version"] == 2
    datakey = transit.generate_data_key(name="hv", key_type="plaintext", bits=512)["data"]
    assert len(base64.b64decode(datakey["plaintext"])) == 64
    assert len(transit.generate_random_bytes(n_bytes=10, output_format="hex")["data"]["random_bytes"]) == 20
    assert (
        transit.hash_data(hash_input=HELLO, algorithm="sha2-512")["data"]["sum"] == hashlib.sha512(b"hello").hexdigest()
    )
    mac = transit.generate_hmac(name="hv", hash_input=HELLO)["data"]["hmac"]
    assert transit.verify_signed_data(name="hv", hash_input=HELLO, hmac=mac)["data"]["valid"] is True
    assert sorted(transit.export_key(name="hv", key_type="encryption-key")["data"]["keys"]) == ["2"]
    backup = transit.backup_key(name="hv")["data"]["backup"]
    transit.restore_key(backup=backup, name="hv-copy")
    assert transit.decrypt_data(name="hv-copy", ciphertext=rewrapped["ciphertext"])["data"]["plaintext"] == HELLO
    transit.update_key_configuration(name="hv-copy", deletion_allowed=True)
    transit.delete_key(name="hv-copy")
    with pytest.raises(hvac.exceptions.InvalidPath):
        transit.read_key(name="hv-copy")

    transit.create_key(name="hv-ec", key_type="ecdsa-p256")
    signature = transit.sign_data(name="hv-ec", hash_input=HELLO, marshaling_algorithm="jws")["data"]["signature"]
    verified = transit.verify_signed_data(
        name="hv-ec", hash_input=HELLO, signature=signature, marshaling_algorithm="jws"
    )
    assert verified["data"]["valid"] is True
    # encrypt creates a missing key: the ACL saw a `create`
    assert transit.encrypt_data(name="hv-upserted", plaintext=HELLO)["data"]["key_version"] == 1


def test_the_bao_cli_drives_the_engine(transit_store: Unsealed, tmp_path: Path) -> None:
    bao = Bao.with_new_home(transit_store.server.address, tmp_path)

    def cli(*args: str) -> str:
        return ok(bao(*args, token=transit_store.root_token))

    cli("write", "-f", "transit/keys/cli")
    ciphertext = cli("write", "-field=ciphertext", "transit/encrypt/cli", f"plaintext={HELLO}").strip()
    assert ciphertext.startswith("vault:v1:")
    assert cli("write", "-field=plaintext", "transit/decrypt/cli", f"ciphertext={ciphertext}").strip() == HELLO
    assert json.loads(cli("read", "-format=json", "transit/keys/cli"))["data"]["latest_version"] == 1
    assert "cli" in cli("list", "transit/keys")
    signed = cli("write", "-format=json", "transit/hash/sha2-256", f"input={HELLO}")
    assert json.loads(signed)["data"]["sum"] == hashlib.sha256(b"hello").hexdigest()
