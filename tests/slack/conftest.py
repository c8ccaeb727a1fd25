"""Fixtures for the Slack tests: a started lab workspace, a stand-in core, the adapter."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from adapters.settings import SlackSettings
from adapters.slack import SPEC, SlackAdapter
from bridgebot.contract import AdapterSetup
from bridgebot.lab.slack import SlackLab
from bridgebot.model import Outbound, RoomRef
from tests.support import Collector, MemoryContext

ACCOUNT = "slack.work"


def outbound(text: str, **fields: Any) -> Outbound:
    """A delivery as the router would hand it over."""
    values: dict[str, Any] = {
        "key": "k1",
        "text": text,
        "label": "Alice · matrix",
        "bridge": "khub",
        "origin": RoomRef("matrix.home", "!r:example.org"),
        "author_name": "Alice",
        "author_id": "@alice:example.org",
        "avatar_url": "https://example.org/alice.png",
    }
    values.update(fields)
    return Outbound(**values)


@pytest.fixture
async def lab() -> AsyncIterator[SlackLab]:
    server = SlackLab(post_rate=50.0, post_burst=20)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def make_started_adapter(server: SlackLab, rooms: tuple[str, ...]) -> SlackAdapter:
    """An adapter started against ``server`` outside the fixtures; the caller stops it."""
    setup = AdapterSetup(
        account=ACCOUNT,
        settings=SlackSettings.model_validate(
            {
                "bot_token": server.bot_token,
                "app_token": server.app_token,
                "base_url": server.api_url,
                "ping_interval": 0.5,
            }
        ),
        rooms=rooms,
        context=MemoryContext(),
        log=logging.getLogger(f"test.{ACCOUNT}"),
    )
    adapter = SPEC.factory(setup)
    assert isinstance(adapter, SlackAdapter)
    async with asyncio.timeout(10):
        await adapter.start(Collector())
    return adapter


@pytest.fixture
def context() -> MemoryContext:
    return MemoryContext()


AdapterFactory = Callable[..., Awaitable[tuple[SlackAdapter, Collector]]]


@pytest.fixture
async def make_adapter(lab: SlackLab, context: MemoryContext) -> AsyncIterator[AdapterFactory]:
    """Start an adapter against ``lab``: ``await make_adapter(rooms, **settings)``."""
    started: list[SlackAdapter] = []

    async def make(
        rooms: tuple[str, ...], start: bool = True, server: SlackLab | None = None, **settings: Any
    ) -> tuple[SlackAdapter, Collector]:
        """``server`` overrides the default lab (e.g. one with fewer scopes)."""
        target = server or lab
        values: dict[str, Any] = {
            "bot_token": target.bot_token,
            "app_token": target.app_token,
            "base_url": target.api_url,
            "ping_interval": 0.5,
            "connect_timeout": 5.0,
        }
        values.update(settings)
        setup = AdapterSetup(
            account=ACCOUNT,
            settings=SlackSettings.model_validate(values),
            rooms=rooms,
            context=context,
            log=logging.getLogger(f"test.{ACCOUNT}"),
        )
        adapter = SPEC.factory(setup)
        assert isinstance(adapter, SlackAdapter)
        collector = Collector()
        started.append(adapter)
        if start:
            async with asyncio.timeout(10):
                await adapter.start(collector)
        return adapter, collector

    yield make
    for adapter in started:
        await adapter.stop()
