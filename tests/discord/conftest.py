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
from bridgebot.model import Event, Outbound, RoomRef

ACCOUNT = "discord.lab"


class MemoryContext:
    """The little the core offers an adapter, kept in dicts."""

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
    """An emit callback that records events and lets a test wait for them."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._changed = asyncio.Event()

    async def __call__(self, event: Event) -> None:
        self.events.append(event)
        self._changed.set()

    async def wait_for(self, count: int, within: float = 5.0) -> list[Event]:
        """Wait until at least ``count`` events arrived; return them all."""
        async with asyncio.timeout(within):
            while len(self.events) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.events

    async def quiet(self, seconds: float = 0.2) -> list[Event]:
        """Give stragglers a moment, then return what arrived."""
        await asyncio.sleep(seconds)
        return self.events


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
