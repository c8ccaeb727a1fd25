"""Fixtures: a Discord lab server, an in-memory stand-in for the core, a started adapter."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from pydantic import SecretStr

from adapters.discord import DiscordAdapter, create
from adapters.settings import DiscordSettings
from bridgebot.contract import AdapterSetup
from bridgebot.lab.discord import DiscordLab, RateLimitConfig
from bridgebot.model import Outbound, RoomRef
from tests.support import Collector, MemoryContext

ACCOUNT = "discord.lab"


def outbound(text: str, **extra: Any) -> Outbound:
    """An Outbound as the core would make it for a message from Alice on Matrix."""
    fields: dict[str, Any] = {
        "key": f"k-{text[:20]}",
        "text": text,
        "label": "Alice · matrix",
        "bridge": "khub",
        "origin": RoomRef("matrix.home", "!r:example.org"),
        "author_name": "Alice",
        "author_id": "@alice:example.org",
        "avatar_url": "https://example.org/alice.png",
    }
    fields.update(extra)
    return Outbound(**fields)


@pytest.fixture
async def lab() -> AsyncIterator[DiscordLab]:
    server = DiscordLab(
        rate_limits=RateLimitConfig(per_route=1000, window=1.0, global_per_second=10_000)
    )
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


Start = Callable[..., Awaitable[tuple[DiscordAdapter, Collector, MemoryContext]]]


@pytest.fixture
async def start_adapter(lab: DiscordLab) -> AsyncIterator[Start]:
    """Start the real adapter against the lab; every adapter started is stopped afterwards."""
    started: list[DiscordAdapter] = []

    async def start(
        *rooms: str,
        token: str | None = None,
        context: MemoryContext | None = None,
        **settings: Any,
    ) -> tuple[DiscordAdapter, Collector, MemoryContext]:
        context = context or MemoryContext()
        config = DiscordSettings(
            token=SecretStr(token or lab.bot.token),
            base_url=lab.api_url,
            gateway_url=lab.ws_url,
            guild_ready_timeout=0.05,
            **settings,
        )
        setup = AdapterSetup(
            account=ACCOUNT,
            settings=config,
            rooms=tuple(rooms),
            context=context,
            log=logging.getLogger(f"test.{ACCOUNT}"),
        )
        adapter = create(setup)
        started.append(adapter)
        collector = Collector()
        async with asyncio.timeout(10):
            await adapter.start(collector)
        return adapter, collector, context

    try:
        yield start
    finally:
        for adapter in started:
            await adapter.stop()
