"""Matrix tests run against ONE real Synapse per session, driven by real nio clients."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from nio import (
    AsyncClient,
    AsyncClientConfig,
    RoomCreateResponse,
    RoomPreset,
    RoomSendResponse,
)
from pydantic import SecretStr

from adapters.matrix import MatrixAdapter, create
from adapters.settings import MatrixSettings
from bridgebot.contract import AdapterSetup, Emit
from bridgebot.lab.relay import api_table, bridge_config, matrix_table
from bridgebot.lab.synapse import MatrixUser, Synapse
from bridgebot.model import Outbound, RoomRef
from tests import support
from tests.support import MemoryContext

WAIT = 20.0  # seconds: the upper bound of every wait in these tests
_names = itertools.count()


def unique(prefix: str) -> str:
    """A user or room name no other test in the session uses."""
    return f"{prefix}{next(_names)}"


class Collector(support.Collector):
    """The emit callback; waits default to ``WAIT``, a quiet pause to one second."""

    within = WAIT
    settle = 1.0


class Human:
    """A person on Matrix, using the real nio client against Synapse."""

    def __init__(self, synapse: Synapse, user: MatrixUser) -> None:
        self.user = user
        self.client = AsyncClient(
            synapse.url,
            user.user_id,
            device_id=user.device_id,
            config=AsyncClientConfig(max_limit_exceeded=0, max_timeouts=0),
        )
        self.client.access_token = user.access_token
        self.client.user_id = user.user_id
        self.synapse = synapse

    async def create_room(self, invite: tuple[str, ...] = ()) -> str:
        resp = await self.client.room_create(
            name=unique("room"), invite=list(invite), preset=RoomPreset.public_chat
        )
        assert isinstance(resp, RoomCreateResponse), resp
        return str(resp.room_id)

    async def send(
        self, room_id: str, content: dict[str, Any], etype: str = "m.room.message"
    ) -> str:
        resp = await self.client.room_send(room_id, etype, content)
        assert isinstance(resp, RoomSendResponse), resp
        return str(resp.event_id)

    async def say(self, room_id: str, text: str, **extra: Any) -> str:
        return await self.send(room_id, {"msgtype": "m.text", "body": text, **extra})

    async def history(self, room_id: str, limit: int = 500) -> list[dict[str, Any]]:
        """Every event in the room, oldest first, as the server has it (raw JSON)."""
        path = f"/_matrix/client/v3/rooms/{room_id}/messages?dir=b&limit={limit}"
        result = await asyncio.to_thread(
            self.synapse.request, "GET", path, None, self.user.access_token
        )
        return list(reversed(result["chunk"]))

    async def messages(self, room_id: str) -> list[dict[str, Any]]:
        """Only the m.room.message events, oldest first."""
        return [e for e in await self.history(room_id) if e["type"] == "m.room.message"]

    async def close(self) -> None:
        await self.client.close()


@pytest.fixture
async def people(synapse: Synapse) -> AsyncIterator[Callable[..., Awaitable[Human]]]:
    """``await people("alice")`` registers a fresh user and returns them as a Human."""
    made: list[Human] = []

    async def make(prefix: str = "human", display_name: str | None = None) -> Human:
        user = await asyncio.to_thread(synapse.register, unique(prefix))
        human = Human(synapse, user)
        if display_name is not None:
            await human.client.set_displayname(display_name)
        made.append(human)
        return human

    yield make
    for human in made:
        await human.close()


class BotFactory:
    """Builds adapters for one bot account and stops every one at teardown."""

    def __init__(self, synapse: Synapse, user: MatrixUser) -> None:
        self.synapse = synapse
        self.user = user
        self.running: list[MatrixAdapter] = []

    def settings(self, **overrides: Any) -> MatrixSettings:
        values: dict[str, Any] = {
            "homeserver": self.synapse.url,
            "user_id": self.user.user_id,
            "password": SecretStr(self.user.password),
            "sync_timeout": 1.0,
            "request_timeout": 10.0,
        }
        values.update(overrides)
        return MatrixSettings(**values)

    async def start(
        self,
        rooms: tuple[str, ...],
        context: MemoryContext,
        emit: Emit | None = None,
        **overrides: Any,
    ) -> tuple[MatrixAdapter, Collector]:
        """Start an adapter; the Collector returned is ``emit`` unless a plain callback
        was given (then a fresh, unused one)."""
        collector = emit if isinstance(emit, Collector) else Collector()
        emit = emit or collector
        setup = AdapterSetup(
            account="matrix.home",
            settings=self.settings(**overrides),
            rooms=rooms,
            context=context,
            log=logging.getLogger("test.matrix"),
        )
        adapter = create(setup)
        async with asyncio.timeout(WAIT):
            await adapter.start(emit)
        self.running.append(adapter)
        return adapter, collector

    async def stop_all(self) -> None:
        for adapter in self.running:
            await adapter.stop()


@pytest.fixture
async def bot(synapse: Synapse) -> AsyncIterator[BotFactory]:
    """A fresh bot account; ``await bot.start(rooms, context)`` runs an adapter for it."""
    user = await asyncio.to_thread(synapse.register, unique("bot"))
    factory = BotFactory(synapse, user)
    yield factory
    await factory.stop_all()


def config(api_port: int, bot: BotFactory, room: str) -> str:
    """bot.toml for the relay harness's pair: API room ``api.a:api`` bridged with the Matrix
    room ``room`` of ``bot``'s account ``matrix.home`` (password from MATRIX_PASSWORD)."""
    return bridge_config(
        api_table("a", api_port),
        matrix_table(bot.synapse.url, bot.user.user_id, "home", sync_timeout=1.0),
        rooms=["api.a:api", f"matrix.home:{room}"],
    )


def outbound(key: str, text: str, **extra: Any) -> Outbound:
    """A delivery as the core would make it, from an API room."""
    values: dict[str, Any] = {
        "key": key,
        "text": text,
        "label": "Ann · api",
        "bridge": "khub",
        "origin": RoomRef("api.one", "api"),
        "author_name": "Ann",
        "author_id": "ann",
    }
    values.update(extra)
    return Outbound(**values)
