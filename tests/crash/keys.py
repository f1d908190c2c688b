"""What the harness knows of the store's keys, and the check that the right shares unseal and no others.

A rekey runs with `require_verification`: its new shares are known before the verification commits them. A kill
between the two leaves one of two sets current, never a mixture: `candidate` holds the set that may have
landed until a restart tells which. A seal migration keeps the shares (unseal shares become recovery shares and
back); `migrating_to` names the seal a migration that may have landed goes to.
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

KEEPER_START_SECONDS = 60.0


class CrashCheckFailed(AssertionError):
    pass


@dataclass
class Keys:
    shares: list[str]
    threshold: int
    root_token: str
    seal: str = "shamir"  # or "static"
    candidate: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)
    migrating_to: str = ""
    wrong_refused: int = 0

    def commit_rekey(self) -> None:
        self.retired += self.shares
        self.shares, self.candidate = self.candidate, []

    def finish_migration(self) -> None:
        self.seal, self.migrating_to = self.migrating_to, ""


def fail(what: str, answer: httpx.Response | None = None) -> CrashCheckFailed:
    detail = f" ({answer.status_code} {answer.text[:300]})" if answer is not None else ""
    return CrashCheckFailed(what + detail)


def put_unseal(http: httpx.Client, body: dict[str, Any]) -> httpx.Response:
    """A worker that started before its keeper answers 503 "… try again" until the keeper is up: as a client would,
    try again (within a deadline)."""
    deadline = time.monotonic() + KEEPER_START_SECONDS
    while True:
        answer = http.put("/v1/sys/unseal", json=body)
        if answer.status_code != 503 or "try again" not in answer.text or time.monotonic() > deadline:
            return answer
        time.sleep(0.05)


def refuse_wrong_shares(http: httpx.Client, keys: Keys, *, migrate: bool = False) -> None:
    """A random share and every retired share: each refused (400), the store still sealed, nothing counted."""
    extra = {"migrate": True} if migrate else {}
    for share in [os.urandom(33).hex(), *random.sample(keys.retired, min(2, len(keys.retired)))]:
        answer = put_unseal(http, {"key": share, **extra})
        if answer.status_code != 400 or "not one of the current" not in answer.text:
            raise fail("a wrong unseal share was not refused", answer)
        keys.wrong_refused += 1
    status = http.get("/v1/sys/seal-status").json()
    if not status["sealed"] or status["progress"] != 0:
        raise fail(f"after wrong shares the seal status is {status}")


def unseal_with_shares(http: httpx.Client, keys: Keys, *, migrate: bool = False) -> None:
    """Settle a rekey the kill interrupted (which set is current?), then unseal with `threshold` random shares."""
    extra = {"migrate": True} if migrate else {}
    refuse_wrong_shares(http, keys, migrate=migrate)
    if keys.candidate:
        probe = put_unseal(http, {"key": keys.candidate[0], **extra})
        if probe.status_code == 200:
            keys.commit_rekey()
            reset = put_unseal(http, {"reset": True})
            if reset.status_code != 200:
                raise fail("unseal reset failed", reset)
        elif probe.status_code == 400 and "not one of the current" in probe.text:
            keys.candidate = []
        else:
            raise fail("probing the new shares of an interrupted rekey", probe)
    answers = [put_unseal(http, {"key": share, **extra}) for share in random.sample(keys.shares, keys.threshold)]
    for answer in answers:
        if answer.status_code != 200:
            raise fail("a current unseal share was refused", answer)
    if answers[-1].json()["sealed"]:
        raise fail("still sealed after the threshold of current shares", answers[-1])
