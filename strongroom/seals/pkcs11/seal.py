"""A pkcs11 seal: its session on the token, the keys it found there, and its encrypt and decrypt.

Each seal keeps one session, opened on first use and opened again (once) when an operation on it fails;
a failure after that, like a wrong PIN, a missing module, token or key, raises SealUnavailable with a
message that never carries the PIN. Every call into the PKCS#11 module runs on the process's HSM thread
(`process.py`), and so does everything below "on the HSM thread".
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from strongroom.seals.base import AutoSeal, SealUnavailable
from strongroom.seals.pkcs11 import process
from strongroom.seals.pkcs11.blob import IV_SIZE, TAG_BITS, build_header, parse_blob
from strongroom.seals.pkcs11.errors import HsmRefused, ckr_name
from strongroom.seals.pkcs11.process import library_module
from strongroom.seals.pkcs11.settings import CKM_AES_GCM, Pkcs11Settings, settings_from_options

KEY_BITS = 256

T = TypeVar("T")


class Pkcs11Seal(AutoSeal):
    type_name = "pkcs11"

    def __init__(self, settings: Pkcs11Settings) -> None:
        if settings.mechanism != CKM_AES_GCM:
            raise ValueError(
                f"pkcs11 seal: mechanism {settings.mechanism:#x} is not supported: use CKM_AES_GCM (0x1087)"
            )
        self.settings = settings
        # Touched only on the HSM thread:
        self._session: Any = None  # our pkcs11.Session; not itself logged in (see process.py)
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
        await process.on_hsm_thread(self._shut)

    # -- on the HSM thread ----------------------------------------------------------------------

    async def _run(self, operation: Callable[[], T]) -> T:
        if self._closed:
            raise SealUnavailable("pkcs11 seal: the seal has been closed")
        return await process.on_hsm_thread(lambda: self._with_retry(operation))

    def _with_retry(self, operation: Callable[[], T]) -> T:
        pkcs11 = library_module()
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
                raise SealUnavailable(f"pkcs11 seal: the HSM failed: {ckr_name(exc)}") from None
            if isinstance(exc, process.login_lost_errors(pkcs11)):
                self._forget_login()
        # The session may have gone stale (device reset, token reinserted): one more try on a new one.
        try:
            return operation()
        except HsmRefused:
            raise
        except pkcs11.PKCS11Error as exc:
            self._drop_session()
            raise SealUnavailable(f"pkcs11 seal: the HSM failed: {ckr_name(exc)}") from None

    def _encrypt(self, plaintext: bytes) -> bytes:
        import pkcs11

        label = self.settings.key_label
        key_id = self.settings.key_id or b""
        key = self._key(label, key_id, create=True)
        header = build_header(label, key_id)
        iv = os.urandom(IV_SIZE)
        ciphertext = key.encrypt(
            plaintext, mechanism=pkcs11.Mechanism.AES_GCM, mechanism_param=pkcs11.GCMParams(iv, header, TAG_BITS)
        )
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
            return bytes(
                key.decrypt(
                    ciphertext,
                    mechanism=pkcs11.Mechanism.AES_GCM,
                    mechanism_param=pkcs11.GCMParams(iv, header, TAG_BITS),
                )
            )
        except (pkcs11.GeneralError, pkcs11.EncryptedDataInvalid, pkcs11.EncryptedDataLenRange) as exc:
            # What modules report for a GCM tag that does not verify.
            raise HsmRefused(
                f"pkcs11 seal: the HSM could not decrypt the blob with key {_describe(label, key_id)} "
                f"({ckr_name(exc)}): it was made by another key of that label, or it is corrupt"
            ) from None

    def _key(self, label: str, key_id: bytes, create: bool) -> Any:
        from pkcs11 import Attribute, KeyType, ObjectClass

        cached = self._keys.get((label, key_id))
        if cached is not None:
            return cached
        session = self._open_session()
        query: dict[Attribute, Any] = {
            Attribute.CLASS: ObjectClass.SECRET_KEY,
            Attribute.KEY_TYPE: KeyType.AES,
            Attribute.LABEL: label,
        }
        if key_id:
            query[Attribute.ID] = key_id
        # Read the search to its end here, on the HSM thread: a search left open blocks the session.
        found = list(session.get_objects(query))
        if len(found) > 1:
            raise HsmRefused(
                f"pkcs11 seal: more than one AES key {_describe(label, key_id)} on the token: set key_id to choose one"
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
                KeyType.AES,
                KEY_BITS,
                label=label,
                id=key_id or None,
                store=True,
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
                f"pkcs11 seal: the HSM would not generate the key {_describe(label, key_id)}: {ckr_name(exc)}"
            ) from None

    def _open_session(self) -> Any:
        if self._session is not None:
            return self._session
        pkcs11 = library_module()
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
            raise HsmRefused(f"pkcs11 seal: cannot open a session on token {token.label!r}: {ckr_name(exc)}") from None
        self._session = session
        self._keys.clear()
        return session

    def _log_in(self, token: Any) -> None:
        """Join this process's login to the token, logging in first when there is none."""
        self._login_key = process.join_login(self.settings.lib, token, self.settings.pin, id(self))

    def _logged_in(self) -> bool:
        return process.logged_in(self._login_key, id(self))

    def _forget_login(self) -> None:
        """The token's login looks lost (device reset, logged out): end it; the next session logs in again."""
        process.end_login(self._login_key)
        self._login_key = None

    def _shut(self) -> None:
        self._drop_session()
        process.leave_login(self._login_key, id(self))
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
        process.close_quietly(session)


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


def _describe(label: str, key_id: bytes) -> str:
    return f"labelled {label!r}" + (f" with id 0x{key_id.hex()}" if key_id else "")


def from_options(options: Mapping[str, str], environ: Mapping[str, str] | None = None) -> Pkcs11Seal:
    """Build the seal from a `seal "pkcs11"` block's options; nothing touches the HSM until first use."""
    return Pkcs11Seal(settings_from_options(options, environ))
