"""The contract suite's networks: one driver per network, each on its lab or real server.

Synapse and Dovecot are the session's shared servers (tests/conftest.py), started only
when a Matrix or email case first runs; the labs are fresh for every test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.contract.drivers.api import ApiDriver
from tests.contract.drivers.base import Driver
from tests.contract.drivers.discord import DiscordDriver
from tests.contract.drivers.email import EmailDriver
from tests.contract.drivers.matrix import MatrixDriver
from tests.contract.drivers.slack import SlackDriver
from tests.contract.drivers.telegram import TelegramDriver
from tests.contract.pair import Pair

NETWORKS = ("api", "matrix", "slack", "discord", "telegram", "email")


def make_driver(network: str, request: pytest.FixtureRequest) -> Driver:
    """A driver for ``network``, on the session's Synapse or Dovecot where it needs one."""
    if network == "matrix":
        return MatrixDriver(request.getfixturevalue("synapse"))
    if network == "email":
        return EmailDriver(request.getfixturevalue("dovecot"))
    drivers: dict[str, type[Driver]] = {
        "api": ApiDriver,
        "slack": SlackDriver,
        "discord": DiscordDriver,
        "telegram": TelegramDriver,
    }
    return drivers[network]()


@pytest.fixture(params=NETWORKS)
async def driver(request: pytest.FixtureRequest) -> AsyncIterator[Driver]:
    """The network under test, started."""
    started = make_driver(request.param, request)
    await started.start()
    try:
        yield started
    finally:
        await started.stop()


@pytest.fixture
def pair(driver: Driver, tmp_path: Path) -> Pair:
    """The network under test and the common API room, not yet running."""
    return Pair(tmp_path, driver)
