"""The HTTP API as the network under test: each room is an API account of its own, its
person a matterbridge API client posting and draining over HTTP."""

from __future__ import annotations

import base64
import itertools
from typing import Any

import aiohttp

from bridgebot.lab.relay import ApiClient, api_table, free_port
from tests.contract.drivers.base import Driver, File, MentionSample, Seen

_names = itertools.count(1)


class ApiDriver(Driver):
    """Rooms ``api.labN:api``; Alice posts there, and reads what the bridge delivered."""

    network = "api"
    human_name = "Alice"
    human_reacts = False  # matterbridge's API has no reactions
    # The API is the bridge's own server: while the bridge is stopped nobody can post to it,
    # and the client is told so (connection refused); there is nothing to catch up on.
    catches_up = False
    # The API has no mentions of its own: the text reaches API clients as it was written.
    mention = MentionSample("hi @everyone <!channel> @room", "hi @everyone <!channel> @room")

    def __init__(self) -> None:
        self.ports: dict[str, int] = {}
        self.clients: dict[str, ApiClient] = {}
        self._http: aiohttp.ClientSession | None = None
        # every message each room received, folded into "as it stands now"
        self._shown: dict[str, dict[str, dict[str, Any]]] = {}

    async def start(self) -> None:
        self._http = aiohttp.ClientSession()

    async def stop(self) -> None:
        if self._http is not None:
            await self._http.close()

    async def make_room(self) -> str:
        assert self._http is not None
        name = f"lab{next(_names)}"
        self.ports[name] = port = free_port()
        self.clients[name] = ApiClient(f"http://127.0.0.1:{port}", self._http, user="alice")
        self._shown[name] = {}
        return name

    def accounts_toml(self) -> str:
        return "\n".join(api_table(name, port) for name, port in self.ports.items())

    def accounts(self) -> list[str]:
        return [f"api.{name}" for name in self.ports]

    def ref(self, room: str) -> str:
        return f"api.{room}:api"

    def linked_file(self, text: str, name: str, url: str) -> str:
        return text  # the link is in the message's file list

    async def ready(self, rooms: list[str]) -> None:
        """The API is the bridge's own server: its account up means it listens."""

    def check_harmless(self, copy: Seen) -> None:
        """Nothing to prove: API clients get the text as written, nobody is notified."""

    def check_marked(self, copy: Seen) -> None:
        # matterbridge's fields name where a relayed message came from
        assert (copy.raw["account"], copy.raw["protocol"]) == ("api.hub", "api"), copy.raw

    async def _post(self, room: str, **fields: Any) -> str:
        answer = await self.clients[room].post(username=self.human_name, **fields)
        return str(answer["id"])

    async def post(self, room: str, text: str) -> str:
        return await self._post(room, text=text)

    async def post_markup(self, room: str) -> str:
        # the API speaks the canonical markdown already
        await self._post(room, text="hello **world** @everyone")
        return "hello **world** @everyone"

    async def reply(self, room: str, to: str, text: str) -> str:
        return await self._post(room, text=text, parent_id=to)

    async def edit(self, room: str, message: str, text: str) -> None:
        await self._post(room, text=text, id=message)

    async def delete(self, room: str, message: str) -> None:
        await self._post(room, event="msg_delete", id=message)

    async def post_file(self, room: str, name: str, data: bytes, text: str) -> str:
        files = [{"Name": name, "Data": base64.b64encode(data).decode()}]
        return await self._post(room, text=text, Extra={"file": files})

    async def copies(self, room: str) -> list[Seen]:
        shown = self._shown[room]
        for message in await self.clients[room].drain():
            if message.get("event") == "msg_delete":
                shown.pop(message["id"], None)
            else:
                shown[message["id"]] = message  # an edit comes with the copy's id
        return [_seen(m) for m in shown.values()]

    def sent(self, room: str) -> list[dict[str, Any]]:
        """Every message and event the room received, in order (edits, deletes too)."""
        return self.clients[room].received


def _seen(message: dict[str, Any]) -> Seen:
    files = tuple(
        File(
            f["Name"],
            base64.b64decode(f["Data"]) if f.get("Data") else None,
            f.get("URL") or None,
        )
        for f in (message.get("Extra") or {}).get("file", [])
    )
    return Seen(
        id=message["id"],
        label=message["username"],
        text=message["text"],
        reply_to=message["parent_id"] or None,
        files=files,
        raw=message,
    )
