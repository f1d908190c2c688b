"""Rate limits on the unauthenticated endpoints (issue 13, item 8): 429 with Retry-After past the burst, per client
address and family of endpoints; on by default, with limits the test suite's clients never reach."""

from __future__ import annotations

import httpx
import pytest

from strongroom.config import parse_config
from strongroom.config.errors import ConfigError
from strongroom.config.server_config import DEFAULT_UNAUTHENTICATED_BURST, DEFAULT_UNAUTHENTICATED_RATE
from strongroom.http.app import StrongroomApp
from strongroom.http.rate_limit import RateLimitedApp, RateLimiter, endpoint_family
from strongroom.http.types import Scope
from tests.in_process import UnsealedCore

pytestmark = pytest.mark.anyio


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_unauthenticated_endpoints_are_the_limited_families() -> None:
    assert endpoint_family("/v1/sys/unseal") == "unseal"
    assert endpoint_family("/secrets/v1/unseal/default") == "unseal"
    assert endpoint_family("/v1/auth/userpass/login/alice") == "login"
    assert endpoint_family("/v1/auth/team/approle/login") == "login"
    assert endpoint_family("/v1/sys/wrapping/unwrap") == "wrapping"
    assert endpoint_family("/v1/sys/wrapping/lookup") == "wrapping"
    for path in ("/v1/secret/data/login", "/v1/sys/seal-status", "/v1/auth/token/lookup-self", "/v1/sys/unseal-x"):
        assert endpoint_family(path) is None


def test_a_bucket_lets_the_burst_through_then_the_rate() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=2, burst=3, clock=clock)
    assert [limiter.wait("10.0.0.1", "login") for _ in range(3)] == [0, 0, 0]
    assert limiter.wait("10.0.0.1", "login") == pytest.approx(0.5)
    assert limiter.wait("10.0.0.2", "login") == 0  # another address
    assert limiter.wait("10.0.0.1", "unseal") == 0  # another family
    clock.now += 0.5
    assert limiter.wait("10.0.0.1", "login") == 0
    assert limiter.wait("10.0.0.1", "login") > 0


async def test_past_the_burst_the_answer_is_429_with_retry_after(unsealed_core: UnsealedCore) -> None:
    app = RateLimitedApp(StrongroomApp(unsealed_core.core), rate=0.5, burst=2)
    transport = httpx.ASGITransport(app=app, client=("192.0.2.7", 4000))
    async with httpx.AsyncClient(transport=transport, base_url="http://strongroom") as api:
        for _ in range(2):
            answer = await api.post("/v1/auth/userpass/login/alice", json={"password": "x"})
            assert answer.status_code != 429
        refused = await api.post("/v1/auth/userpass/login/alice", json={"password": "x"})
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "2"
        assert "rate limit" in refused.json()["errors"][0]
        assert (await api.get("/v1/sys/seal-status")).status_code == 200  # not a limited endpoint
        assert (await api.put("/v1/sys/unseal", json={"reset": True})).status_code != 429  # another family


async def test_a_rate_of_zero_turns_the_limit_off(unsealed_core: UnsealedCore) -> None:
    app = RateLimitedApp(StrongroomApp(unsealed_core.core), rate=0, burst=1)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://strongroom") as api:
        for _ in range(5):
            assert (await api.post("/v1/sys/wrapping/lookup", json={"token": "x"})).status_code == 400


def test_the_limits_are_on_by_default_and_configurable_per_listener() -> None:
    base = 'storage "inmem" {}\n'
    default = parse_config(base + 'listener "tcp" { tls_disable = true }').listeners[0]
    assert (default.unauthenticated_rate_limit, default.unauthenticated_rate_burst) == (
        DEFAULT_UNAUTHENTICATED_RATE,
        DEFAULT_UNAUTHENTICATED_BURST,
    )
    assert DEFAULT_UNAUTHENTICATED_RATE > 0
    tuned = parse_config(
        base + 'listener "tcp" { tls_disable = true  unauthenticated_rate_limit = 2.5  unauthenticated_rate_burst = 9 }'
    ).listeners[0]
    assert (tuned.unauthenticated_rate_limit, tuned.unauthenticated_rate_burst) == (2.5, 9)
    with pytest.raises(ConfigError, match="unauthenticated_rate_limit"):
        parse_config(base + 'listener "tcp" { tls_disable = true  unauthenticated_rate_limit = "fast" }')
    with pytest.raises(ConfigError, match="unauthenticated_rate_burst"):
        parse_config(base + 'listener "tcp" { tls_disable = true  unauthenticated_rate_burst = 0 }')


async def test_requests_another_node_forwarded_are_not_limited_again(unsealed_core: UnsealedCore) -> None:
    def signed(scope: Scope) -> bool:
        return any(name == b"x-signed" for name, _ in scope["headers"])

    app = RateLimitedApp(StrongroomApp(unsealed_core.core), rate=0.5, burst=1, exempt=signed)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://strongroom") as api:
        for _ in range(3):
            forwarded = await api.post("/v1/sys/wrapping/lookup", headers={"X-Signed": "1"}, json={"token": "x"})
            assert forwarded.status_code == 400
        assert (await api.post("/v1/sys/wrapping/lookup", json={"token": "x"})).status_code == 400
        assert (await api.post("/v1/sys/wrapping/lookup", json={"token": "x"})).status_code == 429
