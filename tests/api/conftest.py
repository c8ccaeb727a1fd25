"""Fixtures for the API adapter tests: the real adapter on an ephemeral loopback port."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from adapters.api import SPEC, ApiAdapter
from adapters.settings import ApiSettings
from bridgebot.contract import AdapterSetup
from bridgebot.errors import RejectedEvent, StoreError
from bridgebot.model import Event, Outbound, RoomRef

ACCOUNT = "api.one"
ROOM = RoomRef(ACCOUNT, "api")


class MemoryContext:
    """A stand-in for the core's AdapterContext: cursors in a dict, copies in a set."""

    def __init__(self) -> None:
        self.cursors: dict[str, str] = {}
        self.copies: set[tuple[RoomRef, str]] = set()

    async def get_cursor(self, key: str) -> str | None:
        return self.cursors.get(key)

    async def set_cursor(self, key: str, value: str) -> None:
        self.cursors[key] = value

    async def is_copy(self, room: RoomRef, remote_id: str) -> bool:
        return (room, remote_id) in self.copies

    def is_admin(self, user_ref: str) -> bool:
        return False


class Collector:
    """The emit callback: records events; refuses gateways listed in ``unknown``; a core
    whose store fails for gateway ``broken``."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.unknown = {"nosuch"}
        self._arrived = asyncio.Condition()

    async def __call__(self, event: Event) -> None:
        if event.bridge in self.unknown:
            raise RejectedEvent(f"unknown bridge {event.bridge!r}")
        if event.bridge == "broken":
            raise StoreError("database is locked")
        async with self._arrived:
            self.events.append(event)
            self._arrived.notify_all()

    async def wait_for(self, n: int, within: float = 5.0) -> list[Event]:
        """Wait (at most ``within`` seconds) until ``n`` events have arrived."""
        async with asyncio.timeout(within), self._arrived:
            await self._arrived.wait_for(lambda: len(self.events) >= n)
        return self.events


Start = Callable[..., Awaitable[tuple[ApiAdapter, Collector]]]


@pytest.fixture
async def start_api() -> AsyncIterator[Start]:
    """``await start_api(token=..., buffer=...)`` → a running adapter and its collector."""
    running: list[ApiAdapter] = []

    async def start(**settings: Any) -> tuple[ApiAdapter, Collector]:
        settings.setdefault("bind", "127.0.0.1:0")
        setup = AdapterSetup(
            account=ACCOUNT,
            settings=ApiSettings(**settings),
            rooms=("api",),
            context=MemoryContext(),
            log=logging.getLogger(f"test.{ACCOUNT}"),
        )
        adapter = SPEC.factory(setup)
        assert isinstance(adapter, ApiAdapter)
        collector = Collector()
        await adapter.start(collector)
        running.append(adapter)
        return adapter, collector

    yield start
    for adapter in running:
        async with asyncio.timeout(10):
            await adapter.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def outbound(text: str = "hello", **fields: Any) -> Outbound:
    """An Outbound as the core would hand it over, from a Slack room."""
    values: dict[str, Any] = {
        "key": "k1",
        "text": text,
        "label": "Alice · slack",
        "bridge": "khub",
        "origin": RoomRef("slack.work", "C0123"),
        "author_name": "Alice",
        "author_id": "U1",
        "ts": 1_700_000_000.25,
    }
    values.update(fields)
    return Outbound(**values)
