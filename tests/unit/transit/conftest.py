"""Fixtures of the transit unit tests: each test gets a fresh mount (async tests run as tests/conftest.py says)."""

from __future__ import annotations

import pytest

from tests.unit.transit.harness import TransitMount, mount


@pytest.fixture
async def engine() -> TransitMount:
    """A fresh transit mount at `transit/` over an unsealed barrier on in-memory storage."""
    return await mount()
