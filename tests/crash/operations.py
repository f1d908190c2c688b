"""The operations a kill interrupts. Each runs in a thread of its own while the KV writers run, until it is done
or the server dies under it; what the server acknowledged is recorded the moment its answer arrives.

`prepare` (not interrupted) brings the store to where the operation starts: a seal migration needs a restart
with the new seal block first.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.crash.keys import Keys, fail, put_unseal
from tests.crash.launcher import Server, reconfigure
from tests.integration.autoseal import static_block


class UnexpectedAnswer(AssertionError):
    """The server answered, and not as it should: a finding, whatever the kill did."""


@dataclass
class Store:
    """The server under test and what it acknowledged besides KV writes."""

    server: Server
    keys: Keys
    key_file: Path
    workers: int
    tokens: dict[str, bool] = field(default_factory=dict)
    unchecked_tokens: list[str] = field(default_factory=list)
    keyring_term: int = 1
    lock: threading.Lock = field(default_factory=threading.Lock)
    http: httpx.Client | None = None

    def client(self) -> httpx.Client:
        """The harness's own client (one thread at a time uses it), kept across kills."""
        if self.http is None:
            headers = {"X-Vault-Token": self.keys.root_token}
            self.http = httpx.Client(base_url=self.server.address, headers=headers, timeout=10, trust_env=False)
        return self.http

    def seal_block(self) -> str:
        target = self.keys.migrating_to or self.keys.seal
        if target == "static":
            return static_block(self.key_file)
        if self.keys.migrating_to == "shamir":
            return static_block(self.key_file, disabled=True)
        return ""

    def start(self) -> None:
        reconfigure(self.server, extra=f"workers = {self.workers}\n" + self.seal_block())
        self.server.start()


def expect(answer: httpx.Response, *codes: int) -> dict[str, Any]:
    if answer.status_code not in codes:
        raise UnexpectedAnswer(
            f"{answer.request.method} {answer.request.url.path}: {answer.status_code} {answer.text[:300]}"
        )
    return answer.json() if answer.content else {}


@dataclass
class Operation:
    name: str
    run: Callable[[Store, threading.Event], None]
    #: the kill comes uniformly within this many seconds of the start; finite operations adjust it to their duration
    window: float
    finite: bool = False
    applies: Callable[[Store], bool] = lambda store: True
    prepare: Callable[[Store], None] = lambda store: None
    durations: list[float] = field(default_factory=list)

    def kill_delay(self) -> float:
        if self.finite and self.durations:
            recent = sorted(self.durations[-9:])
            return random.uniform(0, 1.2 * recent[len(recent) // 2])
        return random.uniform(0, self.window)


def kv_writes(store: Store, stop: threading.Event) -> None:
    stop.wait()  # the writers beside every operation are the whole work


def token_creation(store: Store, stop: threading.Event) -> None:
    http = store.client()
    while not stop.is_set():
        body = {"policies": ["default"], "ttl": "1h", "meta": {"crash": "1"}}
        token = expect(http.post("/v1/auth/token/create", json=body), 200)["auth"]["client_token"]
        with store.lock:
            store.tokens[token] = True
            store.unchecked_tokens.append(token)


def rekey(store: Store, stop: threading.Event) -> None:
    """sys/rotate/root/init → update × threshold → (new shares known) → verify × new threshold: committed."""
    keys = store.keys
    http = store.client()
    expect(http.delete("/v1/sys/rotate/root/init"), 200, 204)
    body = {"secret_shares": 3, "secret_threshold": 2, "require_verification": True}
    nonce = expect(http.put("/v1/sys/rotate/root/init", json=body), 200)["data"]["nonce"]
    answer: dict[str, Any] = {}
    for share in random.sample(keys.shares, keys.threshold):
        answer = expect(http.put("/v1/sys/rotate/root/update", json={"key": share, "nonce": nonce}), 200)["data"]
    new, verification = answer["keys"], answer["verification_nonce"]
    keys.candidate = list(new)
    for share in random.sample(new, 2):
        body = {"key": share, "nonce": verification}
        answer = expect(http.put("/v1/sys/rotate/root/verify", json=body), 200)["data"]
    if not answer.get("complete"):
        raise UnexpectedAnswer(f"rekey verification did not complete: {answer}")
    keys.commit_rekey()


def root_key_rotation(store: Store, stop: threading.Event) -> None:
    http = store.client()
    while not stop.is_set():
        expect(http.put("/v1/sys/rotate/root"), 200, 204)


def keyring_rotation(store: Store, stop: threading.Event) -> None:
    http = store.client()
    while not stop.is_set():
        expect(http.put("/v1/sys/rotate/keyring"), 200, 204)
        term = int(expect(http.get("/v1/sys/key-status"), 200)["term"])
        store.keyring_term = max(store.keyring_term, term)


def prepare_migration(store: Store) -> None:
    store.keys.migrating_to = "static" if store.keys.seal == "shamir" else "shamir"
    store.server.kill()
    store.start()
    http = store.client()
    status = expect(http.get("/v1/sys/seal-status"), 200)
    if not (status["sealed"] and status["migration"]):
        raise fail(f"no seal migration pending after the restart with the new seal block: {status}")


def seal_migration(store: Store, stop: threading.Event) -> None:
    keys = store.keys
    http = store.client()
    answer: dict[str, Any] = {}
    for share in random.sample(keys.shares, keys.threshold):
        answer = expect(put_unseal(http, {"key": share, "migrate": True}), 200)
    if answer["sealed"]:
        raise UnexpectedAnswer(f"still sealed after the migration's threshold: {answer}")
    keys.finish_migration()


OPERATIONS = [
    Operation("kv writes", kv_writes, window=0.4),
    Operation("token creation", token_creation, window=0.4),
    Operation("rekey", rekey, window=0.2, finite=True, applies=lambda s: s.keys.seal == "shamir"),
    Operation("root-key rotation", root_key_rotation, window=0.4),
    Operation("keyring rotation", keyring_rotation, window=0.4),
    Operation("seal migration", seal_migration, window=0.1, finite=True, prepare=prepare_migration),
]
