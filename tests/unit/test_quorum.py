"""Rekey and generate-root state machines on a real Core (in-memory storage), and their answers' shapes."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from typing import Any

import pytest

from strongroom.core.builtin.system.rotate_wording import (
    ROTATE,
    ROTATE_ROOT,
    rotate_rekey_result,
    rotate_rekey_status,
    rotate_root_attempt,
    rotate_root_update,
)
from strongroom.core.core import Core, InitRequest
from strongroom.core.quorum.generate_root import decode_token_with_otp
from strongroom.core.quorum.rekey import RekeyResult, Wording
from strongroom.core.quorum.requests import RekeyRequest
from strongroom.core.settings import CoreSettings
from strongroom.http.quorum_wording import LEGACY, LEGACY_ROOT, legacy_rekey_status, legacy_root_status
from strongroom.logical.errors import BadRequest, Sealed
from strongroom.seals import shamir as shamir_seal
from strongroom.storage.base import StorageError
from strongroom.storage.inmem import InmemStorage
from tests.gpg_keys import GpgKey, GpgKeyring
from tests.in_process import UnsealedCore, new_unsealed_core


async def reseal_and_unseal(core: Core, keys: list[str]) -> None:
    core._drop_keys()
    assert core.sealed
    for key in keys:
        await core.submit_unseal_key(key)
    assert not core.sealed


async def rekey_to(core: Core, old_keys: list[str], shares: int, threshold: int, **options: Any) -> RekeyResult:
    rekey = core.quorum.rekey("barrier")
    started = await rekey.start(RekeyRequest(shares, threshold, **options), LEGACY)
    answer: Any = None
    for key in old_keys:
        answer = await rekey.update(key, started.nonce, LEGACY)
    assert isinstance(answer, RekeyResult)
    return answer


async def snapshot(core: Core) -> tuple[bytes | None, bytes | None]:
    """What the store keeps of its seal: the seal configuration and the wrapped root key."""
    return await core.storage.get(shamir_seal.SEAL_CONFIG_PATH), await core.storage.get(shamir_seal.ROOT_KEY_PATH)


# -- rekey --------------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_rekey_5_of_3_to_3_of_2_replaces_the_shares_at_once(
    storage: InmemStorage, unsealed_core: UnsealedCore
) -> None:
    core = unsealed_core.core
    rekey = core.quorum.rekey("barrier")
    assert legacy_rekey_status(rekey.status()) == {
        "nonce": "",
        "started": False,
        "t": 0,
        "n": 0,
        "progress": 0,
        "required": 3,
        "pgp_fingerprints": None,
        "backup": False,
        "verification_required": False,
    }
    started = await rekey.start(RekeyRequest(3, 2), LEGACY)
    assert (started.started, started.shares, started.threshold, started.required) == (True, 3, 2, 3)
    first = await rekey.update(unsealed_core.keys[0], started.nonce, LEGACY)
    assert not isinstance(first, RekeyResult) and first.progress == 1
    await rekey.update(unsealed_core.keys_base64[1], started.nonce, LEGACY)  # base64 and hex mix
    result = await rekey.update(unsealed_core.keys[2], started.nonce, LEGACY)
    assert isinstance(result, RekeyResult)
    assert len(result.keys) == 3 and all(len(key) == 66 for key in result.keys)
    assert [base64.b64decode(b).hex() for b in result.keys_base64] == result.keys
    assert (result.verification_required, result.verification_nonce, result.pgp_fingerprints) == (False, "", None)
    status = core.seal_status()
    assert (status["t"], status["n"]) == (2, 3)
    assert not rekey.in_progress
    # old shares are refused at submission from now on, by every quorum operation
    again = await rekey.start(RekeyRequest(3, 2), LEGACY)
    with pytest.raises(BadRequest, match=r"not one of the current unseal key shares \(rekey progress is kept: 0/2\)"):
        await rekey.update(unsealed_core.keys[3], again.nonce, LEGACY)
    await rekey.cancel()
    # after a seal, only the new shares unseal
    core._drop_keys()
    with pytest.raises(BadRequest, match="not one of the current unseal key shares"):
        await core.submit_unseal_key(unsealed_core.keys[0])
    await core.submit_unseal_key(result.keys[2])
    await core.submit_unseal_key(result.keys_base64[0])
    assert not core.sealed
    # and a fresh process on the same storage agrees
    restarted = Core(storage, CoreSettings())
    await restarted.start()
    assert (restarted.seal_status()["t"], restarted.seal_status()["n"]) == (2, 3)
    for key in result.keys[1:]:
        await restarted.submit_unseal_key(key)
    assert not restarted.sealed


@pytest.mark.anyio
async def test_rekey_with_verification_takes_effect_only_once_new_shares_are_entered_back(
    unsealed_core: UnsealedCore,
) -> None:
    core = unsealed_core.core
    before = await snapshot(core)
    rekey = core.quorum.rekey("barrier")
    started = await rekey.start(RekeyRequest(3, 2, require_verification=True), ROTATE)
    assert rotate_rekey_status(started)["verification_required"] is True
    with pytest.raises(BadRequest, match="no rotation verification in progress"):
        await rekey.verify(unsealed_core.keys[0], "x", ROTATE)
    for key in unsealed_core.keys[:2]:
        await rekey.update(key, started.nonce, ROTATE)
    verify_before = rekey.verify_status(ROTATE)
    assert (verify_before.started, verify_before.nonce, verify_before.progress) == (False, "", 0)
    result = await rekey.update(unsealed_core.keys[2], started.nonce, ROTATE)
    assert isinstance(result, RekeyResult) and result.verification_nonce
    assert rotate_rekey_result(result)["verification_required"] is True
    # nothing changed yet: the old shares still are the shares
    assert await snapshot(core) == before and core.seal_status()["t"] == 3
    assert rekey.status().verification_nonce == result.verification_nonce
    with pytest.raises(BadRequest, match="rotation already finished; verification must be performed"):
        await rekey.update(unsealed_core.keys[3], started.nonce, ROTATE)
    with pytest.raises(BadRequest, match='nonce for this verify operation is "' + result.verification_nonce):
        await rekey.verify(result.keys[0], started.nonce, ROTATE)
    with pytest.raises(
        BadRequest,
        match=r"not one of the current new unseal key shares of this rekey "
        r"\(verification progress is kept: 0/2\)",
    ):
        await rekey.verify(unsealed_core.keys[0], result.verification_nonce, ROTATE)
    progress = await rekey.verify(result.keys[0], result.verification_nonce, ROTATE)
    assert not isinstance(progress, str) and progress.progress == 1
    with pytest.raises(BadRequest, match="given key has already been provided during this verify operation"):
        await rekey.verify(result.keys_base64[0], result.verification_nonce, ROTATE)
    # DELETE verify restarts the verification with a new nonce; progress is dropped
    restarted = await rekey.verify_restart(ROTATE)
    assert restarted.nonce != result.verification_nonce and restarted.progress == 0
    await rekey.verify(result.keys[1], restarted.nonce, ROTATE)
    assert await snapshot(core) == before
    done = await rekey.verify(result.keys[2], restarted.nonce, ROTATE)
    assert done == restarted.nonce
    assert await snapshot(core) != before and core.seal_status()["t"] == 2
    assert not rekey.in_progress
    await reseal_and_unseal(core, result.keys[:2])


@pytest.mark.anyio
async def test_cancel_during_verification_keeps_the_old_shares(unsealed_core: UnsealedCore) -> None:
    core = unsealed_core.core
    before = await snapshot(core)
    result = await rekey_to(core, unsealed_core.keys[:3], 3, 2, require_verification=True)
    await core.quorum.rekey("barrier").cancel()
    assert await snapshot(core) == before
    core._drop_keys()
    with pytest.raises(BadRequest, match="not one of the current"):
        await core.submit_unseal_key(result.keys[0])
    for key in unsealed_core.keys[2:5]:
        await core.submit_unseal_key(key)
    assert not core.sealed


@pytest.mark.anyio
async def test_cancel_discards_the_progress_and_changes_nothing(unsealed_core: UnsealedCore) -> None:
    core = unsealed_core.core
    before = await snapshot(core)
    rekey = core.quorum.rekey("barrier")
    started = await rekey.start(RekeyRequest(3, 2), LEGACY)
    await rekey.update(unsealed_core.keys[0], started.nonce, LEGACY)
    await rekey.cancel()
    assert not rekey.status().started and await snapshot(core) == before
    with pytest.raises(BadRequest, match="no barrier rekey in progress"):
        await rekey.update(unsealed_core.keys[1], started.nonce, LEGACY)
    # cancelling with nothing started is harmless, as in Vault (DELETE answers 204)
    await rekey.cancel()
    assert not rekey.status().started and await snapshot(core) == before


@pytest.mark.parametrize(
    ("wording", "message"),
    [
        (LEGACY, 'incorrect nonce supplied; nonce for this rekey operation is "{nonce}"'),
        (ROTATE, 'incorrect nonce supplied; nonce for rotation is "{nonce}"'),
    ],
)
@pytest.mark.anyio
async def test_a_wrong_or_missing_nonce_is_refused_and_progress_kept(
    unsealed_core: UnsealedCore, wording: Wording, message: str
) -> None:
    core = unsealed_core.core
    rekey = core.quorum.rekey("barrier")
    started = await rekey.start(RekeyRequest(3, 2), wording)
    await rekey.update(unsealed_core.keys[0], started.nonce, wording)
    with pytest.raises(BadRequest) as raised:
        await rekey.update(unsealed_core.keys[1], "wrong-nonce", wording)
    assert raised.value.messages == [message.format(nonce=started.nonce)]
    with pytest.raises(BadRequest) as missing:
        await rekey.update(unsealed_core.keys[1], "", wording)
    expected = wording.nonce_missing or message.format(nonce=started.nonce)
    assert missing.value.messages == [expected]
    assert rekey.status().progress == 1


@pytest.mark.anyio
async def test_a_share_of_another_store_is_refused_at_submission_and_progress_kept(unsealed_core: UnsealedCore) -> None:
    core = unsealed_core.core
    other = await new_unsealed_core()
    before = await snapshot(core)
    rekey = core.quorum.rekey("barrier")
    started = await rekey.start(RekeyRequest(3, 2), LEGACY)
    await rekey.update(unsealed_core.keys[0], started.nonce, LEGACY)
    with pytest.raises(BadRequest) as raised:
        await rekey.update(other.keys[1], started.nonce, LEGACY)
    assert raised.value.messages == [
        "invalid key: this is not one of the current unseal key shares (rekey progress is kept: 1/3)"
    ]
    assert rekey.status().progress == 1 and await snapshot(core) == before
    await rekey.update(unsealed_core.keys[1], started.nonce, LEGACY)
    assert isinstance(await rekey.update(unsealed_core.keys[2], started.nonce, LEGACY), RekeyResult)


@pytest.mark.anyio
async def test_a_duplicate_share_is_refused_and_not_counted(unsealed_core: UnsealedCore) -> None:
    core = unsealed_core.core
    rekey = core.quorum.rekey("barrier")
    started = await rekey.start(RekeyRequest(3, 2), ROTATE)
    await rekey.update(unsealed_core.keys[0], started.nonce, ROTATE)
    with pytest.raises(BadRequest, match="^given key has already been provided during this rotation$"):
        await rekey.update(unsealed_core.keys_base64[0], started.nonce, ROTATE)
    with pytest.raises(BadRequest, match="during this generation operation"):
        await rekey.update(unsealed_core.keys[0], started.nonce, LEGACY)
    assert rekey.status().progress == 1


@pytest.mark.parametrize(
    ("body", "wording", "message"),
    [
        (
            {"secret_shares": 3, "secret_threshold": 5},
            LEGACY,
            "invalid rekey seal configuration: threshold cannot be larger than shares",
        ),
        (
            {"secret_shares": 3, "secret_threshold": 5},
            ROTATE,
            "invalid rotate seal configuration: threshold cannot be larger than shares",
        ),
        ({}, LEGACY, "invalid rekey seal configuration: shares must be at least one"),
        (
            {"secret_shares": 3, "secret_threshold": 1},
            LEGACY,
            "invalid rekey seal configuration: threshold must be greater than one for multiple shares",
        ),
        (
            {"secret_shares": 3, "secret_threshold": 2, "pgp_keys": ["a", "b"]},
            LEGACY,
            "incorrect number of PGP keys for rekey",
        ),
        (
            {"secret_shares": 3, "secret_threshold": 2, "pgp_keys": ["a", "b"]},
            ROTATE,
            "invalid rotate seal configuration: count mismatch "
            "between number of provided PGP keys and number of shares",
        ),
        (
            {"secret_shares": 3, "secret_threshold": 2, "backup": True},
            LEGACY,
            "cannot request a backup of the new keys without providing PGP keys for encryption",
        ),
        (
            {"secret_shares": 2, "secret_threshold": 2, "pgp_keys": ["bm90IGEga2V5", "keybase:someone"]},
            LEGACY,
            "invalid rekey seal configuration: error decoding given PGP key at index 1: keybase is not supported; "
            "give the base64-encoded public key instead",
        ),
        (
            {"secret_shares": 2, "secret_threshold": 2, "pgp_keys": ["bm90IGEga2V5", "bm90IGEga2V5"]},
            ROTATE,
            "invalid rotate seal configuration: error parsing given "
            "PGP key at index 0: no OpenPGP public key found in it",
        ),
        (
            {"secret_shares": "3", "secret_threshold": True},
            LEGACY,
            "failed to decode JSON input: 'secret_threshold' must be an integer",
        ),
    ],
)
@pytest.mark.anyio
async def test_a_bad_rekey_request_starts_nothing(
    unsealed_core: UnsealedCore, body: dict[str, Any], wording: Wording, message: str
) -> None:
    core = unsealed_core.core
    rekey = core.quorum.rekey("barrier")
    with pytest.raises(BadRequest) as raised:
        await rekey.start(RekeyRequest.from_json(body), wording)
    assert raised.value.messages == [message]
    assert not rekey.status().started


@pytest.mark.anyio
async def test_a_second_init_while_one_runs_is_refused_and_changes_nothing(unsealed_core: UnsealedCore) -> None:
    core = unsealed_core.core
    rekey = core.quorum.rekey("barrier")
    started = await rekey.start(RekeyRequest(3, 2), LEGACY)
    await rekey.update(unsealed_core.keys[0], started.nonce, LEGACY)
    with pytest.raises(BadRequest, match="^rekey already in progress$"):
        await rekey.start(RekeyRequest(4, 2), LEGACY)
    with pytest.raises(BadRequest, match="^rotation already in progress$"):
        await rekey.start(RekeyRequest(4, 2), ROTATE)
    status = rekey.status()
    assert (status.nonce, status.shares, status.threshold, status.progress) == (started.nonce, 3, 2, 1)


@pytest.mark.anyio
async def test_a_failed_commit_leaves_the_old_shares_valid_and_the_rekey_retryable(unsealed_core: UnsealedCore) -> None:
    core = unsealed_core.core
    before = await snapshot(core)
    rekey = core.quorum.rekey("barrier")
    started = await rekey.start(RekeyRequest(3, 2), LEGACY)
    real_transaction = core.storage.transaction

    async def failing(operations: Any) -> None:
        raise StorageError("disk full")

    core.storage.transaction = failing  # type: ignore[method-assign]
    for key in unsealed_core.keys[:2]:
        await rekey.update(key, started.nonce, LEGACY)
    with pytest.raises(StorageError):
        await rekey.update(unsealed_core.keys[2], started.nonce, LEGACY)
    assert await snapshot(core) == before and core.seal_status()["t"] == 3
    assert rekey.status().started and rekey.status().progress == 0  # as Vault: started, progress reset
    core.storage.transaction = real_transaction  # type: ignore[method-assign]
    for key in unsealed_core.keys[2:4]:
        await rekey.update(key, started.nonce, LEGACY)
    result = await rekey.update(unsealed_core.keys[4], started.nonce, LEGACY)
    assert isinstance(result, RekeyResult)
    await reseal_and_unseal(core, result.keys[:2])


@pytest.mark.anyio
async def test_sealing_discards_a_rekey_in_progress(unsealed_core: UnsealedCore) -> None:
    core = unsealed_core.core
    before = await snapshot(core)
    await rekey_to(core, unsealed_core.keys[:3], 3, 2, require_verification=True)
    core._drop_keys()
    with pytest.raises(Sealed):
        core.quorum.rekey("barrier").status()
    for key in unsealed_core.keys[:3]:
        await core.submit_unseal_key(key)
    assert not core.quorum.rekey("barrier").status().started and await snapshot(core) == before


@pytest.mark.anyio
async def test_quorum_operations_need_an_initialized_unsealed_store(core: Core) -> None:
    with pytest.raises(BadRequest, match="server is not yet initialized"):
        core.quorum.rekey("barrier").status()
    with pytest.raises(BadRequest, match="server is not yet initialized"):
        await core.quorum.generate_root.start("", "")
    await core.initialize(InitRequest(secret_shares=1, secret_threshold=1))
    with pytest.raises(Sealed):
        await core.quorum.rekey("barrier").start(RekeyRequest(1, 1), LEGACY)


@pytest.mark.anyio
async def test_recovery_rekey_is_refused_clearly_under_a_shamir_seal(unsealed_core: UnsealedCore) -> None:
    core = unsealed_core.core
    recovery = core.quorum.rekey("recovery")
    for attempt in (
        lambda: recovery.status(),
        lambda: recovery.start(RekeyRequest(3, 2), ROTATE),
        lambda: recovery.update(unsealed_core.keys[0], "n", ROTATE),
        lambda: recovery.cancel(),
        lambda: recovery.read_backup(),
    ):
        with pytest.raises(BadRequest, match="^recovery keys are only used with auto-unseal seals$"):
            outcome = attempt()
            if asyncio.iscoroutine(outcome):
                await outcome
    assert not core.quorum.rekey("barrier").in_progress


@pytest.mark.anyio
async def test_a_single_share_store_rekeys_to_many_and_back() -> None:
    unsealed_core = await new_unsealed_core(1, 1)
    core = unsealed_core.core
    result = await rekey_to(core, unsealed_core.keys, 4, 3)
    await reseal_and_unseal(core, result.keys[1:4])
    back = await rekey_to(core, result.keys[:3], 1, 1)
    assert len(back.keys[0]) == 64  # one share is the key itself, as in Vault
    await reseal_and_unseal(core, back.keys)


# -- generate root -------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_generate_root_with_a_server_generated_otp(unsealed_core: UnsealedCore) -> None:
    core = unsealed_core.core
    operation = core.quorum.generate_root
    assert rotate_root_attempt(operation.status()) == {
        "complete": False,
        "otp": "",
        "otp_length": 26,
        "progress": 0,
        "required": 3,
        "started": False,
    }
    started = await operation.start("", "")
    assert len(started.otp) == 26 and started.nonce
    assert legacy_root_status(operation.status())["otp"] == ""  # shown once only
    with pytest.raises(BadRequest, match="^root generation already in progress for this namespace$"):
        await operation.start("", "")
    with pytest.raises(BadRequest, match="^nonce is required$"):
        await operation.update(unsealed_core.keys[0], "", ROTATE_ROOT)
    with pytest.raises(BadRequest, match=f'nonce for this root generation operation is "{started.nonce}"'):
        await operation.update(unsealed_core.keys[0], "", LEGACY_ROOT)
    first = await operation.update(unsealed_core.keys[0], started.nonce, ROTATE_ROOT)
    assert rotate_root_update(first) == {
        "complete": False,
        "encoded_token": "",
        "nonce": started.nonce,
        "pgp_fingerprint": "",
        "progress": 1,
        "required": 3,
        "started": True,
    }
    with pytest.raises(BadRequest, match="^given key has already been provided during this generation operation$"):
        await operation.update(unsealed_core.keys[0], started.nonce, ROTATE_ROOT)
    other = await new_unsealed_core()
    with pytest.raises(BadRequest, match=r"\(root generation progress is kept: 1/3\)"):
        await operation.update(other.keys[1], started.nonce, ROTATE_ROOT)
    await operation.update(unsealed_core.keys[1], started.nonce, ROTATE_ROOT)
    done = await operation.update(unsealed_core.keys[2], started.nonce, ROTATE_ROOT)
    assert done.complete and done.progress == 3 and "=" not in done.encoded_token
    token = decode_token_with_otp(done.encoded_token, started.otp)
    assert token.startswith("s.") and len(token) == 26 and token != unsealed_core.root_token
    entry = await core.authenticate(token)
    assert entry.policies == ["root"]
    assert not operation.status().started


@pytest.mark.anyio
async def test_generate_root_with_the_callers_otp_and_cancel() -> None:
    unsealed_core = await new_unsealed_core(3, 2)
    core = unsealed_core.core
    operation = core.quorum.generate_root
    with pytest.raises(BadRequest, match="^OTP string has incorrect length$"):
        await operation.start("tooshort", "")
    with pytest.raises(BadRequest, match="only one of 'otp' and 'pgp_key'"):
        await operation.start("x" * 26, "a2V5")
    with pytest.raises(BadRequest, match="^error parsing PGP key: error decoding given PGP key: "):
        await operation.start("", "not base64!")
    otp = "abcdefghijklmnopqrstuvwxyz"
    started = await operation.start(otp, "")
    assert started.otp == ""  # the caller's own OTP is not echoed
    await operation.update(unsealed_core.keys[0], started.nonce, LEGACY_ROOT)
    await operation.cancel()
    with pytest.raises(BadRequest, match="^no root generation in progress$"):
        await operation.update(unsealed_core.keys[1], started.nonce, LEGACY_ROOT)
    await operation.cancel()  # nothing to cancel: harmless
    started = await operation.start(otp, "")
    await operation.update(unsealed_core.keys[1], started.nonce, LEGACY_ROOT)
    done = await operation.update(unsealed_core.keys[2], started.nonce, LEGACY_ROOT)
    answer = legacy_root_status(done, otp_length=0)
    assert answer["encoded_token"] == answer["encoded_root_token"] != ""
    token = decode_token_with_otp(answer["encoded_token"], otp)
    assert (await core.authenticate(token)).policies == ["root"]


# -- PGP ------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ring(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GpgKeyring]:
    with GpgKeyring.create(tmp_path_factory.mktemp("quorum-keys")) as keyring:
        yield keyring


@pytest.fixture(scope="module")
def people(ring: GpgKeyring) -> list[GpgKey]:
    return [ring.generate("alice"), ring.generate("bob", kind="ecc"), ring.generate("carol", kind="ecc")]


@pytest.mark.anyio
async def test_init_with_pgp_keys_encrypts_the_shares_and_the_root_token(
    core: Core, ring: GpgKeyring, people: list[GpgKey]
) -> None:
    result = await core.initialize(
        InitRequest(
            secret_shares=3,
            secret_threshold=2,
            pgp_keys=tuple(person.public_b64 for person in people),
            root_token_pgp_key=people[0].public_b64,
        )
    )
    assert sorted(result) == ["keys", "keys_base64", "root_token"]
    assert [base64.b64decode(b).hex() for b in result["keys_base64"]] == result["keys"]
    shares = [ring.decrypt_b64(message) for message in result["keys_base64"]]
    assert all(len(share) == 66 for share in shares)
    root_token = ring.decrypt_b64(result["root_token"])
    assert root_token.startswith("s.")
    assert core.seal_state.barrier_config is not None
    assert list(core.seal_state.barrier_config.pgp_fingerprints) == [person.fingerprint for person in people]
    for share in shares[1:]:
        await core.submit_unseal_key(share)
    assert (await core.authenticate(root_token)).policies == ["root"]


@pytest.mark.anyio
async def test_init_with_a_malformed_pgp_key_names_it_and_initializes_nothing(core: Core, people: list[GpgKey]) -> None:
    with pytest.raises(BadRequest) as raised:
        await core.initialize(InitRequest(3, 2, pgp_keys=(people[0].public_b64, "bm90IGEga2V5", people[1].public_b64)))
    assert raised.value.messages == [
        "invalid seal configuration: error parsing given PGP key at index 1: no OpenPGP public key found in it"
    ]
    with pytest.raises(BadRequest, match="count mismatch between number of provided PGP keys"):
        await core.initialize(InitRequest(3, 2, pgp_keys=(people[0].public_b64,)))
    with pytest.raises(BadRequest, match="^invalid root_token_pgp_key: error decoding given PGP key: keybase"):
        await core.initialize(InitRequest(1, 1, root_token_pgp_key="keybase:someone"))
    assert not core.initialized


@pytest.mark.anyio
async def test_pgp_rekey_with_backup_unseals_after_a_seal(
    unsealed_core: UnsealedCore, ring: GpgKeyring, people: list[GpgKey]
) -> None:
    core = unsealed_core.core
    rekey = core.quorum.rekey("barrier")
    with pytest.raises(BadRequest, match="no backed-up keys found"):
        await rekey.read_backup()
    result = await rekey_to(
        core, unsealed_core.keys[:3], 3, 2, pgp_keys=tuple(person.public_b64 for person in people), backup=True
    )
    fingerprints = [person.fingerprint for person in people]
    assert result.pgp_fingerprints == fingerprints and result.backup
    assert len(result.keys[0]) > 200  # a PGP message, not a share
    backup = await rekey.read_backup()
    assert backup["nonce"] == result.nonce
    assert backup["keys"] == {fp: [key] for fp, key in zip(fingerprints, result.keys, strict=True)}
    assert backup["keys_base64"] == {fp: [key] for fp, key in zip(fingerprints, result.keys_base64, strict=True)}
    shares = [ring.decrypt_b64(message) for message in result.keys_base64]
    await reseal_and_unseal(core, [shares[0], shares[2]])
    await rekey.delete_backup()
    with pytest.raises(BadRequest, match="no backed-up keys found"):
        await rekey.read_backup()
    # a later rekey without backup removes an older backup: its keys no longer work
    again = await rekey_to(
        core, [shares[1], shares[2]], 3, 2, pgp_keys=tuple(p.public_b64 for p in people), backup=True
    )
    assert (await rekey.read_backup())["nonce"] == again.nonce
    plain = await rekey_to(core, [ring.decrypt_b64(m) for m in again.keys_base64[:2]], 2, 2)
    with pytest.raises(BadRequest, match="no backed-up keys found"):
        await rekey.read_backup()
    await reseal_and_unseal(core, plain.keys)


@pytest.mark.anyio
async def test_generate_root_encrypted_to_a_pgp_key(ring: GpgKeyring, people: list[GpgKey]) -> None:
    unsealed_core = await new_unsealed_core(3, 2)
    core = unsealed_core.core
    operation = core.quorum.generate_root
    started = await operation.start("", people[1].public_b64)
    assert (started.otp, started.pgp_fingerprint) == ("", people[1].fingerprint)
    await operation.update(unsealed_core.keys[0], started.nonce, ROTATE_ROOT)
    done = await operation.update(unsealed_core.keys[1], started.nonce, ROTATE_ROOT)
    assert done.complete and done.pgp_fingerprint == people[1].fingerprint
    token = ring.decrypt_b64(done.encoded_token)
    assert (await core.authenticate(token)).policies == ["root"]
