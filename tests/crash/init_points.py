"""Kill -9 during `sys/init` on empty storage. Afterwards the store is either still uninitialised, or initialised
and sealed; when the init answer arrived its shares unseal it and its root token works. When the kill took the
answer with it, the store is initialised with shares nobody has (as with Vault): it must still start, sealed,
and refuse a wrong share."""

from __future__ import annotations

import os
import random
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from tests.crash.harness import Figures
from tests.crash.keys import Keys, fail, put_unseal, unseal_with_shares
from tests.crash.launcher import Launcher
from tests.crash.operations import expect


def initialise(http: httpx.Client, answers: list[dict[str, Any]], durations: list[float]) -> None:
    began = time.monotonic()
    try:
        body = {"secret_shares": 3, "secret_threshold": 2}
        answers.append(expect(http.put("/v1/sys/init", json=body), 200))
        durations.append(time.monotonic() - began)
    except httpx.HTTPError:
        pass  # the kill


def init_kills(launcher: Launcher, directory: Path, kills: int, figures: Figures) -> None:
    server = launcher.server(directory, extra="workers = 1\n")
    durations: list[float] = []
    outcomes: dict[str, int] = {"not initialised": 0, "initialised, answer received": 0, "initialised, answer lost": 0}
    with httpx.Client(base_url=server.address, timeout=30, trust_env=False) as http:
        for _ in range(kills):
            for path in directory.glob("strongroom.db*"):
                path.unlink()
            server.start()
            answers: list[dict[str, Any]] = []
            thread = threading.Thread(target=initialise, args=(http, answers, durations), daemon=True)
            thread.start()
            recent = sorted(durations[-9:])
            thread.join(timeout=random.uniform(0, 1.2 * recent[len(recent) // 2] if recent else 0.3))
            figures.mid_operation["init"] += thread.is_alive()
            server.kill()
            thread.join(timeout=30)
            figures.kills["init"] += 1
            server.start()
            status = expect(http.get("/v1/sys/seal-status"), 200)
            if answers:
                keys = Keys(shares=answers[0]["keys"], threshold=2, root_token=answers[0]["root_token"])
                if not status["initialized"]:
                    raise fail("sys/init answered, and the store is not initialised after a restart")
                unseal_with_shares(http, keys)
                figures.wrong_shares_refused += keys.wrong_refused
                lookup = http.get("/v1/auth/token/lookup-self", headers={"X-Vault-Token": keys.root_token})
                expect(lookup, 200)
                outcomes["initialised, answer received"] += 1
            elif status["initialized"]:
                if not status["sealed"]:
                    raise fail(f"initialised by an init that never answered, and unsealed: {status}")
                answer = put_unseal(http, {"key": os.urandom(33).hex()})
                if answer.status_code != 400:
                    raise fail("a wrong share was not refused after an interrupted init", answer)
                figures.wrong_shares_refused += 1
                outcomes["initialised, answer lost"] += 1
            else:
                outcomes["not initialised"] += 1
            server.kill()
    figures.notes.append("init outcomes: " + ", ".join(f"{name} {n}" for name, n in outcomes.items()))
