"""Telegram ↔ API through a real Hub: the adapter and python-telegram-bot against the lab."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from adapters import registry
from adapters.telegram import SPEC
from bridgebot.core.hub import Hub
from bridgebot.lab.harness import free_port, running_hub
from bridgebot.lab.telegram import RateLimits, TelegramLab

CONFIG = """
[store]
path = "bridgebot.db"

[networks.api.one]
bind = "127.0.0.1:{port}"

[networks.telegram.bot]
token = "${{TELEGRAM_TOKEN}}"
base_url = "{base_url}"
base_file_url = "{file_url}"
poll_timeout = 5

[[bridges]]
name = "khub"
label = "{{author}} · {{network}}"

  [[bridges.rooms]]
  room = "telegram.bot:{group}"
  privacy = "public"

  [[bridges.rooms]]
  room = "api.one:api"
  privacy = "public"
"""


class Bridge:
    """A running Hub between a lab Telegram group and an API room, plus helpers."""

    def __init__(
        self, hub: Hub, lab: TelegramLab, group: int, api_url: str, http: aiohttp.ClientSession
    ) -> None:
        self.hub, self.lab, self.group, self.api_url, self.http = hub, lab, group, api_url, http
        self.alice = lab.create_user("Alice", "alice")
        lab.chats[group].members[self.alice["id"]] = "member"

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
    lab = TelegramLab(RateLimits(time_scale=0.001))
    await lab.start()
    bot = lab.create_bot("bridgebot")
    group = lab.create_chat("Residents", admins=(bot.id,))
    port = free_port()
    config = CONFIG.format(port=port, base_url=lab.api_url, file_url=lab.file_url, group=group.id)
    networks = {**registry(), "telegram": SPEC}
    try:
        async with (
            running_hub(
                config, tmp_path, env={"TELEGRAM_TOKEN": bot.token}, registry=networks
            ) as hub,
            aiohttp.ClientSession() as http,
        ):
            # the supervisor starts adapters in the background: wait for the first long poll
            await _until(lambda: any(m == "getUpdates" for m, _ in lab.requests))
            yield Bridge(hub, lab, group.id, f"http://127.0.0.1:{port}", http)
    finally:
        await lab.stop()


async def test_telegram_to_api_with_label_reply_and_edit(bridge: Bridge) -> None:
    lab, alice = bridge.lab, bridge.alice
    bold = [{"type": "bold", "offset": 0, "length": 5}]
    first = lab.post_as_user(bridge.group, alice["id"], "hello <world>", entities=bold)
    (got,) = await bridge.api_wait(1)
    assert (got["text"], got["username"]) == ("**hello** <world>", "Alice · telegram")
    lab.post_as_user(bridge.group, alice["id"], "a reply", reply_to=first["message_id"])
    (reply,) = await bridge.api_wait(1)
    assert reply["parent_id"] == got["id"]
    lab.edit_as_user(bridge.group, first["message_id"], "hello, edited")
    (edit,) = await bridge.api_wait(1)
    assert (edit["id"], edit["text"]) == (got["id"], "hello, edited")


async def test_api_to_telegram_escaped_with_reply_edit_and_delete(bridge: Bridge) -> None:
    lab = bridge.lab
    first = await bridge.api_post(text="hi <script>alert(1)</script> @everyone")
    await bridge.delivered()
    (copy,) = lab.history(bridge.group)
    assert copy["text"] == "bob · api: hi <script>alert(1)</script> @\u2060everyone"
    assert copy["entities"] == [{"type": "bold", "offset": 0, "length": 9}]
    await bridge.api_post(text="a reply", parent_id=first["id"])
    await bridge.delivered()
    assert lab.history(bridge.group)[1]["reply_to_message"]["message_id"] == copy["message_id"]
    await bridge.api_post(text="hi, edited", id=first["id"])
    await bridge.delivered()
    assert lab.history(bridge.group)[0]["text"] == "bob · api: hi, edited"
    await bridge.api_post(event="msg_delete", id=first["id"])
    await bridge.delivered()
    assert [m["text"] for m in lab.history(bridge.group)] == ["bob · api: a reply"]
