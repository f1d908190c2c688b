"""The pkcs11 seal: the root key wrapped by an AES key that never leaves a PKCS#11 device (an HSM).

    seal "pkcs11" {
      lib          = "/usr/lib/softhsm/libsofthsm2.so"
      token_label  = "strongroom"          # or slot = "0"
      pin          = "env://HSM_PIN"       # or STRONGROOM_HSM_PIN / BAO_HSM_PIN / VAULT_HSM_PIN
      key_label    = "strongroom-root"
      mechanism    = "0x1087"              # CKM_AES_GCM, the default
      generate_key = "true"                # make the key on first use when the token has none
    }

Options, as Vault's and OpenBao's:

- `lib`: path to the PKCS#11 module (required).
- `slot` (decimal, or hex with 0x) or `token_label`: which token; with both, the slot's token must
  carry that label.
- `pin`: the user PIN, or `env://VAR` / `file://path`. STRONGROOM_HSM_PIN, BAO_HSM_PIN and
  VAULT_HSM_PIN (first one set wins) take precedence over the configuration, as in Vault.
- `key_label` (required) and optional `key_id` (the key's CKA_ID in hex, with or without 0x).
- `default_key_label`: a label to try when decrypting a blob whose key label is not on the token.
- `mechanism`: CKM_AES_GCM (`0x1087`, `4231`, `CKM_AES_GCM`, `AES_GCM`, `aes-gcm`); the default.
  RSA-OAEP is refused with a clear message.
- `generate_key`: "true" creates a token-resident, sensitive, non-extractable AES-256 key with that
  label (and id) when none exists.
- `force_rw_session`: open a read-write session even without `generate_key`.
- The HMAC and RSA options Vault also accepts are read by the configuration and ignored here.

Blob: `version (1 byte, 1) | mechanism (4 bytes, big endian: 0x1087) | label length (2) | key label
(UTF-8) | id length (2) | key id | IV (12) | ciphertext + 128-bit tag`. The header (everything
before the IV) is the GCM associated data, so it cannot be changed to point at another key. Decrypt
finds the key by the label and id in the blob, so blobs made under an earlier `key_label` still
decrypt while that key stays on the token.

python-pkcs11 is synchronous and a PKCS#11 module is initialised without OS locking, so every call
into it runs on one dedicated thread shared by all seals of the process. Each seal keeps one
session, opened on first use and opened again (once) when an operation on it fails; a failure after
that, like a wrong PIN, a missing module, token or key, raises SealUnavailable with a message that
never carries the PIN.

A PKCS#11 login belongs to the process, not to a session, and closing the session that logged in
logs the whole process out. So the seals of a process share one login per token, held by a session
of its own that closes when the last seal using the token closes (see _Login); a second seal with a
different PIN for the same token is refused, since the token would not be asked to check it.
"""

from __future__ import annotations

import asyncio
import binascii
import concurrent.futures
import contextlib
import hmac
import os
import struct
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from strongroom.seals.base import AutoSeal, SealUnavailable

CKM_AES_GCM = 0x1087
CKM_RSA_PKCS_OAEP = 0x0009
BLOB_VERSION = 1
IV_SIZE = 12
TAG_BITS = 128
KEY_BITS = 256
PIN_VARIABLES = ("STRONGROOM_HSM_PIN", "BAO_HSM_PIN", "VAULT_HSM_PIN")

_HEADER = struct.Struct(">BI")
_LENGTH = struct.Struct(">H")
_MECHANISMS = {
    "0x1087": CKM_AES_GCM, "0x00001087": CKM_AES_GCM, "4231": CKM_AES_GCM,
    "ckm_aes_gcm": CKM_AES_GCM, "aes_gcm": CKM_AES_GCM, "aes-gcm": CKM_AES_GCM,
    "0x9": CKM_RSA_PKCS_OAEP, "0x0009": CKM_RSA_PKCS_OAEP, "0x00000009": CKM_RSA_PKCS_OAEP,
    "9": CKM_RSA_PKCS_OAEP, "ckm_rsa_pkcs_oaep": CKM_RSA_PKCS_OAEP, "rsa_pkcs_oaep": CKM_RSA_PKCS_OAEP,
}
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}

T = TypeVar("T")

# One thread for every call into any PKCS#11 module of this process.
_executor: concurrent.futures.ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _hsm_thread() -> concurrent.futures.ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="strongroom-pkcs11")
        return _executor


@dataclass(frozen=True)
class Pkcs11Settings:
    lib: str
    key_label: str
    pin: str = field(repr=False)
    slot: int | None = None
    token_label: str | None = None
    key_id: bytes | None = None
    default_key_label: str | None = None
    mechanism: int = CKM_AES_GCM
    generate_key: bool = False
    force_rw_session: bool = False


class Pkcs11Seal(AutoSeal):
    type_name = "pkcs11"

    def __init__(self, settings: Pkcs11Settings) -> None:
        if settings.mechanism != CKM_AES_GCM:
            raise ValueError(
                f"pkcs11 seal: mechanism {settings.mechanism:#x} is not supported: use CKM_AES_GCM (0x1087)"
            )
        self.settings = settings
        # Touched only on the HSM thread:
        self._session: Any = None  # our pkcs11.Session; not itself logged in (see _Login)
        self._login_key: tuple[str, int] | None = None
        self._keys: dict[tuple[str, bytes], Any] = {}
        self._closed = False

    def __repr__(self) -> str:
        s = self.settings
        where = f"slot={s.slot!r}" if s.slot is not None else f"token_label={s.token_label!r}"
        return f"Pkcs11Seal(lib={s.lib!r}, {where}, key_label={s.key_label!r})"

    # -- the AutoSeal interface -----------------------------------------------------------------

    async def encrypt(self, plaintext: bytes) -> bytes:
        return await self._run(lambda: self._encrypt(bytes(plaintext)))

    async def decrypt(self, blob: bytes) -> bytes:
        label, key_id, header, iv, ciphertext = parse_blob(bytes(blob))
        return await self._run(lambda: self._decrypt(label, key_id, header, iv, ciphertext))

    async def open(self) -> None:
        """Open the session and find (or, with generate_key, make) the key now rather than at first use."""
        await self._run(lambda: self._key(self.settings.key_label, self.settings.key_id or b"", create=True))

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await asyncio.get_running_loop().run_in_executor(_hsm_thread(), self._shut)

    # -- on the HSM thread ----------------------------------------------------------------------

    async def _run(self, operation: Callable[[], T]) -> T:
        if self._closed:
            raise SealUnavailable("pkcs11 seal: the seal has been closed")
        return await asyncio.get_running_loop().run_in_executor(_hsm_thread(), self._with_retry, operation)

    def _with_retry(self, operation: Callable[[], T]) -> T:
        pkcs11 = _library_module()
        if self._session is not None and not self._logged_in():
            self._drop_session()  # the token's login was dropped or replaced: open again, and log in
        had_session = self._session is not None
        try:
            return operation()
        except HsmRefused:
            raise
        except pkcs11.PKCS11Error as exc:
            self._drop_session()
            if not had_session:
                raise SealUnavailable(f"pkcs11 seal: the HSM failed: {_name(exc)}") from None
            if isinstance(exc, _login_lost_errors(pkcs11)):
                self._forget_login()
        # The session may have gone stale (device reset, token reinserted): one more try on a new one.
        try:
            return operation()
        except HsmRefused:
            raise
        except pkcs11.PKCS11Error as exc:
            self._drop_session()
            raise SealUnavailable(f"pkcs11 seal: the HSM failed: {_name(exc)}") from None

    def _encrypt(self, plaintext: bytes) -> bytes:
        import pkcs11

        label = self.settings.key_label
        key_id = self.settings.key_id or b""
        key = self._key(label, key_id, create=True)
        header = build_header(label, key_id)
        iv = os.urandom(IV_SIZE)
        ciphertext = key.encrypt(plaintext, mechanism=pkcs11.Mechanism.AES_GCM,
                                 mechanism_param=pkcs11.GCMParams(iv, header, TAG_BITS))
        return header + iv + bytes(ciphertext)

    def _decrypt(self, label: str, key_id: bytes, header: bytes, iv: bytes, ciphertext: bytes) -> bytes:
        import pkcs11

        try:
            key = self._key(label, key_id, create=False)
        except HsmRefused:
            fallback = self.settings.default_key_label
            if not fallback or fallback == label:
                raise
            key = self._key(fallback, b"", create=False)
        try:
            return bytes(key.decrypt(ciphertext, mechanism=pkcs11.Mechanism.AES_GCM,
                                     mechanism_param=pkcs11.GCMParams(iv, header, TAG_BITS)))
        except (pkcs11.GeneralError, pkcs11.EncryptedDataInvalid, pkcs11.EncryptedDataLenRange) as exc:
            # What modules report for a GCM tag that does not verify.
            raise HsmRefused(
                f"pkcs11 seal: the HSM could not decrypt the blob with key {_describe(label, key_id)} "
                f"({_name(exc)}): it was made by another key of that label, or it is corrupt"
            ) from None

    def _key(self, label: str, key_id: bytes, create: bool) -> Any:
        from pkcs11 import Attribute, KeyType, ObjectClass

        cached = self._keys.get((label, key_id))
        if cached is not None:
            return cached
        session = self._open_session()
        query: dict[Attribute, Any] = {
            Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.KEY_TYPE: KeyType.AES, Attribute.LABEL: label,
        }
        if key_id:
            query[Attribute.ID] = key_id
        # Read the search to its end here, on the HSM thread: a search left open blocks the session.
        found = list(session.get_objects(query))
        if len(found) > 1:
            raise HsmRefused(
                f"pkcs11 seal: more than one AES key {_describe(label, key_id)} on the token: "
                "set key_id to choose one"
            )
        if found:
            key = found[0]
        elif create and self.settings.generate_key:
            key = self._generate(session, label, key_id)
        else:
            hint = "" if self.settings.generate_key else ' (set generate_key = "true" to create it)'
            raise HsmRefused(f"pkcs11 seal: no AES key {_describe(label, key_id)} on the token{hint}")
        if not key[Attribute.ENCRYPT] or not key[Attribute.DECRYPT]:
            raise HsmRefused(
                f"pkcs11 seal: the key {_describe(label, key_id)} may not encrypt and decrypt (CKA_ENCRYPT/CKA_DECRYPT)"
            )
        self._keys[(label, key_id)] = key
        return key

    def _generate(self, session: Any, label: str, key_id: bytes) -> Any:
        import pkcs11
        from pkcs11 import Attribute, KeyType, MechanismFlag

        if not session.rw:
            raise HsmRefused("pkcs11 seal: generating a key needs a read-write session")
        try:
            return session.generate_key(
                KeyType.AES, KEY_BITS, label=label, id=key_id or None, store=True,
                capabilities=MechanismFlag.ENCRYPT | MechanismFlag.DECRYPT,
                template={
                    Attribute.TOKEN: True,
                    Attribute.PRIVATE: True,
                    Attribute.SENSITIVE: True,
                    Attribute.EXTRACTABLE: False,
                    Attribute.WRAP: False,
                    Attribute.UNWRAP: False,
                    Attribute.SIGN: False,
                    Attribute.VERIFY: False,
                    Attribute.DERIVE: False,
                },
            )
        except pkcs11.UserNotLoggedIn:
            raise  # the login was lost: _with_retry logs in again
        except pkcs11.PKCS11Error as exc:
            raise HsmRefused(
                f"pkcs11 seal: the HSM would not generate the key {_describe(label, key_id)}: {_name(exc)}"
            ) from None

    def _open_session(self) -> Any:
        if self._session is not None:
            return self._session
        pkcs11 = _library_module()
        s = self.settings
        try:
            library = pkcs11.lib(s.lib)
        except pkcs11.PKCS11Error:
            reason = "it does not exist" if not os.path.exists(s.lib) else "it is not a PKCS#11 module that loads here"
            raise HsmRefused(f"pkcs11 seal: cannot load the PKCS#11 library {s.lib!r}: {reason}") from None
        token = self._find_token(library)
        self._log_in(token)
        try:
            session = token.open(rw=s.generate_key or s.force_rw_session)
        except pkcs11.PKCS11Error as exc:
            raise HsmRefused(f"pkcs11 seal: cannot open a session on token {token.label!r}: {_name(exc)}") from None
        self._session = session
        self._keys.clear()
        return session

    def _log_in(self, token: Any) -> None:
        """Join this process's login to the token, logging in first when there is none."""
        pkcs11 = _library_module()
        key = (self.settings.lib, token.slot.slot_id)
        login = _logins.get(key)
        if login is not None and login.anchor is not None and not _alive(login.anchor):
            # The session holding the login has gone (device reset, token reinserted): log in again.
            del _logins[key]
            _close_quietly(login.anchor)
            login = None
        if login is not None:
            if not hmac.compare_digest(login.pin.encode(), self.settings.pin.encode()):
                raise HsmRefused(
                    f"pkcs11 seal: this process is already logged in to token {token.label!r} with another PIN, "
                    "so the HSM cannot check this seal's PIN: a token has one user PIN, configure the same one"
                )
            login.users.add(id(self))
            self._login_key = key
            return
        label = token.label
        try:
            anchor = token.open(user_pin=self.settings.pin)
        except pkcs11.UserAlreadyLoggedIn:
            # Logged in by something else in this process: the login is shared, the PIN cannot be checked.
            anchor = None
        except pkcs11.PinIncorrect:
            raise PinRefused(f"pkcs11 seal: the HSM refused the PIN for token {label!r} (CKR_PIN_INCORRECT)") from None
        except pkcs11.PinLocked:
            raise PinRefused(f"pkcs11 seal: the user PIN of token {label!r} is locked (CKR_PIN_LOCKED)") from None
        except (pkcs11.PinInvalid, pkcs11.PinLenRange):
            raise PinRefused(
                f"pkcs11 seal: the HSM refused the PIN for token {label!r}: it is not a valid PIN for this token"
            ) from None
        except pkcs11.PinExpired:
            raise PinRefused(f"pkcs11 seal: the PIN of token {label!r} has expired (CKR_PIN_EXPIRED)") from None
        except pkcs11.UserPinNotInitialized:
            raise PinRefused(
                f"pkcs11 seal: token {label!r} has no user PIN set (CKR_USER_PIN_NOT_INITIALIZED)"
            ) from None
        except pkcs11.PKCS11Error as exc:
            raise HsmRefused(f"pkcs11 seal: cannot log in to token {label!r}: {_name(exc)}") from None
        _logins[key] = _Login(anchor, self.settings.pin, {id(self)})
        self._login_key = key

    def _logged_in(self) -> bool:
        login = _logins.get(self._login_key) if self._login_key else None
        return login is not None and id(self) in login.users

    def _forget_login(self) -> None:
        """The token's login looks lost (device reset, logged out): end it; the next session logs in again."""
        login = _logins.pop(self._login_key, None) if self._login_key else None
        self._login_key = None
        if login is not None:
            _close_quietly(login.anchor)

    def _shut(self) -> None:
        self._drop_session()
        key = self._login_key
        login = _logins.get(key) if key else None
        if key is not None and login is not None:
            login.users.discard(id(self))
            if not login.users:
                # Closing the session that logged in logs the process out of the token.
                del _logins[key]
                _close_quietly(login.anchor)
        self._login_key = None

    def _find_token(self, library: Any) -> Any:
        import pkcs11

        s = self.settings
        try:
            if s.slot is not None:
                slots = {slot.slot_id: slot for slot in library.get_slots(token_present=True)}
                if s.slot not in slots:
                    raise HsmRefused(
                        f"pkcs11 seal: no token in slot {s.slot} of {s.lib!r} "
                        f"(slots with a token: {', '.join(map(str, sorted(slots))) or 'none'})"
                    )
                token = slots[s.slot].get_token()
                if s.token_label is not None and token.label != s.token_label:
                    raise HsmRefused(
                        f"pkcs11 seal: the token in slot {s.slot} is labelled {token.label!r}, not {s.token_label!r}"
                    )
                return token
            return library.get_token(token_label=s.token_label)
        except pkcs11.NoSuchToken:
            labels = sorted(_token_labels(library))
            raise HsmRefused(
                f"pkcs11 seal: no token labelled {s.token_label!r} in {s.lib!r} "
                f"(tokens: {', '.join(repr(label) for label in labels) or 'none'})"
            ) from None
        except pkcs11.MultipleTokensReturned:
            raise HsmRefused(
                f"pkcs11 seal: more than one token is labelled {s.token_label!r}: set slot instead"
            ) from None

    def _drop_session(self) -> None:
        session, self._session = self._session, None
        self._keys.clear()
        _close_quietly(session)


class HsmRefused(SealUnavailable):
    """The HSM answered, and the answer is final: retrying on a new session would not change it."""


class PinRefused(HsmRefused):
    """The HSM refused the PIN (or the PIN cannot be used): the server must not try it again by itself,
    since a few more wrong attempts lock the token's user PIN."""

    retryable = False


def _library_module() -> Any:
    try:
        import pkcs11
    except ImportError:
        raise HsmRefused(
            "pkcs11 seal: the python-pkcs11 package is not installed (pip install python-pkcs11)"
        ) from None
    return pkcs11


@dataclass
class _Login:
    """This process's login to one token, shared by every seal that uses the token.

    PKCS#11 logs in the application, not a session, and python-pkcs11 logs out when it closes a
    session that it logged in with. So one `anchor` session logs in and stays open while any seal
    uses the token, and the seals' own sessions open without logging in: closing one seal does not
    log out the others, and a second seal with a different PIN is caught rather than let through on
    the first one's login.
    """

    anchor: Any  # the logged-in pkcs11.Session, or None when the process was logged in by someone else
    pin: str = field(repr=False)
    users: set[int]


_logins: dict[tuple[str, int], _Login] = {}  # (module path, slot id) -> login; HSM thread only


def _login_lost_errors(pkcs11: Any) -> tuple[type[BaseException], ...]:
    return (
        pkcs11.UserNotLoggedIn, pkcs11.SessionHandleInvalid, pkcs11.SessionClosed, pkcs11.DeviceRemoved,
        pkcs11.DeviceError, pkcs11.TokenNotPresent, pkcs11.TokenNotRecognised,
    )


def _alive(session: Any) -> bool:
    """Whether the session still works: a search every module supports, for a label nobody uses."""
    from pkcs11 import Attribute, ObjectClass

    try:
        list(session.get_objects({Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.LABEL: "strongroom-probe\0"}))
    except Exception:  # noqa: BLE001 - whatever the reason, this session cannot be used
        return False
    return True


def _close_quietly(session: Any) -> None:
    if session is None:
        return
    with contextlib.suppress(Exception):  # a dead session may not close cleanly; it is gone either way
        session.close()


def _token_labels(library: Any) -> list[str]:
    labels = []
    try:
        for slot in library.get_slots(token_present=True):
            try:
                labels.append(slot.get_token().label)
            except Exception:  # noqa: BLE001 - only for the error message
                continue
    except Exception:  # noqa: BLE001
        pass
    return labels


def _name(exc: BaseException) -> str:
    """`PinIncorrect` -> `CKR_PIN_INCORRECT`, from python-pkcs11's exception class."""
    name = type(exc).__name__
    if name in ("PKCS11Error", "RuntimeError"):
        return "an unrecognised PKCS#11 error"
    snake = "".join(f"_{c}" if c.isupper() and i else c for i, c in enumerate(name)).upper()
    return f"CKR_{snake}"


def _describe(label: str, key_id: bytes) -> str:
    return f"labelled {label!r}" + (f" with id 0x{key_id.hex()}" if key_id else "")


# -- blobs --------------------------------------------------------------------------------------


def build_header(label: str, key_id: bytes) -> bytes:
    encoded = label.encode()
    return (_HEADER.pack(BLOB_VERSION, CKM_AES_GCM) + _LENGTH.pack(len(encoded)) + encoded
            + _LENGTH.pack(len(key_id)) + key_id)


def parse_blob(blob: bytes) -> tuple[str, bytes, bytes, bytes, bytes]:
    """-> key label, key id, header (the associated data), IV, ciphertext+tag."""
    try:
        version, mechanism = _HEADER.unpack_from(blob, 0)
        offset = _HEADER.size
        if version != BLOB_VERSION:
            raise SealUnavailable(f"pkcs11 seal: not a pkcs11-seal blob (format version {version})")
        if mechanism != CKM_AES_GCM:
            raise SealUnavailable(f"pkcs11 seal: the blob was made with mechanism {mechanism:#x}, not CKM_AES_GCM")
        (label_length,) = _LENGTH.unpack_from(blob, offset)
        offset += _LENGTH.size
        label = blob[offset:offset + label_length].decode()
        offset += label_length
        (id_length,) = _LENGTH.unpack_from(blob, offset)
        offset += _LENGTH.size
        key_id = blob[offset:offset + id_length]
        offset += id_length
    except (struct.error, UnicodeDecodeError):
        raise SealUnavailable("pkcs11 seal: the blob is truncated or corrupt") from None
    if len(key_id) != id_length or len(blob) < offset + IV_SIZE + TAG_BITS // 8:
        raise SealUnavailable("pkcs11 seal: the blob is truncated")
    return label, bytes(key_id), blob[:offset], blob[offset:offset + IV_SIZE], blob[offset + IV_SIZE:]


# -- options ------------------------------------------------------------------------------------


def from_options(options: Mapping[str, str], environ: Mapping[str, str] | None = None) -> Pkcs11Seal:
    """Build the seal from a `seal "pkcs11"` block's options; nothing touches the HSM until first use."""
    env = os.environ if environ is None else environ
    lib = (options.get("lib") or "").strip()
    if not lib:
        raise ValueError('pkcs11 seal: missing required field "lib"')
    key_label = options.get("key_label") or ""
    if not key_label:
        raise ValueError('pkcs11 seal: missing required field "key_label"')
    if len(key_label.encode()) > 0xFFFF:
        raise ValueError("pkcs11 seal: key_label is too long")

    slot: int | None = None
    if options.get("slot", "").strip():
        text = options["slot"].strip()
        try:
            slot = int(text, 16) if text.lower().startswith("0x") else int(text)
        except ValueError:
            raise ValueError(f'pkcs11 seal: field "slot" must be a slot number, not {text!r}') from None
        if slot < 0:
            raise ValueError('pkcs11 seal: field "slot" must not be negative')
    token_label = options.get("token_label") or None
    if slot is None and token_label is None:
        raise ValueError('pkcs11 seal: missing required field "slot" or "token_label"')

    key_id: bytes | None = None
    if options.get("key_id", "").strip():
        text = options["key_id"].strip()
        digits = text[2:] if text.lower().startswith("0x") else text
        try:
            key_id = binascii.unhexlify(digits)
        except (binascii.Error, ValueError):
            raise ValueError(
                f'pkcs11 seal: field "key_id" must be hexadecimal (the key\'s CKA_ID), not {text!r}'
            ) from None

    mechanism_text = options.get("mechanism", "").strip()
    mechanism = CKM_AES_GCM
    if mechanism_text:
        found = _MECHANISMS.get(mechanism_text.lower())
        if found is None:
            raise ValueError(f'pkcs11 seal: unknown mechanism {mechanism_text!r}: use CKM_AES_GCM ("0x1087")')
        if found != CKM_AES_GCM:
            raise ValueError(
                f"pkcs11 seal: mechanism {mechanism_text!r} (RSA-OAEP) is not supported by Strongroom: "
                'use CKM_AES_GCM ("0x1087")'
            )
        mechanism = found

    return Pkcs11Seal(Pkcs11Settings(
        lib=lib,
        key_label=key_label,
        pin=_pin(options, env),
        slot=slot,
        token_label=token_label,
        key_id=key_id,
        default_key_label=options.get("default_key_label") or None,
        mechanism=mechanism,
        generate_key=_flag(options, "generate_key"),
        force_rw_session=_flag(options, "force_rw_session"),
    ))


def _pin(options: Mapping[str, str], env: Mapping[str, str]) -> str:
    for variable in PIN_VARIABLES:
        if env.get(variable):
            return env[variable]
    source = options.get("pin") or ""
    if source.startswith("env://"):
        variable = source[len("env://"):]
        value = env.get(variable)
        if not value:
            raise SealUnavailable(f"pkcs11 seal: the environment variable {variable} for pin is not set or empty")
        return value
    if source.startswith("file://"):
        path = source[len("file://"):]
        try:
            with open(path, encoding="utf-8") as handle:
                value = handle.read().strip()
        except OSError as exc:
            raise SealUnavailable(
                f"pkcs11 seal: cannot read the pin file {path!r}: {exc.strerror or type(exc).__name__}"
            ) from None
        if not value:
            raise SealUnavailable(f"pkcs11 seal: the pin file {path!r} is empty")
        return value
    if not source:
        raise ValueError(
            'pkcs11 seal: no PIN: set field "pin" or one of the environment variables '
            + ", ".join(PIN_VARIABLES)
        )
    return source


def _flag(options: Mapping[str, str], name: str) -> bool:
    value = options.get(name, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f'pkcs11 seal: field "{name}" must be "true" or "false", not {options[name]!r}')
