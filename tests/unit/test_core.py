"""The seal state machine, in process: init, unseal, seal, and their refusals."""

from __future__ import annotations

import asyncio
import base64
import os
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strongroom.core.core import Core, InitRequest
from strongroom.crypto import shamir
from strongroom.logical.errors import BadRequest, PermissionDenied, Sealed
from strongroom.logical.request import Operation, Request
from tests.in_process import UnsealedCore, new_core


@pytest.mark.anyio
async def test_a_new_core_is_uninitialized_and_sealed(core: Core) -> None:
    status = core.seal_status()
    assert (status["initialized"], status["sealed"], status["t"], status["n"]) == (False, True, 0, 0)
    assert core.health()[0] == "uninitialized"
    with pytest.raises(BadRequest, match="Vault is not initialized"):
        await core.submit_unseal_key("00" * 33)
    with pytest.raises(Sealed):
        await core.handle(Request(Operation.READ, "sys/key-status"))


@pytest.mark.parametrize(
    ("shares", "threshold", "message"),
    [
        (0, 0, "shares must be at least one"),
        (3, 5, "threshold cannot be larger than shares"),
        (5, 1, "threshold must be greater than one for multiple shares"),
        (1, 2, "threshold cannot be larger than shares"),
        (256, 3, "shares must be less than 256"),
    ],
)
@pytest.mark.anyio
async def test_init_validation_uses_vaults_messages_and_changes_nothing(
    core: Core, shares: int, threshold: int, message: str
) -> None:
    with pytest.raises(BadRequest, match=f"invalid seal configuration: {message}"):
        await core.initialize(InitRequest(secret_shares=shares, secret_threshold=threshold))
    assert not core.initialized
    assert await core.storage.list("") == []


@pytest.mark.anyio
async def test_init_refuses_recovery_parameters_on_a_shamir_seal_but_accepts_zeros(core: Core) -> None:
    with pytest.raises(BadRequest, match="recovery_shares,recovery_threshold not applicable"):
        await core.initialize(InitRequest(3, 2, recovery_shares=3, recovery_threshold=2))
    await core.initialize(InitRequest(3, 2, recovery_shares=0, recovery_threshold=0))
    assert core.initialized


@pytest.mark.anyio
async def test_init_returns_shares_and_a_root_token_and_stays_sealed(core: Core) -> None:
    result = await core.initialize(InitRequest(secret_shares=5, secret_threshold=3))
    assert len(result["keys"]) == 5 and all(len(k) == 66 for k in result["keys"])
    assert [base64.b64decode(b).hex() for b in result["keys_base64"]] == result["keys"]
    assert result["root_token"].startswith("s.") and len(result["root_token"]) == 26
    assert core.sealed and core.initialized
    with pytest.raises(BadRequest, match="Vault is already initialized"):
        await core.initialize(InitRequest(5, 3))


@pytest.mark.anyio
async def test_single_share_is_the_unseal_key_itself(core: Core) -> None:
    result = await core.initialize(InitRequest(secret_shares=1, secret_threshold=1))
    assert len(bytes.fromhex(result["keys"][0])) == 32
    status = await core.submit_unseal_key(result["keys_base64"][0])
    assert status["sealed"] is False


@pytest.mark.anyio
async def test_unseal_progress_nonce_duplicates_and_mixed_encodings(core: Core) -> None:
    result = await core.initialize(InitRequest(secret_shares=5, secret_threshold=3))
    first = await core.submit_unseal_key(result["keys"][0])
    assert first["progress"] == 1 and first["nonce"]
    again = await core.submit_unseal_key(result["keys_base64"][0])
    assert again["progress"] == 1 and again["nonce"] == first["nonce"]
    second = await core.submit_unseal_key(result["keys_base64"][3])
    assert second["progress"] == 2 and second["sealed"]
    done = await core.submit_unseal_key(result["keys"][4])
    assert done["sealed"] is False and done["progress"] == 0 and done["nonce"] == ""
    assert list(done)[-3:] == ["cluster_id", "storage_type", "progress_expires_at"]


@pytest.mark.anyio
async def test_a_wrong_share_is_rejected_at_submission_and_progress_is_kept(core: Core) -> None:
    result = await core.initialize(InitRequest(secret_shares=5, secret_threshold=3))
    foreign = await (await new_core()).initialize(InitRequest(secret_shares=5, secret_threshold=3))
    await core.submit_unseal_key(result["keys"][0])
    nonce = core.seal_status()["nonce"]
    for wrong in (os.urandom(33).hex(), foreign["keys"][1], result["keys"][1][:-2] + "00"):
        with pytest.raises(BadRequest, match="not one of the current unseal key shares.*1/3"):
            await core.submit_unseal_key(wrong)
        assert core.seal_status()["progress"] == 1
        assert core.seal_status()["nonce"] == nonce
    await core.submit_unseal_key(result["keys"][1])
    status = await core.submit_unseal_key(result["keys"][2])
    assert status["sealed"] is False


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "'key' must be specified"),
        ("not-hex-or-base64!!", "must be a valid hex or base64 string"),
        ("abcd", "shorter than minimum 16 bytes"),
        ("00" * 15, "shorter than minimum 16 bytes"),
        ("00" * 34, "longer than maximum 33 bytes"),
        ("ab cd" * 10, "must be a valid hex or base64 string"),
    ],
)
@pytest.mark.anyio
async def test_malformed_keys_are_refused_with_vaults_messages(core: Core, key: str, message: str) -> None:
    result = await core.initialize(InitRequest(secret_shares=5, secret_threshold=3))
    await core.submit_unseal_key(result["keys"][0])
    with pytest.raises(BadRequest, match=message):
        await core.submit_unseal_key(key)
    assert core.seal_status()["progress"] == 1


@pytest.mark.anyio
async def test_reset_discards_progress_and_is_refused_once_unsealed(core: Core) -> None:
    result = await core.initialize(InitRequest(secret_shares=5, secret_threshold=3))
    await core.submit_unseal_key(result["keys"][0])
    status = await core.submit_unseal_key(None, reset=True)
    assert (status["progress"], status["nonce"]) == (0, "")
    for key in result["keys"][:3]:
        await core.submit_unseal_key(key)
    with pytest.raises(BadRequest, match="vault is unsealed"):
        await core.submit_unseal_key(None, reset=True)


@pytest.mark.anyio
async def test_an_unfinished_unseal_attempt_expires(core: Core) -> None:
    now = [1_000_000.0]
    result = await core.initialize(InitRequest(secret_shares=5, secret_threshold=3))
    core.progress._clock = lambda: now[0]
    await core.submit_unseal_key(result["keys"][0])
    status = core.seal_status()
    assert status["progress"] == 1 and status["progress_expires_at"] == "1970-01-12T14:01:40Z"
    now[0] += 899
    assert core.seal_status()["progress"] == 1
    now[0] += 2
    status = core.seal_status()
    assert (status["progress"], status["nonce"], status["progress_expires_at"]) == (0, "", "")


@pytest.mark.anyio
async def test_expiry_wipes_the_held_shares_without_any_request() -> None:
    core = await new_core(unseal_progress_timeout=0.05)
    result = await core.initialize(InitRequest(secret_shares=5, secret_threshold=3))
    await core.submit_unseal_key(result["keys"][0])
    held = core.progress.shares()
    await asyncio.sleep(0.2)
    assert core.progress._shares == []
    assert all(share == bytearray(len(share)) for share in held)


@pytest.mark.anyio
async def test_seal_needs_a_token_with_sudo_and_drops_every_key(unsealed_core: UnsealedCore) -> None:
    core = unsealed_core.core
    with pytest.raises(PermissionDenied):
        await core.seal(None)
    with pytest.raises(PermissionDenied):
        await core.seal("s.bogus")
    child = await core.handle(
        Request(Operation.UPDATE, "auth/token/create", {"policies": ["default"]}, token=unsealed_core.root_token)
    )
    assert child.auth is not None
    with pytest.raises(PermissionDenied):
        await core.seal(child.auth["client_token"])
    assert not core.sealed
    keyring = core.barrier._keyring
    assert keyring is not None
    held = [term.key for term in keyring.terms.values()] + [keyring.root_key]
    unseal_key = core.seal_state._unseal_key  # noqa: SLF001
    assert unseal_key is not None
    await core.seal(unsealed_core.root_token)
    assert core.sealed
    assert all(buffer == bytearray(len(buffer)) for buffer in [*held, unseal_key])
    await core.seal(None)  # sealing a sealed store is a no-op, whoever asks


@pytest.mark.anyio
async def test_root_key_rotation_keeps_the_shares_and_the_data(unsealed_core: UnsealedCore) -> None:
    core = unsealed_core.core
    token = unsealed_core.root_token
    before = await core.storage.get("core/root-key")
    await core.handle(Request(Operation.UPDATE, "sys/rotate/root", token=token))
    assert await core.storage.get("core/root-key") != before
    await core.seal(token)
    for key in unsealed_core.keys[2:]:
        await core.submit_unseal_key(key)
    assert not core.sealed
    response = await core.handle(Request(Operation.READ, "auth/token/lookup-self", token=token))
    assert response.data is not None and response.data["policies"] == ["root"]


@pytest.mark.anyio
async def test_keyring_rotation_is_reported_by_key_status(unsealed_core: UnsealedCore) -> None:
    core = unsealed_core.core
    token = unsealed_core.root_token
    status = await core.handle(Request(Operation.READ, "sys/key-status", token=token))
    assert status.top_level is not None and status.top_level["term"] == 1
    await core.handle(Request(Operation.UPDATE, "sys/rotate/keyring", token=token))
    await core.handle(Request(Operation.UPDATE, "sys/rotate", token=token))
    status = await core.handle(Request(Operation.READ, "sys/key-status", token=token))
    assert status.data is not None and status.data["term"] == 3


@pytest.mark.anyio
async def test_a_token_without_sudo_cannot_rotate(unsealed_core: UnsealedCore) -> None:
    core = unsealed_core.core
    child = await core.handle(
        Request(Operation.UPDATE, "auth/token/create", {"policies": ["default"]}, token=unsealed_core.root_token)
    )
    assert child.auth is not None
    with pytest.raises(PermissionDenied):
        await core.handle(Request(Operation.UPDATE, "sys/rotate", token=child.auth["client_token"]))


@pytest.mark.anyio
async def test_the_root_token_is_stored_only_as_a_salted_hash(unsealed_core: UnsealedCore) -> None:
    core = unsealed_core.core
    token = unsealed_core.root_token
    names = await core.barrier.list("sys/token/id/")
    assert len(names) == 1 and token not in names[0]
    raw = await core.barrier.get("sys/token/id/" + names[0])
    assert raw is not None and token.encode() not in raw


@settings(max_examples=10, deadline=None)
@given(st.integers(min_value=2, max_value=7).flatmap(lambda n: st.tuples(st.just(n), st.integers(2, n))), st.randoms())
@pytest.mark.anyio
async def test_any_threshold_of_shares_unseals_in_any_order(parameters: tuple[int, int], random: Any) -> None:
    shares, threshold = parameters
    core = await new_core()
    result = await core.initialize(InitRequest(secret_shares=shares, secret_threshold=threshold))
    chosen = random.sample(result["keys"], threshold)
    for index, key in enumerate(chosen):
        status = await core.submit_unseal_key(key)
        assert status["sealed"] is (index < threshold - 1)


@pytest.mark.anyio
async def test_fewer_than_threshold_shares_do_not_reconstruct_the_unseal_key(core: Core) -> None:
    result = await core.initialize(InitRequest(secret_shares=5, secret_threshold=3))
    partial = [bytes.fromhex(k) for k in result["keys"][:2]]
    guess = shamir.combine(partial)
    from strongroom.seals.shamir import unwrap_root_key

    blob = await core.storage.get("core/root-key")
    assert blob is not None
    with pytest.raises(Exception, match="unseal key is wrong"):
        unwrap_root_key(guess, blob)


@pytest.mark.anyio
async def test_seal_lets_requests_in_flight_finish_and_refuses_new_ones(unsealed_core: UnsealedCore) -> None:
    core = unsealed_core.core
    token = unsealed_core.root_token
    release = asyncio.Event()
    storage_get = core.storage.get

    async def slow_get(key: str) -> bytes | None:
        if key.startswith("sys/token/id/"):
            await release.wait()
        return await storage_get(key)

    core.storage.get = slow_get  # type: ignore[method-assign]
    in_flight = asyncio.create_task(core.handle(Request(Operation.READ, "auth/token/lookup-self", token=token)))
    await asyncio.sleep(0.01)
    core.storage.get = storage_get  # type: ignore[method-assign]
    sealing = asyncio.create_task(core.seal(token))
    await asyncio.sleep(0.05)
    assert not sealing.done() and not core.sealed
    with pytest.raises(Sealed):
        await core.handle(Request(Operation.READ, "sys/key-status", token=token))
    release.set()
    response = await in_flight
    assert response.data is not None and response.data["policies"] == ["root"]
    await sealing
    assert core.sealed
