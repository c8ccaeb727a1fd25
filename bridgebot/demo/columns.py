"""One column of the demo page per network: start its lab, post as a person, read the room.

Each column owns a lab server (or, for the API, an API account the bridge listens on), the
bot.toml lines that point bridgebot at it, and two operations for the page: ``post`` as
that network's demo person and ``messages`` as a person on that network would see them.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp

from bridgebot.lab.discord import DiscordLab
from bridgebot.lab.harness import free_port
from bridgebot.lab.slack import SlackLab
from bridgebot.lab.telegram import TelegramLab

__all__ = ["ApiColumn", "Column", "DiscordColumn", "Line", "SlackColumn", "TelegramColumn"]


@dataclass(frozen=True, slots=True)
class Line:
    """A message as the page shows it."""

    author: str
    text: str
    relayed: bool


class Column(Protocol):
    network: str
    title: str
    person: str
    privacy: str
    room: str  # ACCOUNT:ROOM, as in bot.toml
    env: dict[str, str]

    def toml(self) -> str: ...
    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def post(self, text: str) -> None: ...
    async def messages(self) -> list[Line]: ...


@dataclass
class SlackColumn:
    privacy: str = "public"
    network: str = "slack"
    title: str = "Slack #general"
    person: str = "Alice"
    room: str = "slack.lab:#general"
    env: dict[str, str] = field(default_factory=dict)
    lab: SlackLab = field(default_factory=SlackLab)
    _user: str = ""
    _names: dict[str, str] = field(default_factory=dict)

    async def start(self) -> None:
        await self.lab.start()
        self._user = self.lab.add_user("alice", display_name=self.person)
        self._names[self._user] = self.person
        self.lab.add_channel("general", members=(self._user,))
        self.env = {"SLACK_BOT_TOKEN": self.lab.bot_token, "SLACK_APP_TOKEN": self.lab.app_token}

    def toml(self) -> str:
        return self.lab.account_toml()

    async def stop(self) -> None:
        await self.lab.stop()

    async def post(self, text: str) -> None:
        self.lab.post_as_user("#general", self._user, text)

    async def messages(self) -> list[Line]:
        lines = []
        for m in self.lab.history("#general"):
            relayed = m.get("user") not in self._names
            author = m.get("username") or self._names.get(m.get("user", ""), "bridgebot")
            lines.append(Line(author, m.get("text", ""), relayed))
        return lines


@dataclass
class DiscordColumn:
    privacy: str = "public"
    network: str = "discord"
    title: str = "Discord #residents"
    person: str = "Bob"
    room: str = ""
    env: dict[str, str] = field(default_factory=dict)
    lab: DiscordLab = field(default_factory=DiscordLab)
    _user: str = ""
    _channel: str = ""

    async def start(self) -> None:
        await self.lab.start()
        self._user = self.lab.create_user(self.person)
        self._channel = self.lab.create_channel("residents")
        self.room = f"discord.lab:{self._channel}"
        self.env = {"DISCORD_TOKEN": self.lab.bot.token}

    def toml(self) -> str:
        return self.lab.account_toml()

    async def stop(self) -> None:
        await self.lab.stop()

    async def post(self, text: str) -> None:
        self.lab.post_as_user(self._channel, self._user, text)

    async def messages(self) -> list[Line]:
        lines = []
        for m in self.lab.history(self._channel):
            author = m.get("author", {})
            relayed = author.get("id") != self._user
            lines.append(Line(author.get("username", "?"), m.get("content", ""), relayed))
        return lines


@dataclass
class TelegramColumn:
    privacy: str = "internal"
    network: str = "telegram"
    title: str = "Telegram: Residents group"
    person: str = "Chidi"
    room: str = ""
    env: dict[str, str] = field(default_factory=dict)
    lab: TelegramLab = field(default_factory=TelegramLab)
    _user: int = 0
    _chat: int = 0

    async def start(self) -> None:
        await self.lab.start()
        bot = self.lab.create_bot("bridgebot")
        self._user = int(self.lab.create_user(self.person)["id"])
        self._chat = int(
            self.lab.create_chat("Residents", members=(self._user,), admins=(bot.id,)).id
        )
        self.room = f"telegram.lab:{self._chat}"
        self.env = {"TELEGRAM_TOKEN": bot.token}

    def toml(self) -> str:
        return self.lab.account_toml(poll_timeout=1)

    async def stop(self) -> None:
        await self.lab.stop()

    async def post(self, text: str) -> None:
        self.lab.post_as_user(self._chat, self._user, text)

    async def messages(self) -> list[Line]:
        lines = []
        for m in self.lab.history(self._chat):
            sender = m.get("from", {})
            relayed = sender.get("id") != self._user
            text = m.get("text") or m.get("caption") or ""
            lines.append(Line(sender.get("first_name", "?"), text, relayed))
        return lines


@dataclass
class ApiColumn:
    """The matterbridge-compatible API: the demo is its client, over the websocket."""

    privacy: str = "public"
    network: str = "api"
    title: str = "HTTP API (matterbridge-compatible)"
    person: str = "Fay"
    room: str = "api.lab:api"
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    _lines: list[Line] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None
    _session: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def toml(self) -> str:
        return f'[networks.api.lab]\nbind = "127.0.0.1:{self.port}"\n'

    async def start(self) -> None:
        self._session = aiohttp.ClientSession()

    async def connect(self) -> None:
        """Start reading the room (after the bridge listens)."""
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self._session is not None
        while True:
            try:
                async with self._session.ws_connect(f"{self.url}/api/websocket") as ws:
                    async for frame in ws:
                        msg: dict[str, Any] = json.loads(frame.data)
                        if msg.get("event") in ("", None) and msg.get("text"):
                            self._lines.append(Line(msg.get("username", "?"), msg["text"], True))
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.5)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    async def post(self, text: str) -> None:
        assert self._session is not None
        body = {"text": text, "username": self.person, "userid": "fay", "gateway": "khub"}
        async with self._session.post(f"{self.url}/api/message", json=body) as resp:
            if resp.status == 200:
                self._lines.append(Line(self.person, text, False))

    async def messages(self) -> list[Line]:
        return list(self._lines)
