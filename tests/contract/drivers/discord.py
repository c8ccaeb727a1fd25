"""Discord: the lab server (REST + gateway) that discord.py talks to; Alice acts through the
lab's control surface, as the Discord client would."""

from __future__ import annotations

import itertools
import re
from typing import Any

import aiohttp

from bridgebot.lab.discord import DiscordLab, RateLimitConfig
from bridgebot.lab.relay import eventually
from tests.contract.drivers.base import Driver, File, MentionSample, Seen

_names = itertools.count(1)
#: how a webhook post shows the message it answers (webhooks cannot reply natively)
_QUOTE = re.compile(r"^> ↪ (?P<quote>.*)\n")
_LINK = re.compile(r"^<https://discord\.com/channels/[^/]+/[^/]+/(?P<id>\d+)>$")


class DiscordDriver(Driver):
    """Text channels in the lab guild; Alice is a member, the bot posts through webhooks."""

    network = "discord"
    account = "discord.lab"
    human_name = "Alice"
    # after a new gateway session the adapter reads each channel's history since the last
    # message it reported
    catches_up = True
    mention = MentionSample("hi @everyone and @here", "hi @\u200beveryone and @\u200bhere")

    def __init__(self) -> None:
        self.lab = DiscordLab(
            rate_limits=RateLimitConfig(per_route=1000, window=1.0, global_per_second=10_000)
        )
        self.alice = ""
        self._sessions = 0

    async def start(self) -> None:
        await self.lab.start()
        self.alice = self.lab.create_user(self.human_name)

    async def stop(self) -> None:
        await self.lab.stop()

    async def make_room(self) -> str:
        return self.lab.create_channel(f"room{next(_names)}")

    def accounts_toml(self) -> str:
        return self.lab.account_toml(guild_ready_timeout=0.05)

    def env(self) -> dict[str, str]:
        return {"DISCORD_TOKEN": self.lab.bot.token}

    async def ready(self, rooms: list[str]) -> None:
        # a new gateway session (IDENTIFY) per start: events from now on are queued for it
        await eventually(lambda: self.lab.gateway.identifies > self._sessions, self.wait)
        self._sessions = self.lab.gateway.identifies

    # ---- Alice ---------------------------------------------------------------------------

    async def post(self, room: str, text: str) -> str:
        return str(self.lab.post_as_user(room, self.alice, text)["id"])

    async def post_markup(self, room: str) -> str:
        self.lab.post_as_user(room, self.alice, "hello **world**")
        return "hello **world**"

    async def reply(self, room: str, to: str, text: str) -> str:
        return str(self.lab.post_as_user(room, self.alice, text, reply_to=to)["id"])

    async def edit(self, room: str, message: str, text: str) -> None:
        self.lab.edit_as_user(room, message, text)

    async def delete(self, room: str, message: str) -> None:
        self.lab.delete_as_user(room, message)

    async def react(self, room: str, message: str, emoji: str) -> None:
        self.lab.react(room, message, self.alice, emoji)

    async def post_file(self, room: str, name: str, data: bytes, text: str) -> str:
        attachment = (name, "text/plain", data)
        return str(self.lab.post_as_user(room, self.alice, text, attachments=[attachment])["id"])

    async def fetch(self, url: str) -> bytes:
        """Attachment links are open to anyone who has them, as Discord's CDN links are."""
        async with aiohttp.ClientSession() as http, http.get(url) as resp:
            assert resp.status == 200, f"{url}: {resp.status}"
            return await resp.read()

    # ---- the bot's posts -----------------------------------------------------------------

    async def copies(self, room: str) -> list[Seen]:
        history = self.lab.history(room)
        bot = self.lab.bot.user["id"]
        return [_seen(self.lab, history, m, bot) for m in history if m["author"].get("bot")]

    def linked_file(self, text: str, name: str, url: str) -> str:
        return f"{text}\n📎 {name}: <{url}>"

    def check_harmless(self, copy: Seen) -> None:
        assert self.lab.pings == [], self.lab.pings

    def check_marked(self, copy: Seen) -> None:
        # posted through the channel's webhook, under the author's label
        assert copy.raw["webhook_id"], copy.raw


def _shown_name(message: dict[str, Any]) -> str:
    author = message["author"]
    return str(author.get("global_name") or author["username"])


def _quoted(history: list[dict[str, Any]], quote: str) -> str | None:
    """The id of the message a reply quote shows: by its jump link, else by author and text."""
    link = _LINK.match(quote)
    if link:
        return link["id"]
    author, _, snippet = quote.partition(": ")
    for message in history:
        text = " ".join(_QUOTE.sub("", message["content"]).split())
        if _shown_name(message) == author and text.startswith(snippet.removesuffix("…")):
            return str(message["id"])
    raise AssertionError(f"the quote {quote!r} shows no message of {history}")


def _seen(
    lab: DiscordLab, history: list[dict[str, Any]], message: dict[str, Any], bot: str
) -> Seen:
    content = str(message["content"])
    reply_to = (message.get("message_reference") or {}).get("message_id")
    quote = _QUOTE.match(content)
    if quote:
        reply_to = _quoted(history, quote["quote"])
        content = content[quote.end() :]
    files = tuple(File(a["filename"], lab.world.files[a["id"]][1]) for a in message["attachments"])
    reactions = frozenset(
        str(r["emoji"]["name"]) for r in message["reactions"] if bot in r.get("_users", [])
    )
    return Seen(
        id=str(message["id"]),
        label=_shown_name(message),
        text=content,
        reply_to=reply_to,
        files=files,
        reactions=reactions,
        raw=message,
    )
