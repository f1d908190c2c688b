"""The kill loop on one sqlite store: an operation and the KV writers run, kill -9 lands at a random moment,
the server restarts on the same directory, and everything acknowledged is checked before the next round."""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.crash.keys import CrashCheckFailed, Keys, fail, unseal_with_shares
from tests.crash.launcher import Launcher, StartFailed
from tests.crash.operations import OPERATIONS, Operation, Store, UnexpectedAnswer, expect
from tests.crash.writes import Acknowledged, Writers, lost_writes, writer_clients

SETTLE_SECONDS = 30.0


@dataclass
class Figures:
    """What a run did; `failures` lists what did not hold (empty when all did)."""

    kills: Counter[str] = field(default_factory=Counter)
    mid_operation: Counter[str] = field(default_factory=Counter)
    writes: int = 0
    tokens: int = 0
    rekeys: int = 0
    migrations: int = 0
    wrong_shares_refused: int = 0
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        total = sum(self.kills.values())
        out = [
            f"{total} kill -9 points in {self.seconds:.0f} s ({self.seconds / max(total, 1):.2f} s per kill, restart "
            "and check): "
            + ", ".join(f"{name} {n} ({self.mid_operation[name]} mid-operation)" for name, n in self.kills.items()),
            f"{self.writes} acknowledged KV writes read back, 0 lost" if not self.failures else "",
            f"{self.tokens} acknowledged tokens valid after restarts; {self.rekeys} rekeys and {self.migrations} "
            f"seal migrations settled; {self.wrong_shares_refused} wrong shares refused",
        ]
        return [line for line in out if line] + self.notes + [f"FAILED: {failure}" for failure in self.failures]


def settle(store: Store) -> None:
    """After a restart: finish what the kill interrupted, unseal, and check the seal is the one recorded."""
    keys, http = store.keys, store.client()
    status = expect(http.get("/v1/sys/seal-status"), 200)
    if keys.migrating_to:
        if status.get("migration"):
            unseal_with_shares(http, keys, migrate=True)
        keys.finish_migration()
        status = expect(http.get("/v1/sys/seal-status"), 200)
    if keys.seal == "shamir" and status["sealed"]:
        unseal_with_shares(http, keys)
    deadline = time.monotonic() + SETTLE_SECONDS
    while (status := expect(http.get("/v1/sys/seal-status"), 200))["sealed"]:
        if time.monotonic() > deadline:
            raise fail(f"still sealed {SETTLE_SECONDS:g} s after the restart: {status}")
        time.sleep(0.01)
    if status["type"] != keys.seal:
        raise fail(f"the seal is {status['type']}, the harness recorded {keys.seal}")
    term = int(expect(http.get("/v1/sys/key-status"), 200)["term"])
    if term < store.keyring_term:
        raise fail(f"keyring term {term} after the restart, {store.keyring_term} acknowledged")


def check_tokens(store: Store, tokens: list[str]) -> list[str]:
    lost, http = [], store.client()
    for token in tokens:
        answer = http.get("/v1/auth/token/lookup-self", headers={"X-Vault-Token": token})
        if answer.status_code != 200:
            lost.append(f"token …{token[-4:]}: {answer.status_code} {answer.text[:200]}")
    return lost


def check_everything(store: Store, acknowledged: Acknowledged, figures: Figures, paths: list[str]) -> None:
    lost = lost_writes(store.server.address, store.keys.root_token, acknowledged, paths)
    with store.lock:
        tokens, store.unchecked_tokens = store.unchecked_tokens, []
    lost += check_tokens(store, tokens)
    if lost:
        raise fail(f"{len(lost)} acknowledged writes lost or changed, e.g. {lost[:3]}")


def new_store(launcher: Launcher, directory: Path, workers: int) -> Store:
    server = launcher.server(directory, extra=f"workers = {workers}\n")
    server.start()
    with httpx.Client(base_url=server.address, timeout=30, trust_env=False) as http:
        init = expect(http.put("/v1/sys/init", json={"secret_shares": 3, "secret_threshold": 2}), 200)
        keys = Keys(shares=init["keys"], threshold=2, root_token=init["root_token"])
        unseal_with_shares(http, keys)
        headers = {"X-Vault-Token": keys.root_token}
        expect(
            http.post("/v1/sys/mounts/secret", headers=headers, json={"type": "kv", "options": {"version": "2"}}), 204
        )
    store = Store(server, keys, directory / "static-seal.key", workers)
    deadline = time.monotonic() + SETTLE_SECONDS
    while store.client().post("/v1/secret/data/first", json={"data": {"value": "1"}}).status_code != 200:
        if time.monotonic() > deadline:
            raise fail("the new KV v2 mount did not take a write")
        time.sleep(0.01)
    return store


def keeper_gone(error: UnexpectedAnswer) -> bool:
    return " 503 " in str(error) and "the keeper process is not answering" in str(error)


def one_kill(
    store: Store,
    operation: Operation,
    writers: list[httpx.Client],
    acknowledged: Acknowledged,
    figures: Figures,
    cycle: int,
) -> None:
    operation.prepare(store)
    stop = threading.Event()
    errors: list[BaseException] = []

    def work() -> None:
        began = time.monotonic()
        try:
            operation.run(store, stop)
            operation.durations.append(time.monotonic() - began)
        except httpx.HTTPError:
            pass  # the kill
        except UnexpectedAnswer as error:
            if not keeper_gone(error):  # a worker answering while its keeper is killed: the kill too
                errors.append(error)
        except AssertionError as error:
            errors.append(error)

    with Writers(writers, acknowledged, cycle):
        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        thread.join(timeout=operation.kill_delay())
        mid_operation = thread.is_alive()
        store.server.kill()
        stop.set()
        thread.join(timeout=30)
    if errors:
        raise errors[0]
    figures.kills[operation.name] += 1
    figures.mid_operation[operation.name] += mid_operation
    rekeying, migrating = bool(store.keys.candidate), bool(store.keys.migrating_to)
    store.start()
    settle(store)
    figures.rekeys += rekeying
    figures.migrations += migrating
    check_everything(store, acknowledged, figures, acknowledged.take_unchecked())


def next_operation(rotation: list[Operation], store: Store) -> Operation:
    """The next operation of the rotation that applies now. A rekey waits for a Shamir seal: while none applies, a
    new round of the others goes first (its seal migration brings Shamir back)."""
    while True:
        for index in range(len(rotation) - 1, -1, -1):
            if rotation[index].applies(store):
                return rotation.pop(index)
        others = [operation for operation in OPERATIONS if operation not in rotation]
        rotation[:0] = random.sample(others, len(others))


def kill_loop(
    launcher: Launcher,
    directory: Path,
    kills: int,
    *,
    workers: int = 1,
    seed: int | None = None,
    progress: bool = False,
) -> Figures:
    """`kills` rounds over one store in `directory`, the operations taken in a shuffled rotation."""
    seed = random.randrange(2**32) if seed is None else seed
    random.seed(seed)
    figures = Figures(notes=[f"seed {seed} (scripts/crash --seed {seed} repeats the choices)"])
    began = time.monotonic()
    store = new_store(launcher, directory, workers)
    acknowledged = Acknowledged()
    writers = writer_clients(store.server.address, store.keys.root_token)
    rotation: list[Operation] = []
    try:
        for cycle in range(kills):
            if not rotation:
                rotation = random.sample(OPERATIONS, len(OPERATIONS))
            operation = next_operation(rotation, store)
            one_kill(store, operation, writers, acknowledged, figures, cycle)
            if progress and (cycle + 1) % 50 == 0:
                print(f"crash: {cycle + 1} kills, {len(acknowledged.values)} writes checked", flush=True)
        check_everything(store, acknowledged, figures, list(acknowledged.values))
        figures.writes = len(acknowledged.values) + sum(hot.acknowledged for hot in acknowledged.hot.values())
        figures.tokens = len(store.tokens)
        check_tokens_all = check_tokens(store, list(store.tokens))
        if check_tokens_all:
            raise fail(f"tokens lost: {check_tokens_all[:3]}")
    except (CrashCheckFailed, AssertionError, StartFailed) as error:  # a store that does not start again fails too
        figures.failures.append(str(error))
    finally:
        figures.wrong_shares_refused = store.keys.wrong_refused
        store.server.stop()
        for client in [*writers, store.client()]:
            client.close()
        figures.seconds = time.monotonic() - began
    integrity = sqlite_integrity(directory / "strongroom.db")
    if integrity != "ok":
        figures.failures.append(f"sqlite integrity_check: {integrity}")
    return figures


def sqlite_integrity(path: Path) -> str:
    connection = sqlite3.connect(path)
    try:
        return ", ".join(row[0] for row in connection.execute("PRAGMA integrity_check"))
    finally:
        connection.close()
