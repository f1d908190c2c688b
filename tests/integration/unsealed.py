"""A real `strongroom server` process, initialized (1 share) and unsealed, with a plain HTTP client.

    with run_unsealed(tmp_path) as store:
        store.http.get("/v1/sys/mounts", headers=store.vault())

Shared by the integration tests of secrets, tokens and policies; `assert_clean_log` is checked when
the block ends: a test that made the server answer 500 or log a traceback fails there.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.integration.strongroom_server import START_TIMEOUT, StrongroomServer, run_strongroom

#: the configuration line that lets audit devices be created through sys/audit (hvac's tests and others do)
API_AUDIT_CREATION = "unsafe_allow_api_audit_creation = true\n"


@dataclass
class Unsealed:
    server: StrongroomServer
    http: httpx.Client
    keys: list[str]
    root_token: str

    def vault(self, token: str | None = None) -> dict[str, str]:
        return {"X-Vault-Token": token or self.root_token}

    def dcos(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"token={token or self.root_token}"}

    def unseal(self) -> None:
        for key in self.keys:
            response = self.http.put("/v1/sys/unseal", json={"key": key})
            assert response.status_code == 200, response.text
        assert response.json()["sealed"] is False, response.text

    def seal(self) -> None:
        response = self.http.put("/v1/sys/seal", headers=self.vault())
        assert response.status_code == 204, response.text

    def ok(self, method: str, path: str, *, token: str | None = None, **kwargs: Any) -> httpx.Response:
        """A Vault API request (`path` below /v1/) that must succeed."""
        response = self.http.request(method, f"/v1/{path}", headers=self.vault(token), **kwargs)
        assert response.status_code in (200, 204), (method, path, response.status_code, response.text)
        return response

    def put_policy(self, name: str, text: str) -> None:
        self.ok("PUT", f"sys/policies/acl/{name}", json={"policy": text})

    def token(self, *policies: str, **fields: Any) -> str:
        """A new token with exactly `policies` (no `default` unless named: Vault's `no_default_policy`
        removes it even when named)."""
        body = {"policies": list(policies), "no_default_policy": "default" not in policies, **fields}
        return self.ok("POST", "auth/token/create", json=body).json()["auth"]["client_token"]


def http_client(server: StrongroomServer) -> httpx.Client:
    return httpx.Client(base_url=server.address, timeout=30, trust_env=False)


def errors_of(response: httpx.Response) -> list[str]:
    """The `errors` of an error answer, after checking its shape: JSON, and nothing but `errors`."""
    assert response.headers.get("content-type") == "application/json", (response.status_code, response.headers)
    body = response.json()
    assert list(body) == ["errors"], body
    assert isinstance(body["errors"], list) and all(isinstance(error, str) for error in body["errors"]), body
    return body["errors"]


def assert_clean_log(server: StrongroomServer) -> None:
    """Never a 500, never a traceback."""
    log = server.log()
    assert "Traceback" not in log and "[ERROR]" not in log, log[-4000:]


def initialize(http: httpx.Client, shares: int = 1, threshold: int = 1) -> tuple[list[str], str]:
    response = http.put("/v1/sys/init", json={"secret_shares": shares, "secret_threshold": threshold})
    assert response.status_code == 200, response.text
    body = response.json()
    return body["keys"][:threshold], body["root_token"]


@contextmanager
def run_unsealed(
    directory: Path, *, extra_config: str = "", clean_log: bool = True, start_timeout: float = START_TIMEOUT
) -> Iterator[Unsealed]:
    with (
        run_strongroom(directory, extra_config=extra_config, start_timeout=start_timeout) as server,
        http_client(server) as http,
    ):
        keys, root_token = initialize(http)
        store = Unsealed(server, http, keys, root_token)
        store.unseal()
        yield store
        if clean_log:
            assert_clean_log(server)
