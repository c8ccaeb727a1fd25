"""The store contract's fixtures: every test that takes ``backend`` or ``store`` runs once
per back end in :data:`BACKENDS`.

A back end is a *target*, the string ``open_store`` takes (an SQLite file's path now; a
``postgresql://`` URL next), made fresh for each test by a factory in :data:`FACTORIES`.
Adding a back end to the contract is one entry in each.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from bridgebot.store import Store, open_store
from tests.support import Clock


@asynccontextmanager
async def sqlite_target(tmp_path: Path) -> AsyncIterator[str]:
    # A real file, so WAL mode and the on-disk schema are what is tested.
    yield str(tmp_path / "bridge.db")


#: Back end name → a fresh, empty target for one test, gone after it.
FACTORIES: dict[str, Callable[[Path], AbstractAsyncContextManager[str]]] = {
    "sqlite": sqlite_target,
}
BACKENDS = ["sqlite"]


@dataclass
class Backend:
    """One back end's fresh target, for tests that open it more than once."""

    name: str
    target: str
    clock: Clock

    async def open(self) -> Store:
        """A store on the target, on the test's clock; the caller closes it."""
        return await open_store(self.target, clock=self.clock)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=BACKENDS)
async def backend(
    request: pytest.FixtureRequest, tmp_path: Path, clock: Clock
) -> AsyncIterator[Backend]:
    name: str = request.param
    async with FACTORIES[name](tmp_path) as target:
        yield Backend(name, target, clock)


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[Store]:
    opened = await backend.open()
    try:
        yield opened
    finally:
        await opened.close()
