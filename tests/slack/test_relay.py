"""Slack ↔ API through a real Hub: the Slack adapter and slack-bolt against the lab."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from adapters import registry
from adapters.slack import SPEC
from bridgebot.core.hub import Hub
from bridgebot.lab.harness import free_port, running_hub
from bridgebot.lab.slack import SlackLab

CONFIG = """
[store]
path = "bridgebot.db"

[networks.api.one]
bind = "127.0.0.1:{port}"

[networks.slack.work]
bot_token = "${{SLACK_BOT_TOKEN}}"
app_token = "${{SLACK_APP_TOKEN}}"
base_url = "{base_url}"
ping_interval = 0.5
{extra}
[[bridges]]
name = "khub"
label = "{{author}} · {{network}}"

  [[bridges.rooms]]
  room = "slack.work:#general"
  privacy = "public"

  [[bridges.rooms]]
  room = "api.one:api"
  privacy = "public"
"""


#: The lab enforces 50/s, burst 20 (tests/slack/conftest.py); the dispatcher's Slack bucket
#: sits under it, as it should under Slack's real 1/s (see test_burst_through_the_hub).
RATES = """
[dispatch.rate.slack]
per_room = 45
room_burst = 19
"""


class Bridge:
    """A running Hub between the lab's #general and an API room, plus helpers."""

    def __init__(self, hub: Hub, lab: SlackLab, api_url: str, http: aiohttp.ClientSession):
        self.hub, self.lab, self.api_url, self.http = hub, lab, api_url, http

    async def settle(self) -> None:
        """Wait until Slack's events are accepted and every delivery is made."""
        async with asyncio.timeout(10):
            await self.lab.wait_acked()
            assert self.hub.dispatcher is not None
            await self.hub.dispatcher.idle()
            await self.lab.wait_acked()  # our own copies' echoes, dropped by the adapter
            await self.hub.dispatcher.idle()

    async def api_post(self, **fields: Any) -> dict[str, Any]:
        body = {"username": "bob", "userid": "bob", "gateway": "khub", **fields}
        async with self.http.post(f"{self.api_url}/api/message", json=body) as resp:
            assert resp.status == 200, await resp.text()
            reply: dict[str, Any] = await resp.json()
            return reply

    async def api_drain(self) -> list[dict[str, Any]]:
        async with self.http.get(f"{self.api_url}/api/messages") as resp:
            data: list[dict[str, Any]] = await resp.json()
            return data


@contextlib.asynccontextmanager
async def open_bridge(lab: SlackLab, tmp_path: Path, rates: str) -> AsyncIterator[Bridge]:
    lab.add_channel("general")
    port = free_port()
    config = CONFIG.format(port=port, base_url=lab.api_url, extra=rates)
    env = {"SLACK_BOT_TOKEN": lab.bot_token, "SLACK_APP_TOKEN": lab.app_token}
    networks = {**registry(), "slack": SPEC}
    async with (
        running_hub(config, tmp_path, env=env, registry=networks) as hub,
        aiohttp.ClientSession() as http,
    ):
        async with asyncio.timeout(10):
            while not lab.sockets.connections:
                await asyncio.sleep(0.02)  # the supervisor starts adapters in the background
        yield Bridge(hub, lab, f"http://127.0.0.1:{port}", http)


@pytest.fixture
async def bridge(lab: SlackLab, tmp_path: Path) -> AsyncIterator[Bridge]:
    async with open_bridge(lab, tmp_path, RATES) as bridge:
        yield bridge


async def test_slack_to_api_with_label_thread_edit_and_delete(bridge: Bridge) -> None:
    lab = bridge.lab
    alice = lab.add_user("alice", display_name="Alice")
    general = lab.world.find_channel("general")
    assert general is not None
    general.members.add(alice)
    parent = lab.post_as_user("general", alice, "hello from *slack* <!here>")
    await bridge.settle()
    reply = lab.post_as_user("general", alice, "in the thread", thread_ts=parent["ts"])
    await bridge.settle()
    lab.edit_as_user("general", reply["ts"], "in the thread, edited")
    await bridge.settle()
    lab.delete_as_user("general", parent["ts"])
    await bridge.settle()
    got = await bridge.api_drain()
    assert got[0]["text"] == "hello from **slack** @here"
    assert got[0]["username"] == "Alice · slack"
    assert got[1]["parent_id"] == got[0]["id"]
    assert got[2]["text"] == "in the thread, edited" and got[2]["id"] == got[1]["id"]
    assert got[3]["event"] == "msg_delete" and got[3]["id"] == got[0]["id"]
    assert len(got) == 4


async def test_api_to_slack_with_identity_reply_edit_and_delete(bridge: Bridge) -> None:
    lab = bridge.lab
    first = await bridge.api_post(text="hello from <!channel> api [x](https://evil.example)")
    await bridge.settle()
    (copy,) = lab.history("general")
    assert copy["username"] == "bob · api"
    assert copy["text"] == "hello from &lt;!channel&gt; api <https://evil.example|x>"
    assert copy["metadata"]["event_type"] == "bridgebot_relay"
    await bridge.api_post(text="a reply", parent_id=first["id"])
    await bridge.settle()
    assert lab.history("general")[1]["thread_ts"] == copy["ts"]
    await bridge.api_post(text="hello, edited", id=first["id"])
    await bridge.settle()
    assert lab.history("general")[0]["text"] == "hello, edited"
    await bridge.api_post(event="msg_delete", id=first["id"])
    await bridge.settle()
    assert [m["text"] for m in lab.history("general")] == ["a reply"]
    # Nothing came back: the adapter dropped its own copies' events.
    assert await bridge.api_drain() == []


async def test_files_cross_both_ways(bridge: Bridge) -> None:
    lab = bridge.lab
    alice = lab.add_user("alice", display_name="Alice")
    general = lab.world.find_channel("general")
    assert general is not None
    general.members.add(alice)
    lab.upload_as_user("general", alice, "minutes.txt", b"the minutes", text="notes")
    await bridge.settle()
    (got,) = await bridge.api_drain()
    (file,) = got["Extra"]["file"]
    assert (got["text"], file["Name"]) == ("notes", "minutes.txt")
    # Fetched with the bot token: Slack's url_private would be useless to API clients.
    assert base64.b64decode(file["Data"]) == b"the minutes"

    data = base64.b64encode(b"agenda items").decode()
    await bridge.api_post(
        text="agenda",
        Extra={
            "file": [
                {"Name": "agenda.txt", "Data": data},
                {"Name": "video.mp4", "URL": "https://files.example/video.mp4"},
            ]
        },
    )
    await bridge.settle()
    *_, text_copy, file_copy = lab.history("general")
    assert text_copy["text"] == "agenda\n<https://files.example/video.mp4|video.mp4>"
    (shared,) = file_copy["files"]
    assert shared["name"] == "agenda.txt"
    assert lab.file_data(shared["id"]) == b"agenda items"
    assert await bridge.api_drain() == []  # the copies did not echo back


async def test_burst_through_the_hub_meets_the_limit_without_429(bridge: Bridge) -> None:
    """60 API posts into one Slack channel: paced by the dispatcher, zero 429s."""
    lab = bridge.lab
    start = time.monotonic()
    for n in range(60):
        await bridge.api_post(text=f"burst {n}")
    async with asyncio.timeout(20):
        while len(lab.history("general")) < 60:
            await asyncio.sleep(0.01)  # polling the lab's history; it has no event for this
    elapsed = time.monotonic() - start
    ideal = (60 - 20) / 50
    print(
        f"slack relay burst: 60 in {elapsed:.2f}s, ideal {ideal:.2f}s, 429s {lab.api.rate_limited}"
    )
    assert lab.api.rate_limited == 0
    assert [m["text"] for m in lab.history("general")] == [f"burst {n}" for n in range(60)]


async def test_pacing_faster_than_slack_meets_429s_loses_nothing_and_counts_them(
    lab: SlackLab, tmp_path: Path
) -> None:
    """A bot.toml that paces above the server's limit: the lab answers 429, the dispatcher
    waits its Retry-After, every post lands once in order, and /metrics counts each 429."""
    too_fast = "[dispatch.rate.slack]\nper_room = 500\nroom_burst = 100\n"
    async with open_bridge(lab, tmp_path, too_fast) as bridge:
        for n in range(60):
            await bridge.api_post(text=f"burst {n}")
        async with asyncio.timeout(20):
            while len(lab.history("general")) < 60:
                await asyncio.sleep(0.01)
        assert bridge.hub.dispatcher is not None
        await bridge.hub.dispatcher.idle()
        assert [m["text"] for m in lab.history("general")] == [f"burst {n}" for n in range(60)]
        assert lab.api.rate_limited > 0
        metrics = bridge.hub.metrics.render().decode()
        assert f'bridgebot_rate_limited_total{{network="slack"}} {lab.api.rate_limited:.1f}' in (
            metrics
        )


async def test_socket_drop_mid_burst_through_the_hub_loses_nothing(bridge: Bridge) -> None:
    lab = bridge.lab
    alice = lab.add_user("alice", display_name="Alice")
    general = lab.world.find_channel("general")
    assert general is not None
    general.members.add(alice)
    for n in range(30):
        lab.post_as_user("general", alice, f"m{n}")
    await asyncio.sleep(0.01)  # let some of them go out on the first socket
    await lab.drop_sockets()
    for n in range(30, 60):
        lab.post_as_user("general", alice, f"m{n}")
    await bridge.settle()
    texts = [m["text"] for m in await bridge.api_drain()]
    assert texts == [f"m{n}" for n in range(60)]  # each once, in order
    assert lab.sockets.connects >= 2
