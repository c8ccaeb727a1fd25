"""Discord ↔ API through a real Hub: the adapter and discord.py against the lab server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from adapters import registry
from adapters.discord import SPEC
from bridgebot.core.hub import Hub
from bridgebot.lab.discord import DiscordLab, RateLimitConfig
from bridgebot.lab.harness import free_port, running_hub

CONFIG = """
[store]
path = "bridgebot.db"

[networks.api.one]
bind = "127.0.0.1:{port}"

[networks.discord.guild]
token = "${{DISCORD_TOKEN}}"
base_url = "{base_url}"
gateway_url = "{gateway_url}"
guild_ready_timeout = 0.05

[[bridges]]
name = "khub"
label = "{{author}} · {{network}}"

  [[bridges.rooms]]
  room = "discord.guild:{channel}"
  privacy = "public"

  [[bridges.rooms]]
  room = "api.one:api"
  privacy = "public"
"""


class Bridge:
    """A running Hub between a lab Discord channel and an API room, plus helpers."""

    def __init__(
        self, hub: Hub, lab: DiscordLab, channel: str, api_url: str, http: aiohttp.ClientSession
    ) -> None:
        self.hub, self.lab, self.channel, self.api_url, self.http = (
            hub,
            lab,
            channel,
            api_url,
            http,
        )
        self.alice = lab.create_user("Alice")

    async def delivered(self) -> None:
        assert self.hub.dispatcher is not None
        async with asyncio.timeout(10):
            await self.hub.dispatcher.idle()

    async def api_post(self, **fields: Any) -> dict[str, Any]:
        body = {"username": "bob", "userid": "bob", "gateway": "khub", **fields}
        async with self.http.post(f"{self.api_url}/api/message", json=body) as resp:
            assert resp.status == 200, await resp.text()
            reply: dict[str, Any] = await resp.json()
            return reply

    async def api_wait(self, count: int) -> list[dict[str, Any]]:
        """Drain the API room until ``count`` messages have arrived in all."""
        got: list[dict[str, Any]] = []
        async with asyncio.timeout(10):
            while len(got) < count:
                async with self.http.get(f"{self.api_url}/api/messages") as resp:
                    got.extend(await resp.json())
                await asyncio.sleep(0.02)
        return got


async def _until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(10):
        while not condition():
            await asyncio.sleep(0.02)


@pytest.fixture
async def bridge(tmp_path: Path) -> AsyncIterator[Bridge]:
    lab = DiscordLab(rate_limits=RateLimitConfig(per_route=1000, window=1.0))
    await lab.start()
    channel = lab.create_channel("residents")
    port = free_port()
    config = CONFIG.format(
        port=port, base_url=lab.api_url, gateway_url=lab.ws_url, channel=channel
    )
    networks = {**registry(), "discord": SPEC}
    try:
        async with (
            running_hub(
                config, tmp_path, env={"DISCORD_TOKEN": lab.bot.token}, registry=networks
            ) as hub,
            aiohttp.ClientSession() as http,
        ):
            # the supervisor starts adapters in the background: wait for the gateway session
            await _until(lambda: lab.gateway.identifies == 1)
            await asyncio.sleep(0.2)  # READY, GUILD_CREATE and guild_ready_timeout
            yield Bridge(hub, lab, channel, f"http://127.0.0.1:{port}", http)
    finally:
        await lab.stop()


async def test_discord_to_api_with_label_reply_and_edit(bridge: Bridge) -> None:
    lab, alice = bridge.lab, bridge.alice
    first = lab.post_as_user(bridge.channel, alice, "hello **world**")
    (got,) = await bridge.api_wait(1)
    assert (got["text"], got["username"]) == ("hello **world**", "Alice · discord")
    lab.post_as_user(bridge.channel, alice, "a reply", reply_to=first["id"])
    (reply,) = await bridge.api_wait(1)
    assert reply["parent_id"] == got["id"]
    lab.edit_as_user(bridge.channel, first["id"], "hello, edited")
    (edit,) = await bridge.api_wait(1)
    assert (edit["id"], edit["text"]) == (got["id"], "hello, edited")


async def test_api_to_discord_through_a_webhook_pings_nobody(bridge: Bridge) -> None:
    lab = bridge.lab
    first = await bridge.api_post(text="hi @everyone and @here")
    await bridge.delivered()
    (copy,) = lab.history(bridge.channel)
    assert copy["webhook_id"] and copy["author"]["username"] == "bob · api"
    assert copy["content"] == "hi @\u200beveryone and @\u200bhere"
    assert lab.pings == []
    await bridge.api_post(text="a reply", parent_id=first["id"])
    await bridge.delivered()
    assert lab.history(bridge.channel)[1]["content"].startswith("> ↪ ")
    await bridge.api_post(text="hi, edited", id=first["id"])
    await bridge.delivered()
    assert lab.history(bridge.channel)[0]["content"] == "hi, edited"
    await bridge.api_post(event="msg_delete", id=first["id"])
    await bridge.delivered()
    assert [m["content"] for m in lab.history(bridge.channel)][-1].endswith("a reply")
    assert len(lab.history(bridge.channel)) == 1
    # nothing of ours came back into the API room
    async with bridge.http.get(f"{bridge.api_url}/api/messages") as resp:
        assert await resp.json() == []
