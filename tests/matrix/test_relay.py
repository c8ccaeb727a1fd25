"""Matrix ↔ API relay through a real Hub, with labels, against the real Synapse."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

import adapters
from adapters.matrix import SPEC
from bridgebot.lab.harness import free_port, running_hub
from tests.matrix.conftest import WAIT, BotFactory, Human

People = Callable[..., Awaitable[Human]]


def config(api_port: int, bot: BotFactory, room: str) -> str:
    return f"""
[store]
path = "bridgebot.db"

[networks.api.a]
bind = "127.0.0.1:{api_port}"

[networks.matrix.home]
homeserver = "{bot.synapse.url}"
user_id = "{bot.user.user_id}"
password = "${{MATRIX_PASSWORD}}"
sync_timeout = 1.0

[[bridges]]
name = "khub"
label = "{{author}} · {{network}}"

[[bridges.rooms]]
room = "api.a:api"
privacy = "public"

[[bridges.rooms]]
room = "matrix.home:{room}"
privacy = "public"
"""


async def test_matrix_and_api_relay_both_ways(
    tmp_path: Path, bot: BotFactory, people: People
) -> None:
    alice = await people("alice", "Alice")
    room = await alice.create_room()
    port = free_port()
    registry = {**adapters.registry(), "matrix": SPEC}
    env = {"MATRIX_PASSWORD": bot.user.password}
    async with (
        running_hub(config(port, bot, room), tmp_path, env=env, registry=registry),
        aiohttp.ClientSession() as http,
    ):
        api = f"http://127.0.0.1:{port}"
        body = {"username": "bob", "userid": "bob", "gateway": "khub", "text": "hi @room"}
        async with http.post(f"{api}/api/message", json=body) as resp:
            assert resp.status == 200, await resp.text()
        await alice.say(room, "hello from matrix")

        relayed: list[dict[str, Any]] = []
        async with asyncio.timeout(WAIT):
            while True:
                from_bot = [
                    e for e in await alice.messages(room) if e["sender"] == bot.user.user_id
                ]
                async with http.get(f"{api}/api/messages") as resp:
                    relayed += await resp.json()
                if from_bot and relayed:
                    break
                await asyncio.sleep(0.2)

    (copy,) = from_bot
    assert copy["content"]["body"] == "bob · api: hi @\u2060room"
    assert copy["content"]["m.mentions"] == {}
    (message,) = relayed
    assert (message["text"], message["username"]) == ("hello from matrix", "Alice · matrix")


async def test_reply_edit_delete_made_on_matrix_reach_the_api(
    tmp_path: Path, bot: BotFactory, people: People
) -> None:
    alice = await people("alice", "Alice")
    room = await alice.create_room()
    port = free_port()
    registry = {**adapters.registry(), "matrix": SPEC}
    env = {"MATRIX_PASSWORD": bot.user.password}
    api = f"http://127.0.0.1:{port}"
    async with (
        running_hub(config(port, bot, room), tmp_path, env=env, registry=registry),
        aiohttp.ClientSession() as http,
    ):
        received: list[dict[str, Any]] = []

        async def api_gets(count: int) -> list[dict[str, Any]]:
            async with asyncio.timeout(WAIT):
                while len(received) < count:
                    async with http.get(f"{api}/api/messages") as resp:
                        received.extend(await resp.json())
                    await asyncio.sleep(0.1)
            return received

        root = await alice.say(room, "root")
        (copy,) = await api_gets(1)
        answer = await alice.say(
            room, "> <x> root\n\nreply", **{"m.relates_to": {"m.in_reply_to": {"event_id": root}}}
        )
        await api_gets(2)
        await alice.send(
            room,
            {
                "msgtype": "m.text",
                "body": "* root v2",
                "m.new_content": {"msgtype": "m.text", "body": "root v2"},
                "m.relates_to": {"rel_type": "m.replace", "event_id": root},
            },
        )
        await api_gets(3)
        await alice.client.room_redact(room, root)
        await api_gets(4)

        # And back: an API reply to the Matrix message lands as a Matrix reply.
        body = {"username": "bob", "userid": "bob", "gateway": "khub", "text": "re",
                "parent_id": received[1]["id"]}  # fmt: skip
        async with http.post(f"{api}/api/message", json=body) as resp:
            assert resp.status == 200, await resp.text()
        async with asyncio.timeout(WAIT):
            while not (mine := [e for e in await alice.messages(room)
                                if e["sender"] == bot.user.user_id]):  # fmt: skip
                await asyncio.sleep(0.2)

    reply, edit, delete = received[1:4]
    assert (reply["text"], reply["parent_id"]) == ("reply", copy["id"])
    assert (edit["id"], edit["text"]) == (copy["id"], "root v2")
    assert (delete["event"], delete["id"]) == ("msg_delete", copy["id"])
    (matrix_reply,) = mine
    assert matrix_reply["content"]["m.relates_to"] == {"m.in_reply_to": {"event_id": answer}}
