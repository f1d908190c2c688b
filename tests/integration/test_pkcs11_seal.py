"""The pkcs11 seal against a real PKCS#11 module: SoftHSM2, made by scripts/softhsm-setup.

The setup installs SoftHSM2 when it is missing (CI runs as root). If it fails, these tests fail
rather than skip: CI has to prove the seal works against a real module.

Every test uses its own key label on the one token. A PKCS#11 login belongs to the process, so the
checks that need a process with no login yet (a wrong PIN, PIN precedence) run in a fresh one.
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from strongroom.seals.base import AutoSeal, SealUnavailable
from strongroom.seals.pkcs11 import CKM_AES_GCM, PIN_VARIABLES, Pkcs11Seal, from_options, parse_blob
from strongroom.seals.pkcs11 import process as pkcs11_seal
from tests.integration.autoseal import ROOT, parse_exports, softhsm_token
from tests.integration.autoseal import SOFTHSM_SETUP as SETUP

pytestmark = pytest.mark.integration

T = TypeVar("T")


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    directory = tmp_path_factory.mktemp("softhsm")
    exports = softhsm_token(directory)
    with pytest.MonkeyPatch.context() as patch:
        # SoftHSM reads its config when the module is first initialised in this process.
        patch.setenv("SOFTHSM2_CONF", exports["SOFTHSM2_CONF"])
        for variable in PIN_VARIABLES:
            patch.delenv(variable, raising=False)
        yield {**exports, "directory": str(directory)}


@pytest.fixture
def no_pin_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in PIN_VARIABLES:
        monkeypatch.delenv(variable, raising=False)


def options(softhsm: dict[str, str], **overrides: str) -> dict[str, str]:
    base = {
        "lib": softhsm["SOFTHSM2_LIB"],
        "token_label": softhsm["SOFTHSM2_TOKEN_LABEL"],
        "pin": softhsm["SOFTHSM2_PIN"],
        "key_label": f"strongroom-test-{uuid.uuid4().hex[:12]}",
    }
    base.update(overrides)
    return {name: value for name, value in base.items() if value != ""}


def on_hsm_thread(function: Callable[[], T]) -> T:
    """Run a direct python-pkcs11 call on the seal's HSM thread, where every such call belongs."""
    return pkcs11_seal._hsm_thread().submit(function).result(timeout=60)


def token_keys(softhsm: dict[str, str], label: str) -> list[dict[str, Any]]:
    import pkcs11
    from pkcs11 import Attribute, KeyType, ObjectClass

    def find() -> list[dict[str, Any]]:
        token = pkcs11.lib(softhsm["SOFTHSM2_LIB"]).get_token(token_label=softhsm["SOFTHSM2_TOKEN_LABEL"])
        try:
            session = token.open(user_pin=softhsm["SOFTHSM2_PIN"])
        except pkcs11.UserAlreadyLoggedIn:
            session = token.open()
        with session:
            return [
                {
                    "length": key[Attribute.VALUE_LEN],
                    "token": key[Attribute.TOKEN],
                    "sensitive": key[Attribute.SENSITIVE],
                    "extractable": key[Attribute.EXTRACTABLE],
                    "encrypt": key[Attribute.ENCRYPT],
                    "decrypt": key[Attribute.DECRYPT],
                    "id": bytes(key[Attribute.ID]),
                }
                for key in session.get_objects(
                    {
                        Attribute.CLASS: ObjectClass.SECRET_KEY,
                        Attribute.KEY_TYPE: KeyType.AES,
                        Attribute.LABEL: label,
                    }
                )
            ]

    return on_hsm_thread(find)


def run_isolated(
    softhsm: dict[str, str], seal_options: dict[str, str], env: dict[str, str] | None = None
) -> dict[str, str]:
    """Build the seal and check() it in a fresh process, where no session has logged in yet."""
    script = (
        "import asyncio, json, sys\n"
        "from strongroom.seals.base import SealUnavailable\n"
        "from strongroom.seals.pkcs11 import from_options\n"
        "try:\n"
        "    seal = from_options(json.loads(sys.argv[1]))\n"
        "    asyncio.run(seal.check())\n"
        "    print(json.dumps({'ok': True}))\n"
        "except Exception as exc:\n"
        "    print(json.dumps({'ok': False, 'type': type(exc).__name__,\n"
        "                      'seal_unavailable': isinstance(exc, SealUnavailable),\n"
        "                      'message': str(exc), 'repr': repr(exc)}))\n"
    )
    environment = {k: v for k, v in os.environ.items() if k not in PIN_VARIABLES}
    environment["SOFTHSM2_CONF"] = softhsm["SOFTHSM2_CONF"]
    environment.update(env or {})
    result = subprocess.run(
        [sys.executable, "-c", script, json.dumps(seal_options)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=environment,
    )
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    outcome["stderr"] = result.stderr
    return outcome


# -- the setup script -----------------------------------------------------------------------------


def test_setup_script_is_idempotent(softhsm: dict[str, str]) -> None:
    again = subprocess.run([str(SETUP), softhsm["directory"]], capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert parse_exports(again.stdout) == {k: v for k, v in softhsm.items() if k != "directory"}
    assert "reusing the token" in again.stderr
    # What it prints is meant for eval.
    shell = subprocess.run(
        [
            "bash",
            "-c",
            f'eval "$({shlex.quote(str(SETUP))} {shlex.quote(softhsm["directory"])} 2>/dev/null)" '
            '&& echo "$SOFTHSM2_CONF|$SOFTHSM2_LIB|$SOFTHSM2_TOKEN_LABEL"',
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert shell.stdout.strip() == "|".join(
        (softhsm["SOFTHSM2_CONF"], softhsm["SOFTHSM2_LIB"], softhsm["SOFTHSM2_TOKEN_LABEL"])
    )
    conf = Path(softhsm["SOFTHSM2_CONF"]).read_text()
    assert f"directories.tokendir = {softhsm['directory']}/tokens" in conf


# -- keys --------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_generate_key_creates_an_aes_256_key_once(softhsm: dict[str, str], no_pin_variables: None) -> None:
    opts = options(softhsm, generate_key="true")
    label = opts["key_label"]
    assert token_keys(softhsm, label) == []

    seal = from_options(opts)
    await seal.open()
    keys = token_keys(softhsm, label)
    assert keys == [
        {
            "length": 32,
            "token": True,
            "sensitive": True,
            "extractable": False,
            "encrypt": True,
            "decrypt": True,
            "id": b"",
        }
    ]

    # Found, not made again, by the same seal and by another instance.
    await seal.encrypt(b"x")
    other = from_options(opts)
    await other.encrypt(b"y")
    assert len(token_keys(softhsm, label)) == 1
    await seal.close()
    await other.close()


@pytest.mark.anyio
async def test_missing_key_without_generate_key(softhsm: dict[str, str], no_pin_variables: None) -> None:
    opts = options(softhsm)
    for generate_key in (None, "false"):
        if generate_key:
            opts["generate_key"] = generate_key
        seal = from_options(opts)
        with pytest.raises(SealUnavailable) as caught:
            await seal.encrypt(b"the root key")
        message = str(caught.value)
        assert f"no AES key labelled {opts['key_label']!r} on the token" in message
        assert 'generate_key = "true"' in message
        await seal.close()
    assert token_keys(softhsm, opts["key_label"]) == []


@pytest.mark.anyio
async def test_key_id_is_used_to_generate_and_to_find_the_key(softhsm: dict[str, str], no_pin_variables: None) -> None:
    label = f"strongroom-test-{uuid.uuid4().hex[:12]}"
    seal = from_options(options(softhsm, key_label=label, key_id="0x0102A0", generate_key="true"))
    blob = await seal.encrypt(b"payload")
    assert parse_blob(blob)[:2] == (label, b"\x01\x02\xa0")
    assert [key["id"] for key in token_keys(softhsm, label)] == [b"\x01\x02\xa0"]

    # Another key with the same label and another id is a different key.
    other = from_options(options(softhsm, key_label=label, key_id="ff", generate_key="true"))
    other_blob = await other.encrypt(b"other")
    assert len(token_keys(softhsm, label)) == 2
    assert await other.decrypt(blob) == b"payload"  # the blob names its key
    assert await seal.decrypt(other_blob) == b"other"

    # With two keys under one label, a seal that names no id cannot choose.
    ambiguous = from_options(options(softhsm, key_label=label))
    with pytest.raises(SealUnavailable, match="more than one AES key"):
        await ambiguous.encrypt(b"x")
    for s in (seal, other, ambiguous):
        await s.close()


# -- encrypting and decrypting ---------------------------------------------------------------------------


@pytest.mark.anyio
async def test_round_trip_and_blob_format(softhsm: dict[str, str], no_pin_variables: None) -> None:
    opts = options(softhsm, generate_key="true")
    seal = from_options(opts)
    assert isinstance(seal, AutoSeal)
    assert seal.type_name == "pkcs11"

    plaintext = os.urandom(32)
    blob = await seal.encrypt(plaintext)
    assert await seal.decrypt(blob) == plaintext
    await seal.check()

    label, key_id, header, iv, ciphertext = parse_blob(blob)
    assert (label, key_id) == (opts["key_label"], b"")
    assert blob[0] == 1
    assert int.from_bytes(blob[1:5], "big") == CKM_AES_GCM
    assert len(iv) == 12
    assert len(ciphertext) == len(plaintext) + 16
    assert blob == header + iv + ciphertext
    assert plaintext not in blob

    # A fresh IV each time.
    assert len({await seal.encrypt(plaintext) for _ in range(10)}) == 10
    await seal.close()


@pytest.mark.anyio
async def test_second_instance_with_its_own_session_decrypts_the_first_ones_blob(
    softhsm: dict[str, str], no_pin_variables: None
) -> None:
    opts = options(softhsm, generate_key="true")
    first = from_options(opts)
    blob = await first.encrypt(b"the root key")

    second = from_options({k: v for k, v in opts.items() if k != "generate_key"})
    assert await second.decrypt(blob) == b"the root key"
    assert await first.decrypt(await second.encrypt(b"back")) == b"back"
    assert first._session is not second._session

    # Still readable once the first has gone.
    await first.close()
    assert await second.decrypt(blob) == b"the root key"
    await second.close()
    third = from_options(opts)
    assert await third.decrypt(blob) == b"the root key"
    await third.close()


@pytest.mark.anyio
async def test_tampered_blob_is_refused(softhsm: dict[str, str], no_pin_variables: None) -> None:
    seal = from_options(options(softhsm, generate_key="true"))
    blob = await seal.encrypt(b"the root key")
    for position in (len(blob) - 1, len(blob) - 20, 8):  # tag, ciphertext, header (associated data)
        tampered = bytearray(blob)
        tampered[position] ^= 0x01
        with pytest.raises(SealUnavailable):
            await seal.decrypt(bytes(tampered))
    with pytest.raises(SealUnavailable, match="truncated"):
        await seal.decrypt(blob[:20])
    with pytest.raises(SealUnavailable, match="format version"):
        await seal.decrypt(b"\x07" + blob[1:])
    # The seal still works afterwards.
    assert await seal.decrypt(blob) == b"the root key"
    await seal.close()


def relabel_key(softhsm: dict[str, str], label: str, new_label: str) -> None:
    import pkcs11
    from pkcs11 import Attribute, KeyType, ObjectClass

    def relabel() -> None:
        token = pkcs11.lib(softhsm["SOFTHSM2_LIB"]).get_token(token_label=softhsm["SOFTHSM2_TOKEN_LABEL"])
        try:
            session = token.open(rw=True, user_pin=softhsm["SOFTHSM2_PIN"])
        except pkcs11.UserAlreadyLoggedIn:
            session = token.open(rw=True)
        with session:
            key = session.get_key(object_class=ObjectClass.SECRET_KEY, key_type=KeyType.AES, label=label)
            key[Attribute.LABEL] = new_label

    on_hsm_thread(relabel)


@pytest.mark.anyio
async def test_blob_whose_key_was_relabelled_decrypts_through_default_key_label(
    softhsm: dict[str, str], no_pin_variables: None
) -> None:
    opts = options(softhsm, generate_key="true")
    old = from_options(opts)
    blob = await old.encrypt(b"the root key")
    await old.close()
    new_label = opts["key_label"] + "-renamed"
    relabel_key(softhsm, opts["key_label"], new_label)

    seal = from_options(options(softhsm, key_label=new_label))
    with pytest.raises(SealUnavailable, match=f"no AES key labelled {opts['key_label']!r}"):
        await seal.decrypt(blob)
    await seal.close()

    fallback = from_options(options(softhsm, key_label=new_label, default_key_label=new_label))
    assert await fallback.decrypt(blob) == b"the root key"
    # New blobs name the key's new label.
    assert parse_blob(await fallback.encrypt(b"x"))[0] == new_label
    await fallback.close()


@pytest.mark.anyio
async def test_concurrent_encrypts_all_succeed(softhsm: dict[str, str], no_pin_variables: None) -> None:
    opts = options(softhsm, generate_key="true")
    seal = from_options(opts)
    other = from_options({k: v for k, v in opts.items() if k != "generate_key"})

    await seal.open()
    plaintexts = [os.urandom(32) for _ in range(64)]
    blobs = await asyncio.gather(
        *(seal.encrypt(p) for p in plaintexts[:48]),
        *(other.encrypt(p) for p in plaintexts[48:]),
    )
    assert len(set(blobs)) == len(blobs)
    decrypted = await asyncio.gather(*(other.decrypt(b) for b in blobs[:32]), *(seal.decrypt(b) for b in blobs[32:]))
    assert decrypted == plaintexts
    await seal.close()
    await other.close()


@pytest.mark.anyio
async def test_a_lost_session_is_opened_again(softhsm: dict[str, str], no_pin_variables: None) -> None:
    seal = from_options(options(softhsm, generate_key="true"))
    blob = await seal.encrypt(b"the root key")
    session = seal._session
    on_hsm_thread(session.close)  # behind the seal's back, as a device reset would
    assert await seal.decrypt(blob) == b"the root key"
    assert seal._session is not session
    await seal.close()
    with pytest.raises(SealUnavailable, match="closed"):
        await seal.encrypt(b"x")


@pytest.mark.anyio
async def test_closing_one_seal_keeps_the_others_logged_in(softhsm: dict[str, str], no_pin_variables: None) -> None:
    first = from_options(options(softhsm, generate_key="true"))
    second = from_options(options(softhsm, generate_key="true"))
    first_blob = await first.encrypt(b"first")
    second_blob = await second.encrypt(b"second")
    await first.close()
    # A private key the second seal has not looked up yet is still visible: still logged in.
    assert await second.decrypt(first_blob) == b"first"
    assert await second.decrypt(second_blob) == b"second"
    await second.close()
    assert not pkcs11_seal._logins, "the last seal to close ends the login"


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # python-pkcs11 tidying a dead session
@pytest.mark.anyio
async def test_a_lost_login_is_made_again(softhsm: dict[str, str], no_pin_variables: None) -> None:
    seal = from_options(options(softhsm, generate_key="true"))
    other = from_options(options(softhsm, generate_key="true"))
    blob = await seal.encrypt(b"the root key")
    other_blob = await other.encrypt(b"other")
    assert seal._login_key is not None
    login = pkcs11_seal._logins[seal._login_key]
    on_hsm_thread(login.anchor.close)  # logs the process out, as a token reset would
    assert await seal.decrypt(blob) == b"the root key"
    assert await seal.encrypt(b"x")
    assert await other.decrypt(other_blob) == b"other"
    await seal.close()
    await other.close()
    assert not pkcs11_seal._logins


@pytest.mark.anyio
async def test_a_second_seal_with_another_pin_is_refused_while_the_first_is_logged_in(
    softhsm: dict[str, str], no_pin_variables: None
) -> None:
    first = from_options(options(softhsm, generate_key="true"))
    await first.check()
    wrong = from_options(options(softhsm, pin="55555555", generate_key="true"))
    with pytest.raises(SealUnavailable) as caught:
        await wrong.check()
    assert "already logged in" in str(caught.value)
    assert "55555555" not in str(caught.value)
    await wrong.close()
    await first.check()  # unharmed
    await first.close()


# -- finding the token ---------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_wrong_token_label(softhsm: dict[str, str], no_pin_variables: None) -> None:
    seal = from_options(options(softhsm, token_label="no-such-token"))
    with pytest.raises(SealUnavailable) as caught:
        await seal.encrypt(b"x")
    message = str(caught.value)
    assert "no token labelled 'no-such-token'" in message
    assert repr(softhsm["SOFTHSM2_TOKEN_LABEL"]) in message  # says which tokens there are
    assert softhsm["SOFTHSM2_PIN"] not in message.replace(softhsm["SOFTHSM2_LIB"], "")


@pytest.mark.anyio
async def test_slot_instead_of_token_label(softhsm: dict[str, str], no_pin_variables: None) -> None:
    import pkcs11

    def slot_of_token() -> int:
        library = pkcs11.lib(softhsm["SOFTHSM2_LIB"])
        return library.get_token(token_label=softhsm["SOFTHSM2_TOKEN_LABEL"]).slot.slot_id

    slot = on_hsm_thread(slot_of_token)
    seal = from_options(options(softhsm, token_label="", slot=str(slot), generate_key="true"))
    assert await seal.decrypt(await seal.encrypt(b"x")) == b"x"
    await seal.close()

    both = from_options(options(softhsm, slot=hex(slot), generate_key="true"))
    await both.check()
    await both.close()

    mismatch = from_options(options(softhsm, slot=str(slot), token_label="other-token"))
    with pytest.raises(SealUnavailable, match=f"the token in slot {slot} is labelled"):
        await mismatch.check()

    absent = from_options(options(softhsm, token_label="", slot="424242"))
    with pytest.raises(SealUnavailable, match="no token in slot 424242"):
        await absent.check()


@pytest.mark.anyio
async def test_missing_library(softhsm: dict[str, str], tmp_path: Path, no_pin_variables: None) -> None:
    missing = from_options(options(softhsm, lib=str(tmp_path / "libnothing.so")))
    with pytest.raises(SealUnavailable, match="cannot load the PKCS#11 library .*it does not exist"):
        await missing.check()
    not_a_module = tmp_path / "libfake.so"
    not_a_module.write_bytes(b"not an ELF file")
    fake = from_options(options(softhsm, lib=str(not_a_module)))
    with pytest.raises(SealUnavailable, match="not a PKCS#11 module"):
        await fake.check()


# -- the PIN ---------------------------------------------------------------------------------------------


def test_wrong_pin_is_refused_without_showing_it(softhsm: dict[str, str]) -> None:
    for wrong_pin in ("98765432", "correct-horse-battery"):
        opts = options(softhsm, pin=wrong_pin, generate_key="true")
        outcome = run_isolated(softhsm, opts)
        assert outcome["ok"] is False, outcome
        assert outcome["seal_unavailable"] is True
        assert "the HSM refused the PIN" in outcome["message"]
        assert "CKR_PIN_INCORRECT" in outcome["message"]
        for text in (outcome["message"], outcome["repr"], outcome["stderr"]):
            assert wrong_pin not in text
            assert softhsm["SOFTHSM2_PIN"] not in text.replace(softhsm["SOFTHSM2_LIB"], "")


def test_pin_from_the_environment_takes_precedence(softhsm: dict[str, str]) -> None:
    right = softhsm["SOFTHSM2_PIN"]
    for variable in PIN_VARIABLES:
        opts = options(softhsm, pin="11111111", generate_key="true")
        assert run_isolated(softhsm, opts, {variable: right})["ok"] is True, variable
        refused = run_isolated(softhsm, options(softhsm, pin=right, generate_key="true"), {variable: "22222222"})
        assert refused["ok"] is False and "the HSM refused the PIN" in refused["message"], variable
        assert "22222222" not in refused["message"]
    # Or no pin field at all.
    no_pin = options(softhsm, generate_key="true")
    del no_pin["pin"]
    assert run_isolated(softhsm, no_pin, {"STRONGROOM_HSM_PIN": right})["ok"] is True


def test_pin_from_env_and_file_references(softhsm: dict[str, str], tmp_path: Path) -> None:
    right = softhsm["SOFTHSM2_PIN"]
    pin_file = tmp_path / "hsm.pin"
    pin_file.write_text(right + "\n")
    assert run_isolated(softhsm, options(softhsm, pin=f"file://{pin_file}", generate_key="true"))["ok"] is True
    assert (
        run_isolated(softhsm, options(softhsm, pin="env://MY_HSM_PIN", generate_key="true"), {"MY_HSM_PIN": right})[
            "ok"
        ]
        is True
    )


def test_no_pin_anywhere_is_a_configuration_error(softhsm: dict[str, str], no_pin_variables: None) -> None:
    opts = options(softhsm)
    del opts["pin"]
    with pytest.raises(ValueError, match="no PIN"):
        from_options(opts)
    with pytest.raises(SealUnavailable, match="MISSING_PIN_VARIABLE for pin is not set"):
        from_options(options(softhsm, pin="env://MISSING_PIN_VARIABLE"))


# -- options -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mechanism", ["0x1087", "0x00001087", "4231", "CKM_AES_GCM", "aes_gcm", "AES-GCM"])
@pytest.mark.anyio
async def test_aes_gcm_mechanism_spellings(softhsm: dict[str, str], mechanism: str, no_pin_variables: None) -> None:
    seal = from_options(options(softhsm, mechanism=mechanism, generate_key="true"))
    assert isinstance(seal, Pkcs11Seal)
    assert seal.settings.mechanism == CKM_AES_GCM
    assert await seal.decrypt(await seal.encrypt(b"x")) == b"x"
    await seal.close()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("mechanism", "0x0009", "RSA-OAEP"),
        ("mechanism", "CKM_RSA_PKCS_OAEP", "RSA-OAEP"),
        ("mechanism", "0x1234", "unknown mechanism"),
        ("slot", "first", '"slot" must be a slot number'),
        ("key_id", "xyz", '"key_id" must be hexadecimal'),
        ("generate_key", "maybe", '"generate_key" must be "true" or "false"'),
    ],
)
def test_bad_options_are_configuration_errors(
    softhsm: dict[str, str], field: str, value: str, message: str, no_pin_variables: None
) -> None:
    with pytest.raises(ValueError, match=message):
        from_options(options(softhsm, **{field: value}))


def test_repr_and_settings_never_show_the_pin(softhsm: dict[str, str], no_pin_variables: None) -> None:
    seal = from_options(options(softhsm, pin="s3cret-pin-value"))
    assert "s3cret-pin-value" not in repr(seal)
    assert "s3cret-pin-value" not in repr(seal.settings)
