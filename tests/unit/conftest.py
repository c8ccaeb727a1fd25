"""Fixtures for the store's unit tests: a settable clock and a store on a real file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bridgebot.store import Store
from tests.support import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def store(tmp_path: Path, clock: Clock) -> AsyncIterator[Store]:
    # A real file, so WAL mode and the on-disk schema are what is tested.
    opened = await Store.open(tmp_path / "bridge.db", clock=clock)
    try:
        yield opened
    finally:
        await opened.close()
