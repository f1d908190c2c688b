"""A standby that redirects instead of forwarding (`disable_clustering = true`, or a client's
`X-Vault-No-Request-Forwarding`): what it answers 307, what it still serves itself, and where it sends the client.

In process: a real core over in-memory storage, told it is a standby of an active node at ACTIVE, behind the
same ForwardingApp and rules (`ToTheActive`) an HA node's listener uses.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from strongroom.cluster.forwarding import ForwardedAnswer, Forwarder, ForwardingApp, ToTheActive
from strongroom.cluster.ha.active_client import ForwardingRefused
from strongroom.cluster.ha.forgery_log import ForgeryLog
from strongroom.cluster.ha.forwarded import FORWARDING_REFUSED_HEADER, ForwardedRequests
from strongroom.cluster.ha.forwarding_key import ForwardingKey
from strongroom.cluster.ha.redirect import ActiveNodeRedirect, RedirectOnRequest, redirect_location
from strongroom.cluster.ha.signing import SIGNATURE_HEADERS, SignatureChecker
from strongroom.config import ConfigError, parse_config
from strongroom.core.core import Core
from strongroom.core.seal.state import Leadership
from strongroom.http.app import StrongroomApp
from strongroom.http.messages import send_errors
from strongroom.http.types import Receive, Scope, Send
from strongroom.reloading import Reloader
from tests.in_process import UnsealedCore, api_client, new_core, unseal

pytestmark = pytest.mark.anyio

ACTIVE = "https://active.example.com:8200"
STANDBY = Leadership(active=False, leader_address=ACTIVE)


class ForwardedHere:
    """The forwarding a standby does by default, recorded."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    async def forward(self, scope: Scope, body: bytes, listener_index: int) -> ForwardedAnswer:
        self.paths.append(scope["path"])
        return ForwardedAnswer(200, [(b"content-type", b"application/json")], b'{"forwarded":true}')


def standby_client(
    unsealed: UnsealedCore, forwarder: Forwarder, fresh_reads: Callable[[], Awaitable[None]] | None = None
) -> httpx.AsyncClient:
    app = ForwardingApp(
        StrongroomApp(unsealed.core),
        unsealed.core,
        forwarder,
        0,
        1024 * 1024,
        ToTheActive(),
        fresh_reads=fresh_reads,
    )
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://standby:8200",
        headers={"X-Vault-Token": unsealed.root_token},
    )


class OneNodeCluster:
    """The cluster membership of a node alone: sys/seal seals it (an HA node tells the others through storage)."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.sealed_everywhere = 0

    async def seal_everywhere(self) -> None:
        self.sealed_everywhere += 1
        await self.core.sealer.seal()

    async def step_down(self) -> None:
        raise AssertionError("a standby redirects sys/step-down")

    async def nodes(self) -> list[dict[str, Any]]:
        return []


@pytest.fixture
async def standby() -> AsyncIterator[UnsealedCore]:
    """An HA node, unsealed while active, holding a KV v2 secret; then a standby of the active node at ACTIVE."""
    core = await new_core(ha_enabled=True)
    core.seal_state.take_leadership(Leadership(active=True))
    unsealed = await unseal(core)
    async with api_client(core) as client:
        client.headers["X-Vault-Token"] = unsealed.root_token
        assert (await client.post("/v1/sys/mounts/secret", json={"type": "kv-v2"})).status_code == 204
        assert (await client.put("/v1/secret/data/app", json={"data": {"k": "v"}})).status_code == 200
    core.join_cluster(OneNodeCluster(core))
    core.seal_state.take_leadership(STANDBY)
    yield unsealed
    await core.stop()


@pytest.fixture
async def redirecting(standby: UnsealedCore) -> AsyncIterator[httpx.AsyncClient]:
    """A client of `standby` as it serves with `disable_clustering = true`."""
    async with standby_client(standby, ActiveNodeRedirect(standby.core.seal_state)) as client:
        yield client


def scope_of(raw_path: bytes, query: bytes) -> dict[str, Any]:
    return {"path": raw_path.decode(), "raw_path": raw_path, "query_string": query}


def test_the_location_is_the_active_nodes_api_addr_then_the_raw_path_and_query() -> None:
    assert (
        redirect_location(ACTIVE + "/", scope_of(b"/v1/secret/data/a%2Fb%20c", b"version=2&x=%26"))
        == b"https://active.example.com:8200/v1/secret/data/a%2Fb%20c?version=2&x=%26"
    )
    assert redirect_location("http://10.0.0.1:8200", scope_of(b"/v1/sys/step-down", b"")) == (
        b"http://10.0.0.1:8200/v1/sys/step-down"
    )
    # an api_addr with a path (behind a proxy) keeps it, as forwarding does
    assert redirect_location("https://lb.example.com/vault", scope_of(b"/v1/sys/rotate", b"")) == (
        b"https://lb.example.com/vault/v1/sys/rotate"
    )


async def test_what_would_be_forwarded_is_answered_307_to_the_active_node(redirecting: httpx.AsyncClient) -> None:
    for method, path, body in [
        ("PUT", "/v1/secret/data/app?cas=1", {"data": {"k": "w"}}),
        ("POST", "/v1/auth/token/create", {"policies": ["default"]}),
        ("DELETE", "/v1/secret/metadata/app", None),
        ("PUT", "/v1/sys/step-down", None),
        ("POST", "/v1/sys/rotate", None),
        ("PUT", "/v1/sys/policy/readers", {"policy": 'path "secret/*" { capabilities = ["read"] }'}),
    ]:
        answer = await redirecting.request(method, path, json=body)
        assert answer.status_code == 307, (method, path, answer.text)
        assert answer.headers["location"] == ACTIVE + path
        assert answer.content == b""
    # nothing was written here: the secret is as it was, and no policy appeared
    assert (await redirecting.get("/v1/secret/data/app")).json()["data"]["data"] == {"k": "v"}
    assert (await redirecting.get("/v1/sys/policy/readers")).status_code == 404


async def test_reads_and_the_nodes_own_state_are_served_by_the_standby_itself(
    redirecting: httpx.AsyncClient, standby: UnsealedCore
) -> None:
    read = await redirecting.get("/v1/secret/data/app")
    assert read.status_code == 200 and read.json()["data"]["data"] == {"k": "v"}
    assert (await redirecting.get("/v1/auth/token/lookup-self")).json()["data"]["policies"] == ["root"]
    assert (await redirecting.get("/v1/sys/health")).status_code == 429
    assert (await redirecting.get("/v1/sys/health?standbyok=true")).status_code == 200
    leader = (await redirecting.get("/v1/sys/leader")).json()
    assert leader["is_self"] is False and leader["leader_address"] == ACTIVE
    assert (await redirecting.get("/v1/sys/seal-status")).json()["sealed"] is False
    # the cluster seal is this node's to carry out (it tells the others through storage): not redirected
    assert (await redirecting.put("/v1/sys/seal")).status_code == 204
    cluster = standby.core.cluster
    assert standby.core.sealed and isinstance(cluster, OneNodeCluster) and cluster.sealed_everywhere == 1
    assert (await redirecting.get("/v1/sys/seal-status")).json()["sealed"] is True


async def test_what_the_standby_serves_from_its_mounts_waits_for_it_to_catch_up_first(standby: UnsealedCore) -> None:
    caught_up: list[str] = []

    async def catch_up() -> None:
        caught_up.append("once")

    async with standby_client(standby, ActiveNodeRedirect(standby.core.seal_state), catch_up) as client:
        assert (await client.get("/v1/secret/data/app")).status_code == 200
        assert (await client.get("/v1/auth/token/lookup-self")).status_code == 200
        assert len(caught_up) == 2
        assert (await client.put("/v1/secret/data/app", json={"data": {}})).status_code == 307  # the active's
        for path in ("/v1/sys/health", "/v1/sys/leader", "/v1/sys/seal-status"):  # they answer with PostgreSQL away
            assert (await client.get(path)).status_code in (200, 429)
        assert len(caught_up) == 2


async def test_without_an_active_node_a_redirect_waits_for_one_then_answers_503(standby: UnsealedCore) -> None:
    core = standby.core
    core.seal_state.take_leadership(Leadership(active=False))
    async with standby_client(standby, ActiveNodeRedirect(core.seal_state, no_active_wait=0.05)) as client:
        answer = await client.post("/v1/auth/token/create", json={})
        assert answer.status_code == 503
        assert answer.json()["errors"][0].startswith("no active node: this request needs the active node")
        assert (await client.get("/v1/sys/health")).status_code == 429


async def test_a_standby_that_becomes_active_while_a_request_waits_serves_it(standby: UnsealedCore) -> None:
    core = standby.core
    core.seal_state.take_leadership(Leadership(active=False))
    async with standby_client(standby, ActiveNodeRedirect(core.seal_state)) as client:
        # the leadership changes before the request's first wait for an active node ends
        core.seal_state.take_leadership(Leadership(active=True))
        assert (await client.post("/v1/sys/mounts/kv", json={"type": "kv"})).status_code == 204


async def test_a_forwarding_standby_redirects_the_clients_that_ask_for_it(standby: UnsealedCore) -> None:
    core = standby.core
    core.seal_state.take_leadership(STANDBY)
    forwarded = ForwardedHere()
    async with standby_client(standby, RedirectOnRequest(forwarded, ActiveNodeRedirect(core.seal_state))) as client:
        assert (await client.post("/v1/auth/token/create", json={})).json() == {"forwarded": True}
        asked = await client.post(
            "/v1/auth/token/create?x=1", json={}, headers={"X-Vault-No-Request-Forwarding": "true"}
        )
        assert (asked.status_code, asked.headers["location"]) == (307, ACTIVE + "/v1/auth/token/create?x=1")
        empty = await client.post("/v1/auth/token/create", json={}, headers={"X-Vault-No-Request-Forwarding": ""})
        assert empty.json() == {"forwarded": True}  # Vault ignores the header without a value
        assert (await client.get("/v1/sys/health", headers={"X-Vault-No-Request-Forwarding": "1"})).status_code == 429
    assert forwarded.paths == ["/v1/auth/token/create", "/v1/auth/token/create"]


async def test_a_forwarding_standby_redirects_when_the_active_node_accepts_no_forwarded_request(
    standby: UnsealedCore,
) -> None:
    core = standby.core
    redirects: list[str] = []

    class Refusing:
        async def forward(self, scope: Scope, body: bytes, listener_index: int) -> ForwardedAnswer:
            raise ForwardingRefused(f"the active node ({ACTIVE}) accepts no forwarded request")

    redirect = ActiveNodeRedirect(core.seal_state, redirected=lambda: redirects.append("told"))
    async with standby_client(standby, RedirectOnRequest(Refusing(), redirect)) as client:
        answer = await client.put("/v1/secret/data/app", json={"data": {}})
        assert (answer.status_code, answer.headers["location"]) == (307, ACTIVE + "/v1/secret/data/app")
    assert redirects == ["told"]  # from now on this standby's reads catch up first


async def test_a_node_with_disable_clustering_refuses_forwarded_requests_so_that_the_sender_redirects(
    standby: UnsealedCore,
) -> None:
    core = standby.core
    served: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        served.append(scope["path"])
        await send_errors(send, 200, [])

    door = ForwardedRequests(
        app, ForwardingKey(core.barrier), 1024, None, SignatureChecker(), ForgeryLog(), accepts_forwarded=False
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=door), base_url="http://active") as client:
        signed = {name: "x" for name in SIGNATURE_HEADERS}
        refused = await client.put("/v1/secret/data/app", json={}, headers=signed)
        assert refused.status_code == 503 and refused.headers[FORWARDING_REFUSED_HEADER.decode()] == "true"
        assert "disable_clustering" in refused.json()["errors"][0]
        assert (await client.get("/v1/sys/health")).status_code == 200  # its own clients are served
    assert served == ["/v1/sys/health"]


BASE = 'storage "inmem" {}\nlistener "tcp" {\n  address = "127.0.0.1:8200"\n  tls_disable = true\n}\n'


def test_disable_clustering_is_read_from_hcl_and_json_and_is_off_by_default() -> None:
    assert parse_config(BASE).disable_clustering is False
    assert parse_config(BASE + "disable_clustering = true\n").disable_clustering is True
    assert parse_config(BASE + 'disable_clustering = "false"\n').disable_clustering is False
    as_json = json.dumps(
        {
            "storage": {"inmem": {}},
            "listener": {"tcp": {"address": "127.0.0.1:8200", "tls_disable": True}},
            "disable_clustering": True,
        }
    )
    assert parse_config(as_json).disable_clustering is True
    assert not any(
        "disable_clustering" in warning for warning in parse_config(BASE + "disable_clustering = 1\n").warnings
    )


@pytest.mark.parametrize("value", ['"sometimes"', "2", '["true"]'])
def test_disable_clustering_that_is_not_a_bool_is_a_one_line_error(value: str) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_config(BASE + f"disable_clustering = {value}\n")
    message = str(refused.value)
    assert "disable_clustering" in message and "true or false" in message and "\n" not in message


async def test_a_reload_leaves_disable_clustering_as_it_was_and_says_it_needs_a_restart(
    unsealed_core: UnsealedCore, caplog: pytest.LogCaptureFixture
) -> None:
    running = parse_config(BASE)
    reloader = Reloader(lambda: parse_config(BASE + "disable_clustering = true\n"), running, unsealed_core.core)
    strongroom_logger = logging.getLogger("strongroom")
    level = strongroom_logger.level
    try:
        with caplog.at_level(logging.WARNING, logger="strongroom"):
            await reloader.reload()
    finally:
        strongroom_logger.setLevel(level)
    assert reloader.config.disable_clustering is False
    [warning] = [record for record in caplog.records if "need a restart" in record.getMessage()]
    assert "disable_clustering" in warning.__dict__["settings"]
