"""`sys/wrapping/wrap` over the HTTP API: an empty body wraps an empty object, as Vault does."""

from __future__ import annotations

import httpx
import pytest

from tests.in_process import UnsealedCore


@pytest.mark.anyio
@pytest.mark.parametrize("body", [b"", b"{}"], ids=["no body", "empty object"])
async def test_an_empty_body_wraps_an_empty_object(
    unsealed_core: UnsealedCore, api: httpx.AsyncClient, body: bytes
) -> None:
    wrapped = await api.put("/v1/sys/wrapping/wrap", content=body, headers={"X-Vault-Token": unsealed_core.root_token})
    assert wrapped.status_code == 200, wrapped.text
    token = wrapped.json()["wrap_info"]["token"]
    unwrapped = await api.put("/v1/sys/wrapping/unwrap", json={"token": token})
    assert unwrapped.status_code == 200, unwrapped.text
    assert unwrapped.json()["data"] == {}
