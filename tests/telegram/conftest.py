"""Fixtures: a lab Telegram server on loopback, an in-memory core context, an emit collector."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

import pytest

from adapters.base import AdapterSetup
from adapters.settings import TelegramSettings
from adapters.telegram import TelegramAdapter, create
from bridgebot.lab.telegram import LabBot, RateLimits, TelegramLab
from bridgebot.model import RoomRef
from tests.support import Collector, MemoryContext

ACCOUNT = "telegram.bot"


@dataclass
class World:
    """A lab with one bot, two people and a group, plus helpers to build adapters."""

    lab: TelegramLab
    bot: LabBot
    alice: dict[str, Any]
    bob: dict[str, Any]
    group: int
    context: MemoryContext = field(default_factory=MemoryContext)
    adapters: list[TelegramAdapter] = field(default_factory=list)

    def adapter(
        self, rooms: Iterable[str] | None = None, *, bot: LabBot | None = None, **extra: Any
    ) -> TelegramAdapter:
        bot = bot or self.bot
        settings = TelegramSettings(
            token=bot.token,
            base_url=self.lab.api_url,
            base_file_url=self.lab.file_url,
            poll_timeout=5,
            **extra,
        )
        setup = AdapterSetup(
            account=ACCOUNT,
            settings=settings,
            rooms=tuple(rooms if rooms is not None else [str(self.group)]),
            context=self.context,
            log=logging.getLogger(f"adapters.telegram.{ACCOUNT}"),
        )
        adapter = create(setup)
        self.adapters.append(adapter)
        return adapter

    def room(self, room_id: int | str | None = None) -> RoomRef:
        return RoomRef(ACCOUNT, str(self.group if room_id is None else room_id))


async def make_world(limits: RateLimits) -> TelegramLab:
    lab = TelegramLab(limits)
    await lab.start()
    return lab


@pytest.fixture
async def world() -> AsyncIterator[World]:
    # limits scaled down 1000x: functional tests are not about pacing
    lab = await make_world(RateLimits(time_scale=0.001))
    bot = lab.create_bot("bridgebot")
    alice = lab.create_user("Alice", "alice", last_name="Smith")
    bob = lab.create_user("Bob", "bob")
    group = lab.create_chat("Residents", admins=(bot.id,), members=(alice["id"], bob["id"]))
    w = World(lab, bot, alice, bob, group.id)
    try:
        yield w
    finally:
        for adapter in w.adapters:
            await adapter.stop()
        await lab.stop()


@pytest.fixture
def collector() -> Collector:
    return Collector()
