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
from tests.support import Collector, MemoryContext

ACCOUNT = "api.one"
ROOM = RoomRef(ACCOUNT, "api")


def refuse(event: Event) -> Exception | None:
    """The emit callback's ``reject``: a core that does not know gateway ``nosuch`` and
    whose store fails for gateway ``broken``."""
    if event.bridge == "nosuch":
        return RejectedEvent(f"unknown bridge {event.bridge!r}")
    if event.bridge == "broken":
        return StoreError("database is locked")
    return None


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
        collector.reject = refuse
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
