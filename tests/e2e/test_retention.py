"""[store] keep_days and held_days through a real Hub and the API adapter.

The settings are fractions of a day here (1e-9 days is under a tenth of a millisecond), so
everything already said is "old" when the test asks the Hub to prune, as its hourly pass
would. Each test first waits for the pass the Hub makes at start, so that one cannot
prune in the middle of the test; the next is an hour away.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bridgebot.app import Bridge
from bridgebot.lab.harness import running_hub
from tests.e2e.conftest import ApiRoom, api_rooms, config_for
from tests.e2e.test_commands import say, settle
from tests.e2e.test_facilitators import opt_in, texts

TINY = "1e-9"


def with_store(config: str, **keys: str) -> str:
    extra = "".join(f"\n{key} = {value}" for key, value in keys.items())
    return config.replace('path = "bridgebot.db"', 'path = "bridgebot.db"' + extra, 1)


async def started_pass_done(hub: Bridge) -> None:
    async with asyncio.timeout(30):
        while hub.upkeep.pruned_at is None:
            await asyncio.sleep(0.02)


async def post(s: aiohttp.ClientSession, room: ApiRoom, **fields: Any) -> dict[str, Any]:
    body = {"username": "alice", "userid": "alice", "gateway": "khub", **fields}
    async with s.post(f"{room.url}/api/message", json=body) as resp:
        assert resp.status == 200, await resp.text()
        reply: dict[str, Any] = await resp.json()
        return reply


async def test_an_edit_of_a_forgotten_message_does_not_cross(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    a, b = api_rooms("a", "b")
    config = with_store(config_for([a, b]), keep_days=TINY)
    async with running_hub(config, tmp_path) as hub, aiohttp.ClientSession() as s:
        await started_pass_done(hub)
        kept = await post(s, a, text="kept for now")
        assert await texts(hub, s, b) == ["kept for now"]
        await post(s, a, text="kept for now, edited", id=kept["id"])
        assert await texts(hub, s, b) == ["kept for now, edited"]  # the id map at work

        with caplog.at_level(logging.INFO, logger="bridgebot.hub"):
            await hub.upkeep.prune()
        assert "forgot 1 messages older than 1e-09 days ([store] keep_days)" in caplog.text

        await post(s, a, text="edited after it was forgotten", id=kept["id"])
        assert await texts(hub, s, b) == []
        await say(s, a, "alice", "a new message still crosses")
        assert await texts(hub, s, b) == ["a new message still crosses"]


async def test_an_unanswered_hold_is_dropped_unsent(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    a, b = api_rooms("a", "b")
    a = opt_in(a)
    config = with_store(config_for([a, b]), held_days=TINY, keep_days="0")
    async with running_hub(config, tmp_path) as hub, aiohttp.ClientSession() as s:
        await started_pass_done(hub)
        await say(s, a, "carol", "held, then never answered")
        assert len(await settle(hub, s, a)) == 1  # the one explanation
        assert len(await hub.store.held("api.a:carol")) == 1

        with caplog.at_level(logging.INFO, logger="bridgebot.hub"):
            await hub.upkeep.prune()
        assert "dropped 1 held messages by api.a:carol: no consent answer" in caplog.text
        assert "held, then never answered" not in caplog.text  # never the content
        assert await hub.store.held("api.a:carol") == []

        await say(s, a, "carol", "!bridge consent yes")
        answer = (await texts(hub, s, a))[0]
        assert "will now cross" in answer and "held messages" not in answer
        assert await texts(hub, s, b) == []  # what was dropped stays unsent
        await say(s, a, "carol", "after consent")
        assert await texts(hub, s, b) == ["after consent"]
