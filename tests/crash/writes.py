"""KV v2 writers that run beside every operation, and the record of what the server acknowledged.

Each writer thread alternates a write to a path never used before (`crash/<cycle>-<writer>/<n>`, a random
value) and an update of its own hot path (`hot/<writer>`, a counter). A write counts once its 200 has arrived;
one still in flight at the kill may or may not have landed, so for the hot path any counter from the last
acknowledged one to the last sent is right, and nothing older.
"""

from __future__ import annotations

import asyncio
import os
import threading
from dataclasses import dataclass, field

import httpx

WRITERS = 3


@dataclass
class HotPath:
    acknowledged: int = 0
    sent: int = 0


@dataclass
class Acknowledged:
    """Every acknowledged write, and those not read back since the last kill."""

    values: dict[str, str] = field(default_factory=dict)
    unchecked: list[str] = field(default_factory=list)
    hot: dict[str, HotPath] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, path: str, value: str) -> None:
        with self.lock:
            self.values[path] = value
            self.unchecked.append(path)

    def take_unchecked(self) -> list[str]:
        with self.lock:
            paths, self.unchecked = self.unchecked, []
        return paths


class Writers:
    """One thread per client writing until `stop()`; they tolerate the kill (requests that fail are not counted)."""

    def __init__(self, clients: list[httpx.Client], acknowledged: Acknowledged, cycle: int) -> None:
        self.clients, self.acknowledged, self.cycle = clients, acknowledged, cycle
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self.write, args=(i,), daemon=True) for i in range(len(clients))]

    def __enter__(self) -> Writers:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=30)

    def write(self, writer: int) -> None:
        hot = self.acknowledged.hot.setdefault(f"hot/{writer}", HotPath())
        http = self.clients[writer]
        n = 0
        while not self.stopping.is_set():
            n += 1
            try:
                if n % 2:
                    path, value = f"crash/{self.cycle}-{writer}/{n}", os.urandom(8).hex()
                    if http.post(f"/v1/secret/data/{path}", json={"data": {"value": value}}).status_code == 200:
                        self.acknowledged.record(path, value)
                else:
                    counter = hot.sent = hot.sent + 1
                    answer = http.post(f"/v1/secret/data/hot/{writer}", json={"data": {"value": str(counter)}})
                    if answer.status_code == 200:
                        hot.acknowledged = counter
            except httpx.HTTPError:
                self.stopping.wait(0.002)


def writer_clients(address: str, token: str) -> list[httpx.Client]:
    """One client per writer, kept across kills (a client costs a TLS context to make, even for http://)."""
    headers = {"X-Vault-Token": token}
    return [httpx.Client(base_url=address, headers=headers, timeout=10, trust_env=False) for _ in range(WRITERS)]


def lost_writes(address: str, token: str, acknowledged: Acknowledged, paths: list[str]) -> list[str]:
    """What of `paths` (and the hot paths) does not read back as acknowledged: an empty list when nothing was lost."""
    return asyncio.run(_lost(address, token, acknowledged, paths))


async def _lost(address: str, token: str, acknowledged: Acknowledged, paths: list[str]) -> list[str]:
    lost: list[str] = []
    limit = asyncio.Semaphore(8)
    async with httpx.AsyncClient(
        base_url=address, headers={"X-Vault-Token": token}, timeout=30, trust_env=False
    ) as http:

        async def read(path: str) -> str | None:
            async with limit:
                answer = await http.get(f"/v1/secret/data/{path}")
            if answer.status_code != 200:
                return None
            return str(answer.json()["data"]["data"]["value"])

        async def check(path: str) -> None:
            value = await read(path)
            if value != acknowledged.values[path]:
                lost.append(f"{path}: read {value!r}, acknowledged {acknowledged.values[path]!r}")

        async def check_hot(path: str, hot: HotPath) -> None:
            value = await read(path)
            if hot.acknowledged == 0 and value is None:
                return
            if value is None or not hot.acknowledged <= int(value) <= hot.sent:
                lost.append(f"{path}: read {value!r}, acknowledged {hot.acknowledged}, last sent {hot.sent}")

        await asyncio.gather(
            *(check(path) for path in paths), *(check_hot(p, h) for p, h in list(acknowledged.hot.items()))
        )
    return lost
