"""Malformed gateway payloads are dropped with a log line; the adapter keeps going."""

from __future__ import annotations

import logging

import pytest

from bridgebot.lab.discord import DiscordLab

from .conftest import Start


@pytest.mark.parametrize(
    "bad",
    [
        {"id": "not-a-number", "content": "x"},
        {"content": "no id, no author"},
        {"id": "123", "author": "a string", "content": "x", "attachments": "nope"},
    ],
)
async def test_malformed_message_is_dropped_and_the_stream_continues(
    lab: DiscordLab, start_adapter: Start, caplog: pytest.LogCaptureFixture, bad: dict[str, object]
) -> None:
    room = lab.create_channel("general")
    alice = lab.create_user("Alice")
    _, events, _ = await start_adapter(room)
    with caplog.at_level(logging.WARNING):
        lab.gateway.dispatch("MESSAGE_CREATE", {"channel_id": room, **bad}, "GUILD_MESSAGES")
        good = lab.post_as_user(room, alice, "still flowing")
        [event] = await events.wait_for(1, within=15)
    assert event.remote_id == good["id"]
    assert "x" not in [e.text for e in events.events]
