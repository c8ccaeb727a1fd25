"""Gateway drops and RESUME, rate limits and 429 storms, a missing intent."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import pytest

from adapters.discord import DiscordAdapter
from bridgebot.errors import RateLimited, TransientError
from bridgebot.lab.discord import DiscordLab
from bridgebot.model import Outbound, RoomRef

from .conftest import ACCOUNT, Start, outbound


async def _until(predicate: Callable[[], bool], within: float = 5.0) -> None:
    # the lab's counters have no events to wait on; a short poll under a timeout is enough
    async with asyncio.timeout(within):
        while not predicate():
            await asyncio.sleep(0.01)


async def _send_like_the_dispatcher(adapter: DiscordAdapter, room: RoomRef, out: Outbound) -> str:
    """Retry as the dispatcher does: honour RateLimited, back off on TransientError."""
    async with asyncio.timeout(20):
        while True:
            try:
                return await adapter.send(room, out)
            except RateLimited as exc:
                await asyncio.sleep(exc.retry_after)
            except TransientError:
                await asyncio.sleep(0.05)


async def test_gateway_drop_resumes_with_nothing_lost(
    lab: DiscordLab, start_adapter: Start
) -> None:
    room = lab.create_channel("general")
    alice = lab.create_user("Alice")
    _, events, _ = await start_adapter(room)
    sent = [lab.post_as_user(room, alice, f"before {i}")["id"] for i in range(3)]
    await lab.drop_gateway(4000)
    sent += [lab.post_as_user(room, alice, f"during {i}")["id"] for i in range(5)]
    await _until(lambda: lab.gateway.resumes == 1)
    sent += [lab.post_as_user(room, alice, f"after {i}")["id"] for i in range(3)]
    await events.wait_for(len(sent))
    assert [e.remote_id for e in await events.quiet()] == sent  # once each, in order
    assert lab.gateway.identifies == 1


async def test_session_timeout_4009_identifies_again_and_catches_up(
    lab: DiscordLab, start_adapter: Start
) -> None:
    room = lab.create_channel("general")
    alice = lab.create_user("Alice")
    adapter, events, _ = await start_adapter(room)
    sent = [lab.post_as_user(room, alice, "before")["id"]]
    await events.wait_for(1)
    await lab.drop_gateway(4009)
    # the session is gone: these are not replayed by RESUME but read back over REST
    sent += [lab.post_as_user(room, alice, f"during {i}")["id"] for i in range(3)]
    # discord.py waits 5 s before a re-IDENTIFY (the documented identify rate limit)
    await _until(lambda: lab.gateway.identifies == 2, within=10)
    sent.append(lab.post_as_user(room, alice, "after")["id"])
    await events.wait_for(len(sent))
    assert [e.remote_id for e in await events.quiet()] == sent
    # and sending still works on the new session
    await adapter.send(RoomRef(ACCOUNT, room), outbound("still here"))
    assert lab.history(room)[-1]["content"] == "still here"


async def test_a_restart_catches_up_from_the_saved_cursor(
    lab: DiscordLab, start_adapter: Start
) -> None:
    room = lab.create_channel("general")
    alice = lab.create_user("Alice")
    adapter, events, context = await start_adapter(room)
    first = lab.post_as_user(room, alice, "seen")
    await events.wait_for(1)
    # a copy we posted: read back by the catch-up, it must be known as ours after a restart
    await adapter.send(RoomRef(ACCOUNT, room), outbound("our copy"))
    await adapter.stop()
    missed = [lab.post_as_user(room, alice, f"while down {i}")["id"] for i in range(3)]
    _, again, _ = await start_adapter(room, context=context)
    await again.wait_for(3)
    assert [e.remote_id for e in await again.quiet()] == missed
    assert context.cursors[f"last:{room}"] == missed[-1]
    assert first["id"] not in [e.remote_id for e in again.events]


async def test_a_burst_respects_the_rate_limit_headers(
    lab: DiscordLab, start_adapter: Start
) -> None:
    room = lab.create_channel("general")
    lab.ratelimiter.config.per_route = 4
    lab.ratelimiter.config.window = 0.3
    adapter, _, _ = await start_adapter(room)
    where = RoomRef(ACCOUNT, room)
    texts = [f"burst {i}" for i in range(14)]
    ids = [await _send_like_the_dispatcher(adapter, where, outbound(t)) for t in texts]
    assert [m["content"] for m in lab.history(room)] == texts
    assert [m["id"] for m in lab.history(room)] == ids
    # discord.py waited on X-RateLimit-Remaining/Reset-After instead of hitting 429s
    assert lab.ratelimiter.refused == 0


async def test_a_429_storm_loses_no_message(lab: DiscordLab, start_adapter: Start) -> None:
    room = lab.create_channel("general")
    adapter, _, _ = await start_adapter(room)
    where = RoomRef(ACCOUNT, room)
    await adapter.send(where, outbound("warm up"))  # the webhook exists before the storm
    texts = [f"storm {i}" for i in range(8)]
    lab.rate_limit_next(12, 0.02)
    lab.rate_limit_next(3, 0.02, is_global=True)
    for text in texts:
        await _send_like_the_dispatcher(adapter, where, outbound(text))
    assert [m["content"] for m in lab.history(room)][1:] == texts
    assert lab.ratelimiter.refused == 15


async def test_long_retry_after_is_handed_to_the_dispatcher(
    lab: DiscordLab, start_adapter: Start
) -> None:
    room = lab.create_channel("general")
    adapter, _, _ = await start_adapter(room, webhooks=False)
    lab.rate_limit_next(1, 120.0)
    with pytest.raises(RateLimited) as caught:
        await adapter.send(RoomRef(ACCOUNT, room), outbound("later"))
    assert caught.value.retry_after == 120.0
    assert lab.history(room) == []


async def test_missing_message_content_intent_warns_and_degrades(
    lab: DiscordLab, start_adapter: Start, caplog: pytest.LogCaptureFixture
) -> None:
    lab.bot.application["flags"] = 0  # the Developer Portal toggle is off
    room = lab.create_channel("general")
    alice = lab.create_user("Alice")
    with caplog.at_level(logging.WARNING):
        adapter, events, _ = await start_adapter(room)
    assert "Message Content intent is not enabled" in caplog.text
    assert "Privileged Gateway Intents" in caplog.text
    lab.post_as_user(room, alice, "this text is withheld by Discord")
    mention = lab.post_as_user(room, alice, f"<@{lab.bot.user['id']}> but this is not")
    [event] = await events.wait_for(1)
    assert event.remote_id == mention["id"] and event.text.endswith("but this is not")
    assert await events.quiet() == [event]
    await adapter.send(RoomRef(ACCOUNT, room), outbound("outbound still works"))
    assert lab.history(room)[-1]["content"] == "outbound still works"
