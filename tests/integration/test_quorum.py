"""Quorum operations against the real server: rekey and generate-root with the real `bao` CLI, `hvac`, our CLI,
and PGP-encrypted shares made and read with the real `gpg`.

The server has two listeners: the first with OpenBao's defaults (legacy `sys/rekey/*` and
`sys/generate-root/*` answer 405), the second with `disable_unauthed_rekey_endpoints = false` and
`disable_unauthed_generate_root_endpoints = false`, for the clients that use those (`bao operator
rekey`, hvac).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import hvac
import hvac.exceptions
import pytest

from tests.gpg_keys import GpgKey, GpgKeyring
from tests.integration.cli_harness import bao_binary, table
from tests.integration.openbao import free_port
from tests.integration.strongroom_server import StrongroomServer, run_strongroom

pytestmark = pytest.mark.integration

CLI_TIMEOUT = 60
REPO_ROOT = Path(__file__).resolve().parents[2]


def legacy_listener(port: int) -> str:
    return (
        'listener "tcp" {\n'
        f'  address     = "127.0.0.1:{port}"\n'
        "  tls_disable = true\n"
        "  disable_unauthed_rekey_endpoints         = false\n"
        "  disable_unauthed_generate_root_endpoints = false\n"
        "}\n"
    )


@dataclass
class Store:
    server: StrongroomServer
    legacy_address: str
    keys: list[str]
    root_token: str

    @property
    def address(self) -> str:
        return self.server.address

    def unseal(self, keys: list[str]) -> None:
        for key in keys:
            answer = httpx.put(f"{self.address}/v1/sys/unseal", json={"key": key})
            assert answer.status_code == 200, answer.text
        assert answer.json()["sealed"] is False

    def seal_status(self) -> dict[str, object]:
        return httpx.get(f"{self.address}/v1/sys/seal-status").json()

    def restart(self) -> None:
        self.server.restart()
        assert self.seal_status()["sealed"] is True


def initialize(server: StrongroomServer, legacy_port: int, **body: object) -> Store:
    answer = httpx.put(f"{server.address}/v1/sys/init", json={"secret_shares": 5, "secret_threshold": 3, **body})
    assert answer.status_code == 200, answer.text
    result = answer.json()
    store = Store(server, f"http://127.0.0.1:{legacy_port}", result["keys"], result["root_token"])
    if not body.get("pgp_keys"):
        store.unseal(store.keys[:3])
    return store


@pytest.fixture
def started(tmp_path: Path) -> Iterator[tuple[StrongroomServer, int]]:
    legacy_port = free_port()
    with run_strongroom(tmp_path / "strongroom", extra_config=legacy_listener(legacy_port)) as server:
        yield server, legacy_port
        log = server.log()
        assert "Traceback" not in log, log[-3000:]


@pytest.fixture
def store(started: tuple[StrongroomServer, int]) -> Store:
    return initialize(*started)


@dataclass
class Command:
    """Runs a CLI (`bao` or ours) with an isolated HOME and no inherited client settings."""

    argv: list[str]
    home: Path
    env_prefix: str

    def __call__(
        self, *args: str, address: str, token: str | None = None, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BAO_", "VAULT_", "STRONGROOM_"))}
        env.update(
            {
                f"{self.env_prefix}_ADDR": address,
                "HOME": str(self.home),
                "NO_PROXY": "127.0.0.1",
                "no_proxy": "127.0.0.1",
                "PYTHONPATH": str(REPO_ROOT),
            }
        )
        if token is not None:
            env[f"{self.env_prefix}_TOKEN"] = token
        return subprocess.run(
            [*self.argv, *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=CLI_TIMEOUT,
            input=stdin,
            stdin=None if stdin is not None else subprocess.DEVNULL,
        )

    def ok(self, *args: str, **kwargs: object) -> str:
        result = self(*args, **kwargs)  # type: ignore[arg-type]
        assert result.returncode == 0, (args, result.returncode, result.stdout, result.stderr)
        return result.stdout


@pytest.fixture
def bao(tmp_path: Path) -> Command:
    binary = bao_binary()
    home = tmp_path / "bao-home"
    home.mkdir()
    return Command([binary], home, "BAO")


@pytest.fixture
def ours(tmp_path: Path) -> Command:
    home = tmp_path / "cli-home"
    home.mkdir()
    return Command([sys.executable, "-m", "strongroom.cli.main"], home, "STRONGROOM")


@pytest.fixture
def ring(tmp_path: Path) -> Iterator[GpgKeyring]:
    with GpgKeyring.create(tmp_path / "pgp") as keyring:
        yield keyring


def new_keys(output: str) -> list[str]:
    """The `Key N: ...` (or `Key N fingerprint: F; value: ...`) lines of a completed rekey."""
    keys = []
    for line in output.splitlines():
        found = re.match(r"Key \d+(?: fingerprint: [0-9a-f]+; value)?: (\S+)$", line.strip())
        if found:
            keys.append(found.group(1))
    return keys


# -- the real bao CLI --------------------------------------------------------------------------------------


def test_bao_operator_rekey_with_verification_then_restart(bao: Command, store: Store) -> None:
    # the first listener keeps OpenBao's default: the legacy endpoint is off
    refused = bao("operator", "rekey", "-status", address=store.address)
    assert refused.returncode == 2 and "unsupported operation" in refused.stderr
    assert "bao operator rotate-keys" in refused.stderr and "disable_unauthed_rekey_endpoints" in refused.stderr
    legacy = store.legacy_address
    assert table(bao.ok("operator", "rekey", "-status", address=legacy))["Started"] == "false"
    started = table(
        bao.ok("operator", "rekey", "-init", "-key-shares=3", "-key-threshold=2", "-verify", address=legacy)
    )
    assert (
        started["Started"],
        started["Progress"],
        started["New Shares"],
        started["New Threshold"],
        started["Verification Required"],
    ) == ("true", "0/3", "3", "2", "true")
    nonce = started["Nonce"]
    again = bao("operator", "rekey", "-init", "-key-shares=4", "-key-threshold=2", address=legacy)
    assert again.returncode == 2 and "rekey already in progress" in again.stderr
    assert table(bao.ok("operator", "rekey", f"-nonce={nonce}", store.keys[0], address=legacy))["Progress"] == "1/3"
    duplicate = bao("operator", "rekey", f"-nonce={nonce}", store.keys[0], address=legacy)
    assert duplicate.returncode == 2 and "already been provided" in duplicate.stderr
    assert table(bao.ok("operator", "rekey", f"-nonce={nonce}", store.keys[1], address=legacy))["Progress"] == "2/3"
    done = bao.ok("operator", "rekey", f"-nonce={nonce}", store.keys[2], address=legacy)
    keys = new_keys(done)
    assert len(keys) == 3, done
    verification_nonce = table(done)["Verification Nonce"]
    # not active until verified
    assert (store.seal_status()["t"], store.seal_status()["n"]) == (3, 5)
    verify = table(bao.ok("operator", "rekey", "-verify", "-status", address=legacy))
    assert (verify["Verification Nonce"], verify["Verification Progress"]) == (verification_nonce, "0/2")
    progress = bao.ok("operator", "rekey", "-verify", f"-nonce={verification_nonce}", keys[0], address=legacy)
    assert table(progress)["Verification Progress"] == "1/2"
    finished = bao.ok("operator", "rekey", "-verify", f"-nonce={verification_nonce}", keys[2], address=legacy)
    assert "Rekey verification successful" in finished, finished
    assert (store.seal_status()["t"], store.seal_status()["n"]) == (2, 3)

    store.restart()
    old = httpx.put(f"{store.address}/v1/sys/unseal", json={"key": store.keys[0]})
    assert old.status_code == 400 and "not one of the current unseal key shares" in old.text
    bao.ok("operator", "unseal", keys[1], address=store.address)
    status = bao("operator", "unseal", keys[2], address=store.address)
    assert status.returncode == 0 and table(status.stdout)["Sealed"] == "false", status.stdout


def test_bao_operator_rotate_keys_uses_the_authenticated_endpoints(bao: Command, store: Store) -> None:
    root = store.root_token
    started = table(
        bao.ok(
            "operator", "rotate-keys", "-init", "-key-shares=2", "-key-threshold=2", address=store.address, token=root
        )
    )
    nonce = started["Nonce"]
    output = ""
    for key in store.keys[:3]:
        output = bao.ok("operator", "rotate-keys", f"-nonce={nonce}", key, address=store.address, token=root)
    keys = new_keys(output)
    assert len(keys) == 2, output
    assert (store.seal_status()["t"], store.seal_status()["n"]) == (2, 2)
    store.restart()
    store.unseal(keys)


def test_bao_operator_generate_root_and_decode(bao: Command, store: Store) -> None:
    root = store.root_token
    status = table(bao.ok("operator", "generate-root", "-status", address=store.address, token=root))
    assert (status["Started"], status["Progress"], status["OTP Length"]) == ("false", "0/3", "26")
    started = bao("operator", "generate-root", "-init", address=store.address, token=root)
    assert started.returncode == 0, started.stderr
    rows = table(started.stdout)
    otp, nonce = rows["OTP"], rows["Nonce"]
    assert len(otp) == 26
    wrong = bao("operator", "generate-root", f"-nonce={nonce}", "00" * 33, address=store.address, token=root)
    assert wrong.returncode == 2 and "not one of the current unseal key shares" in wrong.stderr
    for key in store.keys[:3]:
        rows = table(bao.ok("operator", "generate-root", f"-nonce={nonce}", key, address=store.address, token=root))
    assert rows["Complete"] == "true"
    encoded = rows["Encoded Token"]
    token = bao.ok(
        "operator", "generate-root", f"-decode={encoded}", f"-otp={otp}", address=store.address, token=root
    ).strip()
    assert token.startswith("s.") and token != root
    lookup = bao.ok("token", "lookup", "-format=json", address=store.address, token=token)
    assert '"root"' in lookup and '"auth/token/root"' in lookup


def test_bao_generate_root_on_the_legacy_endpoints(bao: Command, store: Store) -> None:
    # bao 2.7.2 drives the authenticated endpoints; the legacy ones take the same flow over plain HTTP
    legacy = store.legacy_address
    started = httpx.put(f"{legacy}/v1/sys/generate-root/attempt", json={}).json()
    assert started["started"] and len(started["otp"]) == 26
    for key in store.keys[:3]:
        answer = httpx.put(f"{legacy}/v1/sys/generate-root/update", json={"key": key, "nonce": started["nonce"]})
    final = answer.json()
    assert final["complete"] and final["encoded_root_token"] == final["encoded_token"]
    token = bao.ok(
        "operator",
        "generate-root",
        f"-decode={final['encoded_token']}",
        f"-otp={started['otp']}",
        address=store.address,
        token=store.root_token,
    ).strip()
    assert "root" in bao.ok("token", "lookup", address=store.address, token=token)


# -- hvac against the legacy endpoints ----------------------------------------------------------------------------


def test_hvac_rekey_and_root_generation(store: Store) -> None:
    client = hvac.Client(url=store.legacy_address, token=store.root_token)
    progress = client.sys.read_rekey_progress()
    assert progress["started"] is False and progress["required"] == 3
    started = client.sys.start_rekey(secret_shares=3, secret_threshold=2)
    assert started["started"] and started["n"] == 3 and started["t"] == 2
    assert client.sys.read_rekey_progress()["nonce"] == started["nonce"]
    client.sys.cancel_rekey()
    assert client.sys.read_rekey_progress()["started"] is False
    with pytest.raises(hvac.exceptions.InvalidRequest, match="threshold cannot be larger than shares"):
        client.sys.start_rekey(secret_shares=2, secret_threshold=3)

    started = client.sys.start_rekey(secret_shares=3, secret_threshold=2)
    first = client.sys.rekey(store.keys[0], nonce=started["nonce"])
    assert first["progress"] == 1
    with pytest.raises(hvac.exceptions.InvalidRequest, match="incorrect nonce supplied"):
        client.sys.rekey(store.keys[1], nonce="wrong")
    result = client.sys.rekey_multi(store.keys[1:5], nonce=started["nonce"])
    assert result["complete"] is True and len(result["keys"]) == 3
    new_keys = result["keys_base64"]

    # with verification
    started = client.sys.start_rekey(secret_shares=3, secret_threshold=2, require_verification=True)
    result = client.sys.rekey_multi(new_keys[:2], nonce=started["nonce"])
    assert result["verification_required"] is True and result["verification_nonce"]
    verify = client.sys.read_rekey_verify_progress()
    assert verify["nonce"] == result["verification_nonce"] and verify["progress"] == 0
    done = client.sys.rekey_verify_multi(result["keys"][:2], nonce=result["verification_nonce"])
    assert done["complete"] is True
    verified_keys = result["keys"]

    # generate-root with the server's OTP
    generation = client.sys.start_root_token_generation()
    assert generation["started"] and len(generation["otp"]) == 26
    assert client.sys.read_root_generation_progress()["nonce"] == generation["nonce"]
    client.sys.cancel_root_generation()
    assert client.sys.read_root_generation_progress()["started"] is False
    generation = client.sys.start_root_token_generation()
    answer = None
    for key in verified_keys[:2]:
        answer = client.sys.generate_root(key=key, nonce=generation["nonce"])
    assert answer is not None and answer["complete"] is True
    from strongroom.core.quorum.generate_root import decode_token_with_otp

    token = decode_token_with_otp(answer["encoded_token"], generation["otp"])
    assert hvac.Client(url=store.address, token=token).lookup_token()["data"]["policies"] == ["root"]

    store.restart()
    store.unseal(verified_keys[1:])


# -- our CLI --------------------------------------------------------------------------------------------------


def test_our_cli_rekey_with_verification_and_generate_root(ours: Command, store: Store) -> None:
    address, root = store.address, store.root_token
    status = table(ours.ok("operator", "rekey", "-status", address=address, token=root))
    assert status["Started"] == "false"
    started = table(
        ours.ok(
            "operator", "rekey", "-init", "-key-shares=3", "-key-threshold=2", "-verify", address=address, token=root
        )
    )
    assert (started["New Shares"], started["New Threshold"], started["Verification Required"]) == ("3", "2", "true")
    wrong = ours("operator", "rekey", "00" * 33, address=address, token=root)
    assert wrong.returncode == 2 and "not one of the current unseal key shares" in wrong.stderr  # refused: 2
    assert "Traceback" not in wrong.stderr
    assert table(ours.ok("operator", "rekey", store.keys[0], address=address, token=root))["Progress"] == "1/3"
    ours.ok("operator", "rekey", "-", address=address, token=root, stdin=store.keys[1] + "\n")
    done = ours.ok("operator", "rekey", store.keys[2], address=address, token=root)
    keys = new_keys(done)
    assert len(keys) == 3 and "Verification Nonce" in done
    assert (
        table(ours.ok("operator", "rekey", "-verify", "-status", address=address, token=root))["Verification Progress"]
        == "0/2"
    )
    assert (
        table(ours.ok("operator", "rekey", "-verify", keys[0], address=address, token=root))["Verification Progress"]
        == "1/2"
    )
    finished = ours.ok("operator", "rekey", "-verify", keys[1], address=address, token=root)
    assert "Rekey verification successful. The rekey operation is complete" in " ".join(finished.split())
    assert (store.seal_status()["t"], store.seal_status()["n"]) == (2, 3)
    cancelled = ours.ok("operator", "rekey", "-cancel", address=address, token=root)
    assert "Canceled" in cancelled
    recovery = ours("operator", "rekey", "-status", "-target=recovery", address=address, token=root)
    assert recovery.returncode == 2 and "only used with auto-unseal seals" in recovery.stderr

    init = ours("operator", "generate-root", "-init", address=address, token=root)
    assert init.returncode == 0, init.stderr
    otp = table(init.stdout)["OTP"]
    for key in keys[1:]:
        rows = table(ours.ok("operator", "generate-root", key, address=address, token=root))
    assert rows["Complete"] == "true"
    token = ours.ok("operator", "generate-root", f"-decode={rows['Encoded Token']}", f"-otp={otp}", address=address)
    assert token.startswith("s.") and "\n" not in token
    lookup = httpx.get(f"{address}/v1/auth/token/lookup-self", headers={"X-Vault-Token": token})
    assert lookup.json()["data"]["policies"] == ["root"]
    store.restart()
    store.unseal(keys[:2])


# -- PGP ------------------------------------------------------------------------------------------------------


def test_pgp_init_and_rekey_decrypted_with_gpg_unseal_after_restart(
    started: tuple[StrongroomServer, int], ours: Command, bao: Command, ring: GpgKeyring
) -> None:
    people: list[GpgKey] = [
        ring.generate("alice"),
        ring.generate("bob", kind="ecc"),
        ring.generate("carol", kind="ecc"),
    ]
    server, legacy_port = started
    address = server.address
    # init through our CLI with key files (binary and armoured)
    init = ours.ok(
        "operator",
        "init",
        "-key-shares=3",
        "-key-threshold=2",
        "-format=json",
        f"-pgp-keys={people[0].public_path},{people[1].armored_path},{people[2].public_path}",
        f"-root-token-pgp-key={people[0].armored_path}",
        address=address,
    )
    result = json.loads(init)
    shares = [ring.decrypt_b64(message) for message in result["unseal_keys_b64"]]
    root = ring.decrypt_b64(result["root_token"])
    assert all(len(share) == 66 for share in shares) and root.startswith("s.")
    store = Store(server, f"http://127.0.0.1:{legacy_port}", shares, root)
    store.unseal(shares[:2])

    # rekey with the real bao CLI on the legacy endpoints, PGP-encrypted and backed up
    legacy = store.legacy_address
    started_rekey = table(
        bao.ok(
            "operator",
            "rekey",
            "-init",
            "-key-shares=3",
            "-key-threshold=2",
            "-backup",
            f"-pgp-keys={people[2].armored_path},{people[1].armored_path},{people[0].armored_path}",
            address=legacy,
        )
    )
    assert started_rekey["Backup"] == "true"
    assert started_rekey["PGP Fingerprints"] == (
        f"[{people[2].fingerprint} {people[1].fingerprint} {people[0].fingerprint}]"
    )
    nonce = started_rekey["Nonce"]
    bao.ok("operator", "rekey", f"-nonce={nonce}", shares[0], address=legacy)
    done = bao.ok("operator", "rekey", f"-nonce={nonce}", shares[2], address=legacy)
    encrypted = new_keys(done)
    assert len(encrypted) == 3 and f"Key 1 fingerprint: {people[2].fingerprint}" in done
    new_shares = [ring.decrypt_b64(message) for message in encrypted]
    # the backup is authenticated, even on the legacy listener
    assert httpx.get(f"{legacy}/v1/sys/rekey/backup").status_code == 403
    backup = httpx.get(f"{legacy}/v1/sys/rekey/backup", headers={"X-Vault-Token": root}).json()
    assert backup["nonce"] == nonce == backup["data"]["nonce"]
    assert backup["data"]["keys_base64"][people[1].fingerprint] == [encrypted[1]]
    retrieved = bao.ok("operator", "rekey", "-backup-retrieve", address=legacy, token=root)
    assert people[0].fingerprint in retrieved

    store.restart()
    refused = httpx.put(f"{address}/v1/sys/unseal", json={"key": shares[1]})
    assert refused.status_code == 400
    store.unseal([new_shares[0], new_shares[1]])

    # generate-root encrypted to a PGP key, through our CLI
    init_root = table(
        ours.ok("operator", "generate-root", "-init", f"-pgp-key={people[1].armored_path}", address=address, token=root)
    )
    assert init_root["PGP Fingerprint"] == people[1].fingerprint
    for share in new_shares[1:]:
        rows = table(ours.ok("operator", "generate-root", share, address=address, token=root))
    token = ring.decrypt_b64(rows["Encoded Token"])
    lookup = httpx.get(f"{address}/v1/auth/token/lookup-self", headers={"X-Vault-Token": token})
    assert lookup.json()["data"]["policies"] == ["root"]

    ours.ok("operator", "rekey", "-backup-delete", address=address, token=root)
    gone = httpx.get(f"{address}/v1/sys/rotate/root/backup", headers={"X-Vault-Token": root})
    assert gone.status_code == 400 and gone.json() == {"errors": ["no backed-up keys found"]}
