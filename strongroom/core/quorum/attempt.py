"""What every quorum operation repeats: an attempt held in memory under a nonce, and current shares
entered one by one, each checked when it is entered (not at the threshold)."""

from __future__ import annotations

import abc
import asyncio
import hmac
import logging
import uuid
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from strongroom.core.quorum.targets import KeyTarget
from strongroom.core.tokens.store import TokenStore
from strongroom.crypto.aead import wipe
from strongroom.logical.errors import BadRequest
from strongroom.seals import shamir as shamir_seal
from strongroom.seals.shamir import ShareFormatError, ShareVerifier

log = logging.getLogger("strongroom.quorum")


@dataclass
class EnteredShares:
    """Copies of the shares entered for one step; a duplicate is recognised by its verifier digest."""

    shares: list[bytearray] = field(default_factory=list)
    digests: set[bytes] = field(default_factory=set)

    def __len__(self) -> int:
        return len(self.shares)

    def enter(self, share: bytearray, config: SharesConfig, *, operation: str, duplicate: str, wrong: str) -> None:
        """Keep a copy of `share` if it is new and one of `config`'s shares; else 400 with `duplicate` or `wrong`
        (a rejected share is logged, for an attack or a mis-pasting operator to show, never its bytes)."""
        try:
            shamir_seal.check_share_length(share, config.secret_shares)
        except ShareFormatError as error:
            log.warning(f"{operation} share rejected: wrong length", extra={"length": len(share)})
            raise BadRequest(str(error)) from None
        digest = config.verifier.digest(share)
        if digest in self.digests:
            raise BadRequest(duplicate)
        if not config.verifier.is_current(share):
            log.warning(f"{operation} share rejected: not one of the current shares")
            raise BadRequest(wrong)
        self.shares.append(bytearray(share))
        self.digests.add(digest)

    def combine(self) -> bytearray:
        return shamir_seal.combine_shares(self.shares)

    def wipe(self) -> None:
        for share in self.shares:
            wipe(share)
        self.shares.clear()
        self.digests.clear()


class SharesConfig(Protocol):
    """What a share is checked against: how many there are and their verifier."""

    @property
    def secret_shares(self) -> int: ...

    @property
    def verifier(self) -> ShareVerifier: ...


class Quorum(Protocol):
    """What an attempt asks of the `QuorumOperations` that hold it (which import the attempts)."""

    @property
    def lock(self) -> asyncio.Lock: ...

    @property
    def tokens(self) -> TokenStore: ...

    def check_ready(self) -> None: ...

    def target(self, name: str) -> KeyTarget: ...

    def authority_target(self) -> KeyTarget: ...


class Wipeable(Protocol):
    def wipe(self) -> None: ...


State = TypeVar("State", bound=Wipeable)


class QuorumAttempt(abc.ABC, Generic[State]):
    """One kind of quorum operation of one core: at most one attempt (`State`) at a time."""

    #: how the log names the operation
    name = ""

    def __init__(self, quorum: Quorum) -> None:
        self._quorum = quorum
        self._state: State | None = None

    @property
    @abc.abstractmethod
    def target(self) -> KeyTarget:
        """Whose shares this operation takes."""

    @property
    def in_progress(self) -> bool:
        return self._state is not None

    def _ready(self) -> KeyTarget:
        """The target whose shares this operation takes, once the store is initialized and unsealed."""
        self._quorum.check_ready()
        target = self.target
        target.ensure_supported()
        return target

    async def cancel(self) -> None:
        """Forget the attempt and every share entered: nothing was written."""
        target = self._ready()
        async with self._quorum.lock:
            if self._state is not None:
                self.discard()
                log.info(f"{self.name} cancelled", extra={"target": target.name})

    def discard(self) -> None:
        if self._state is not None:
            self._state.wipe()
            self._state = None


def share_of(key: str, nonce: str, *, key_missing: str, nonce_missing: str | None) -> bytearray:
    """The share a caller entered, decoded; 400 when it or the nonce is missing (a missing nonce is just a
    wrong one where `nonce_missing` is None)."""
    if not key:
        raise BadRequest(key_missing)
    if not nonce and nonce_missing:
        raise BadRequest(nonce_missing)
    try:
        return shamir_seal.decode_key(key)
    except ShareFormatError as error:
        raise BadRequest(str(error)) from None


def check_nonce(given: str, expected: str, message: str) -> None:
    """400 with `message` (which may name the expected nonce) unless `given` is `expected`."""
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise BadRequest(message.format(nonce=expected))


def wrong_share(noun: str, what: str, progress: int, threshold: int) -> str:
    return f"invalid key: this is not one of the current {noun} ({what} progress is kept: {progress}/{threshold})"


def new_nonce() -> str:
    return str(uuid.uuid4())
