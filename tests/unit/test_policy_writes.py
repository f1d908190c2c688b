"""Hostile policy writes: a policy's size is capped, and its parse holds up neither the event loop nor a seal."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import httpx
import pytest

from strongroom.core.builtin.system import policies as policy_routes
from strongroom.core.policy import MAX_POLICY_BYTES, Policy, parse_policy
from strongroom.core.policy import store as policy_store
from tests.in_process import UnsealedCore

RULE = 'path "secret/*" {\n  capabilities = ["read"]\n}\n'


def policy_of_size(size: int) -> str:
    """A valid policy of exactly `size` bytes: one rule and a comment that fills the rest."""
    return RULE + "#" + "x" * (size - len(RULE) - 2) + "\n"


@pytest.mark.anyio
async def test_a_policy_over_one_mebibyte_is_refused_and_one_at_the_limit_is_kept(
    unsealed_core: UnsealedCore, api: httpx.AsyncClient
) -> None:
    headers = {"X-Vault-Token": unsealed_core.root_token}
    too_large = policy_of_size(MAX_POLICY_BYTES + 1)
    answer = await api.put("/v1/sys/policies/acl/huge", headers=headers, json={"policy": too_large})
    assert answer.status_code == 400
    assert answer.json() == {
        "errors": [f"policy too large: {MAX_POLICY_BYTES + 1} bytes, the limit is {MAX_POLICY_BYTES} bytes (1 MiB)"]
    }
    assert (await api.get("/v1/sys/policies/acl/huge", headers=headers)).status_code == 404
    legacy = await api.put("/v1/sys/policy/huge", headers=headers, json={"rules": too_large})
    assert legacy.status_code == 400

    at_limit = policy_of_size(MAX_POLICY_BYTES)
    assert (await api.put("/v1/sys/policies/acl/large", headers=headers, json={"policy": at_limit})).status_code == 204
    read = await api.get("/v1/sys/policies/acl/large", headers=headers)
    assert read.json()["data"]["policy"] == at_limit


@pytest.mark.anyio
async def test_a_seal_goes_ahead_while_a_policy_is_being_parsed(
    unsealed_core: UnsealedCore, api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    started, release = threading.Event(), threading.Event()
    parsing_threads: list[threading.Thread] = []

    def slow_parse(name: str, text: str, **options: Any) -> Policy:
        parsing_threads.append(threading.current_thread())
        started.set()
        release.wait(timeout=5)  # the test releases it; the timeout only keeps a broken build from hanging
        return parse_policy(name, text, **options)

    for module in (policy_routes, policy_store):
        monkeypatch.setattr(module, "parse_policy", slow_parse, raising=False)
    headers = {"X-Vault-Token": unsealed_core.root_token}

    write = asyncio.ensure_future(api.put("/v1/sys/policies/acl/slow", headers=headers, json={"policy": RULE}))
    deadline = time.monotonic() + 10
    while not started.is_set() and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert started.is_set()

    sealed = await api.put("/v1/sys/seal", headers=headers)
    assert sealed.status_code == 204 and unsealed_core.core.sealed
    assert not write.done()
    assert parsing_threads != [threading.main_thread()]

    release.set()
    answer = await write
    assert answer.status_code == 503
    assert answer.json() == {"errors": ["Vault is sealed"]}
