"""Matrix: the session's real Synapse; Alice is a matrix-nio client, and the bot's posts
are read back from the room's history on the server."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import aiohttp

from bridgebot.lab.relay import eventually, matrix_table
from bridgebot.lab.synapse import MatrixUser, Synapse
from tests.contract.drivers.base import Driver, File, MentionSample, Seen
from tests.matrix.conftest import Human, unique

ORIGIN_KEY = "org.bridgebot.origin"  # the marker every copy carries in its content
HTML = "org.matrix.custom.html"


class MatrixDriver(Driver):
    """Public rooms that Alice creates; the bot account joins them when it starts."""

    network = "matrix"
    account = "matrix.lab"
    human_name = "Alice"
    # the adapter stores its /sync token and pages back from it after a restart
    catches_up = True
    mention = MentionSample("hi @room", "hi @\u2060room")
    wait: ClassVar[float] = 60.0  # Synapse shares two busy cores with everything else

    def __init__(self, synapse: Synapse) -> None:
        self.synapse = synapse
        self.bot: MatrixUser | None = None
        self.alice: Human | None = None
        self._http: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self.bot = await asyncio.to_thread(self.synapse.register, unique("bot"))
        user = await asyncio.to_thread(self.synapse.register, unique("alice"))
        self.alice = Human(self.synapse, user)
        await self.alice.client.set_displayname(self.human_name)
        self._http = aiohttp.ClientSession()

    async def stop(self) -> None:
        if self.alice is not None:
            await self.alice.close()
        if self._http is not None:
            await self._http.close()

    def _alice(self) -> Human:
        assert self.alice is not None, "start() first"
        return self.alice

    async def make_room(self) -> str:
        return await self._alice().create_room()

    def accounts_toml(self) -> str:
        assert self.bot is not None
        return matrix_table(self.synapse.url, self.bot.user_id, sync_timeout=1.0)

    def env(self) -> dict[str, str]:
        assert self.bot is not None
        return {"MATRIX_PASSWORD": self.bot.password}

    async def ready(self, rooms: list[str]) -> None:
        assert self.bot is not None
        bot = self.bot.user_id

        async def joined() -> bool:
            for room in rooms:
                members = await self._alice().client.joined_members(room)
                if bot not in {m.user_id for m in getattr(members, "members", [])}:
                    return False
            return True

        await eventually(joined, self.wait, interval=0.2, what=f"{bot} in {rooms}")

    # ---- Alice ---------------------------------------------------------------------------

    async def post(self, room: str, text: str) -> str:
        return await self._alice().say(room, text)

    async def post_markup(self, room: str) -> str:
        await self._alice().say(
            room, "hello world", format=HTML, formatted_body="hello <strong>world</strong>"
        )
        return "hello **world**"

    async def reply(self, room: str, to: str, text: str) -> str:
        # as Element sends it: the quoted fallback in the body, the relation beside it
        relation = {"m.in_reply_to": {"event_id": to}}
        return await self._alice().say(
            room, f"> <x> quoted\n\n{text}", **{"m.relates_to": relation}
        )

    async def edit(self, room: str, message: str, text: str) -> None:
        await self._alice().send(
            room,
            {
                "msgtype": "m.text",
                "body": f"* {text}",
                "m.new_content": {"msgtype": "m.text", "body": text},
                "m.relates_to": {"rel_type": "m.replace", "event_id": message},
            },
        )

    async def delete(self, room: str, message: str) -> None:
        await self._alice().client.room_redact(room, message)

    async def react(self, room: str, message: str, emoji: str) -> None:
        relation = {"rel_type": "m.annotation", "event_id": message, "key": emoji}
        await self._alice().send(room, {"m.relates_to": relation}, "m.reaction")

    async def post_file(self, room: str, name: str, data: bytes, text: str) -> str:
        assert self._http is not None
        token = self._alice().user.access_token
        async with self._http.post(
            f"{self.synapse.url}/_matrix/media/v3/upload",
            params={"filename": name},
            data=data,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "text/plain"},
        ) as resp:
            assert resp.status == 200, await resp.text()
            mxc = (await resp.json())["content_uri"]
        content = {
            "msgtype": "m.file",
            "body": text,  # a caption (the file's name is in "filename")
            "filename": name,
            "url": mxc,
            "info": {"mimetype": "text/plain", "size": len(data)},
        }
        return await self._alice().send(room, content)

    async def fetch(self, url: str) -> bytes:
        """Synapse serves media to signed-in users only: Alice's token fetches it."""
        assert self._http is not None
        headers = {"Authorization": f"Bearer {self._alice().user.access_token}"}
        async with self._http.get(url, headers=headers) as resp:
            assert resp.status == 200, f"{url}: {resp.status}"
            return await resp.read()

    # ---- the bot's posts -----------------------------------------------------------------

    async def copies(self, room: str) -> list[Seen]:
        assert self.bot is not None
        events = [e for e in await self._alice().history(room) if e["sender"] == self.bot.user_id]
        shown: dict[str, dict[str, Any]] = {}
        reactions: dict[str, set[str]] = {}
        for event in events:
            content = event.get("content") or {}
            relation = content.get("m.relates_to") or {}
            if event["type"] == "m.reaction":
                reactions.setdefault(relation["event_id"], set()).add(relation["key"])
            elif event["type"] != "m.room.message" or not content:
                continue  # state, or redacted: gone from what people see
            elif relation.get("rel_type") == "m.replace":
                target = shown.get(relation["event_id"])
                if target is not None:
                    target["content"] = {**target["content"], **content["m.new_content"]}
            else:
                shown[event["event_id"]] = {**event, "content": dict(content)}
        return [
            await self._seen(e, frozenset(reactions.get(e["event_id"], ())))
            for e in shown.values()
        ]

    async def _seen(self, event: dict[str, Any], reactions: frozenset[str]) -> Seen:
        content = event["content"]
        relation = content.get("m.relates_to") or {}
        reply_to = (relation.get("m.in_reply_to") or {}).get("event_id")
        files: tuple[File, ...] = ()
        label, text = "", str(content.get("body", ""))
        if "url" in content:
            server, _, media = content["url"].removeprefix("mxc://").partition("/")
            url = f"{self.synapse.url}/_matrix/client/v1/media/download/{server}/{media}"
            files = (File(str(content.get("filename") or text), await self.fetch(url)),)
        elif ": " in text:
            label, text = text.split(": ", 1)
        return Seen(
            id=event["event_id"],
            label=label,
            text=text,
            reply_to=reply_to,
            files=files,
            reactions=reactions,
            raw=event,
        )

    def linked_file(self, text: str, name: str, url: str) -> str:
        return f"{text}\n{name}: {url}"

    def check_harmless(self, copy: Seen) -> None:
        # an empty m.mentions: clients skip the body-matching push rules, so nobody is pinged
        assert copy.raw["content"]["m.mentions"] == {}, copy.raw

    def check_marked(self, copy: Seen) -> None:
        assert ORIGIN_KEY in copy.raw["content"], copy.raw
