"""A network's rooms bridged with the common API room, run (and re-run) in this process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from bridgebot.lab.relay import (
    Relay,
    api_table,
    bridge_config,
    claimed_capabilities,
    free_port,
    running_relay,
)
from bridgebot.model import Capabilities
from tests.contract.drivers.base import Driver

#: The common other side: one API room, its person "bob" (labels read "bob · api").
HUB = "api.hub"
HUB_ROOM = f"{HUB}:api"


class Pair:
    """Rooms made on one or more drivers' networks, all in one bridge with ``api.hub:api``.

    ``running()`` starts a bridge on them with its store in ``workdir``; a second
    ``running()`` is a restart (same store, same API port).
    """

    def __init__(self, workdir: Path, *drivers: Driver) -> None:
        self.workdir = workdir
        self.drivers = drivers
        self.port = free_port()
        self.rooms: list[tuple[Driver, str]] = []

    async def room(self, driver: Driver | None = None) -> str:
        """A new room on ``driver`` (the first one by default), added to the bridge."""
        on = driver or self.drivers[0]
        room = await on.make_room()
        self.rooms.append((on, room))
        return room

    def config(self) -> str:
        tables = [api_table("hub", self.port), *(d.accounts_toml() for d in self.drivers)]
        refs = [d.ref(room) for d, room in self.rooms]
        return bridge_config(*tables, rooms=[*refs, HUB_ROOM])

    def env(self) -> dict[str, str]:
        env: dict[str, str] = {}
        for driver in self.drivers:
            env.update(driver.env())
        return env

    def claims(self, driver: Driver | None = None) -> Capabilities:
        """What the adapter of ``driver``'s network claims (the first driver by default)."""
        on = driver or self.drivers[0]
        (account, *_) = on.accounts()
        return claimed_capabilities(self.config(), self.env())[account]

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Relay]:
        """The bridge, started, its adapters up and listening in every room."""
        accounts = [a for d in self.drivers for a in d.accounts()]
        async with running_relay(
            self.config(), self.workdir, api_port=self.port, env=self.env()
        ) as relay:
            await relay.up(HUB, *accounts)
            for driver in self.drivers:
                await driver.ready([room for d, room in self.rooms if d is driver])
            yield relay
