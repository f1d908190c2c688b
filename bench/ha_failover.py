"""Failover: kill -9 the active node while clients write; how long until writes succeed again.

Two clients, as applications meet a failover:
- a `SteadyWriter` thread writes one new secret after another through a standby that survives
  (a pause of `RETRY_PAUSE` after a failure, none after a success): kill → the answer to the first
  write sent after the kill that succeeded;
- the main thread plays a load balancer: it asks the survivors' sys/health until one answers 200
  (kill → that answer), then writes to that node until a write succeeds (kill → that answer).

A standby that lets no write through within `window` seconds is reported as such (OpenBao's
standbys sometimes keep answering "active cluster node not found" long after a new active took
over); it is then killed and started again, so that the next repeat begins with three working
nodes. The killed active node is started again and unsealed in every repeat.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx

from bench.ha_cluster import Cluster
from bench.ha_nodes import ACTIVE, HANode
from bench.servers import BenchError

RETRY_PAUSE = 0.01
WRITE_TIMEOUT = 10.0
WRITES_BEFORE_KILL = 3


@dataclass
class Attempt:
    sent: float
    answered: float
    ok: bool
    outcome: str


@dataclass
class SteadyWriter:
    """Writes secret/data/<prefix>/<n> through one node until told to stop or, once `killed_at` is set, until
    a write sent after it succeeds."""

    node: HANode
    prefix: str
    attempts: list[Attempt] = field(default_factory=list)
    killed_at: float | None = None
    stopping: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, name=f"writer-{self.node.name}", daemon=True)
        self.thread.start()

    def wait(self, timeout: float) -> None:
        if self.thread is not None:
            self.thread.join(timeout=max(timeout, 0.1))

    def stop(self) -> None:
        self.stopping.set()
        self.wait(WRITE_TIMEOUT + 5)

    def successes(self) -> int:
        return sum(attempt.ok for attempt in self.attempts)

    def first_success_after_kill(self) -> Attempt | None:
        if self.killed_at is None:
            return None
        return next((a for a in self.attempts if a.ok and a.sent >= self.killed_at), None)

    def failures_after_kill(self) -> Counter[str]:
        killed_at = self.killed_at if self.killed_at is not None else float("inf")
        return Counter(a.outcome for a in self.attempts if not a.ok and a.sent >= killed_at)

    def _run(self) -> None:
        headers = {"X-Vault-Token": self.node.token}
        with httpx.Client(
            base_url=self.node.address, headers=headers, timeout=WRITE_TIMEOUT, trust_env=False
        ) as client:
            number = 0
            while not self.stopping.is_set():
                number += 1
                sent = time.perf_counter()
                ok, outcome = write(client, f"/v1/secret/data/{self.prefix}/{number}")
                self.attempts.append(Attempt(sent, time.perf_counter(), ok, outcome))
                if ok and self.killed_at is not None and sent >= self.killed_at:
                    return
                if not ok:
                    time.sleep(RETRY_PAUSE)


def write(client: httpx.Client, path: str) -> tuple[bool, str]:
    """POST one secret: whether it was written, and what came back (status and first error, or the failure)."""
    try:
        response = client.post(path, json={"data": {"value": path}})
    except httpx.HTTPError as error:
        return False, type(error).__name__
    if response.status_code == 200:
        return True, "200"
    try:
        errors = response.json().get("errors") or []
    except ValueError:
        errors = []
    return False, f"{response.status_code} {errors[0] if errors else response.text.strip()[:80]}".strip()


def measure_failover(cluster: Cluster, repeat: int, window: float) -> dict:
    """One failover: kill the active node, time both clients, then bring the cluster back to three nodes."""
    stuck_before_kill: list[str] = []
    while True:
        active = cluster.wait_for_roles()
        survivors = cluster.standbys(active)
        via = survivors[repeat % len(survivors)]
        writer = SteadyWriter(via, f"failover/{repeat}/via/{len(stuck_before_kill)}")
        writer.start()
        try:
            _wait_for_writes(writer, via)
            break
        except BenchError as stuck:
            writer.stop()
            if stuck_before_kill:
                raise
            # a standby that never learned the active node (OpenBao's "active cluster node not found" after an
            # earlier failover): counted, started again, and the repeat begins afresh
            print(f"[{via.title}] {stuck}: restarting it before the kill", flush=True)
            stuck_before_kill.append(via.name)
            via.kill()
            via.restart()
            via.unseal_with(cluster.key)
    try:
        killed_at = active.kill()
        writer.killed_at = killed_at
        found = _follow_health(cluster, survivors, killed_at, window, f"failover/{repeat}/found")
        writer.wait(killed_at + window - time.perf_counter())
    finally:
        writer.stop()
    first = writer.first_success_after_kill()
    failures = writer.failures_after_kill()
    result = {
        "killed": active.name,
        "writes_via": via.name,
        "kill_to_write_s": None if first is None else first.answered - killed_at,
        "new_active": found.node.name,
        "kill_to_active_s": found.healthy_at - killed_at,
        "kill_to_active_write_s": found.written_at - killed_at,
        "failed_writes": sum(failures.values()),
        "failures": dict(failures),
        "stuck_before_kill": stuck_before_kill,
    }
    began = time.perf_counter()
    active.restart()
    active.unseal_with(cluster.key)
    if first is None:  # the standby never let a write through: start it again for the next repeat
        result["restarted_stuck_standby"] = via.name
        via.kill()
        via.restart()
        via.unseal_with(cluster.key)
    cluster.wait_for_roles()
    result["revive_s"] = time.perf_counter() - began
    return result


def _wait_for_writes(writer: SteadyWriter, via: HANode, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while writer.successes() < WRITES_BEFORE_KILL:
        if time.monotonic() > deadline:
            failures = Counter(a.outcome for a in writer.attempts if not a.ok)
            raise BenchError(f"{via.title}: writes through it fail before any kill: {summary(failures)}")
        time.sleep(RETRY_PAUSE)


@dataclass(frozen=True)
class NewActive:
    node: HANode
    healthy_at: float  # its first sys/health 200
    written_at: float  # the answer to the first write to it that succeeded


def _follow_health(
    cluster: Cluster, survivors: list[HANode], killed_at: float, window: float, prefix: str
) -> NewActive:
    """A client that writes where sys/health says the active node is: ask the survivors until one answers 200,
    write to it, and start again while its writes fail."""
    healthy_at: float | None = None
    number = 0
    while time.perf_counter() - killed_at < window:
        for node in survivors:
            if node.health(timeout=1.0) != ACTIVE:
                continue
            healthy_at = healthy_at or time.perf_counter()
            number += 1
            ok, _ = write(node.http, f"/v1/secret/data/{prefix}/{number}")
            if ok:
                return NewActive(node, healthy_at, time.perf_counter())
        time.sleep(RETRY_PAUSE)
    codes = {node.name: node.health() for node in survivors}
    raise BenchError(
        f"{cluster.variant.title}: no surviving node took a write as the active node within {window:g}s of "
        f"the kill: {Cluster.describe(codes)}"
    )


def summary(failures: Counter[str]) -> str:
    return "; ".join(f"{count}× {outcome}" for outcome, count in failures.most_common(3)) or "none"
