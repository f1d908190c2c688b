"""Fixtures of the transit unit tests: async tests run on asyncio (anyio's pytest plugin), each with a fresh mount."""

from __future__ import annotations

import pytest

from tests.unit.transit.harness import TransitMount, mount


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def engine() -> TransitMount:
    """A fresh transit mount at `transit/` over an unsealed barrier on in-memory storage."""
    return await mount()
