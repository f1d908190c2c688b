"""What the pkcs11 seals of one process share: the thread every PKCS#11 call runs on, and one login per token.

python-pkcs11 is synchronous and a PKCS#11 module is initialised without OS locking, so every call
into it runs on one dedicated thread shared by all seals of the process (`on_hsm_thread`).

A PKCS#11 login belongs to the process, not to a session, and closing the session that logged in
logs the whole process out. So the seals of a process share one login per token, held by a session
of its own that closes when the last seal using the token closes (see _Login); a second seal with a
different PIN for the same token is refused, since the token would not be asked to check it.
Everything below but `on_hsm_thread` runs on the HSM thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hmac
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from strongroom.seals.pkcs11.errors import HsmRefused, PinRefused, ckr_name

T = TypeVar("T")

LoginKey = tuple[str, int]  # (module path, slot id)

# One thread for every call into any PKCS#11 module of this process.
_executor: concurrent.futures.ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _hsm_thread() -> concurrent.futures.ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="strongroom-pkcs11")
        return _executor


async def on_hsm_thread(function: Callable[[], T]) -> T:
    return await asyncio.get_running_loop().run_in_executor(_hsm_thread(), function)


def library_module() -> Any:
    """python-pkcs11, imported on first use: a server without a pkcs11 seal never needs it."""
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


_logins: dict[LoginKey, _Login] = {}


def join_login(lib: str, token: Any, pin: str, user: int) -> LoginKey:
    """Join this process's login to the token as `user` (a seal's id), logging in first when there is none."""
    key = (lib, token.slot.slot_id)
    login = _logins.get(key)
    if login is not None and login.anchor is not None and not _alive(login.anchor):
        # The session holding the login has gone (device reset, token reinserted): log in again.
        del _logins[key]
        close_quietly(login.anchor)
        login = None
    if login is not None:
        if not hmac.compare_digest(login.pin.encode(), pin.encode()):
            raise HsmRefused(
                f"pkcs11 seal: this process is already logged in to token {token.label!r} with another PIN, "
                "so the HSM cannot check this seal's PIN: a token has one user PIN, configure the same one"
            )
        login.users.add(user)
        return key
    _logins[key] = _Login(_log_in(token, pin), pin, {user})
    return key


def _log_in(token: Any, pin: str) -> Any:
    """A session logged in to the token; None when something else in this process logged in already."""
    pkcs11 = library_module()
    label = token.label
    try:
        return token.open(user_pin=pin)
    except pkcs11.UserAlreadyLoggedIn:
        # Logged in by something else in this process: the login is shared, the PIN cannot be checked.
        return None
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
        raise PinRefused(f"pkcs11 seal: token {label!r} has no user PIN set (CKR_USER_PIN_NOT_INITIALIZED)") from None
    except pkcs11.PKCS11Error as exc:
        raise HsmRefused(f"pkcs11 seal: cannot log in to token {label!r}: {ckr_name(exc)}") from None


def logged_in(key: LoginKey | None, user: int) -> bool:
    login = _logins.get(key) if key else None
    return login is not None and user in login.users


def end_login(key: LoginKey | None) -> None:
    """The token's login looks lost (device reset, logged out): end it; the next session logs in again."""
    login = _logins.pop(key, None) if key else None
    if login is not None:
        close_quietly(login.anchor)


def leave_login(key: LoginKey | None, user: int) -> None:
    """`user` no longer uses the login; the last one to leave ends it."""
    login = _logins.get(key) if key else None
    if key is not None and login is not None:
        login.users.discard(user)
        if not login.users:
            # Closing the session that logged in logs the process out of the token.
            del _logins[key]
            close_quietly(login.anchor)


def login_lost_errors(pkcs11: Any) -> tuple[type[BaseException], ...]:
    return (
        pkcs11.UserNotLoggedIn,
        pkcs11.SessionHandleInvalid,
        pkcs11.SessionClosed,
        pkcs11.DeviceRemoved,
        pkcs11.DeviceError,
        pkcs11.TokenNotPresent,
        pkcs11.TokenNotRecognised,
    )


def _alive(session: Any) -> bool:
    """Whether the session still works: a search every module supports, for a label nobody uses."""
    from pkcs11 import Attribute, ObjectClass

    try:
        list(session.get_objects({Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.LABEL: "strongroom-probe\0"}))
    except Exception:  # noqa: BLE001 - whatever the reason, this session cannot be used
        return False
    return True


def close_quietly(session: Any) -> None:
    if session is None:
        return
    with contextlib.suppress(Exception):  # a dead session may not close cleanly; it is gone either way
        session.close()
