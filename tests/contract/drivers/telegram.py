"""Telegram: the lab Bot API server that python-telegram-bot long-polls; Alice acts through
the lab's control surface, as a Telegram client would."""

from __future__ import annotations

import itertools
from typing import Any

from bridgebot.lab.relay import eventually
from bridgebot.lab.telegram import LabBot, RateLimits, TelegramLab
from tests.contract.drivers.base import Driver, File, MentionSample, Seen

_names = itertools.count(1)


class TelegramDriver(Driver):
    """Supergroups with Alice as a member and the bot as an administrator."""

    network = "telegram"
    account = "telegram.lab"
    human_name = "Alice"
    # The Bot API never tells bots that a message was deleted.
    human_deletes = False
    # the adapter stores its getUpdates offset; the server keeps the updates meanwhile
    catches_up = True
    mention = MentionSample(
        "hi <script>alert(1)</script> @everyone", "hi <script>alert(1)</script> @\u2060everyone"
    )

    def __init__(self) -> None:
        # the published limits, 1000 times faster: functional tests are not about pacing
        self.lab = TelegramLab(RateLimits(time_scale=0.001))
        self.bot: LabBot | None = None
        self.alice = 0
        self._polls = 0

    async def start(self) -> None:
        await self.lab.start()
        self.bot = self.lab.create_bot("bridgebot")
        self.alice = int(self.lab.create_user(self.human_name, "alice")["id"])

    async def stop(self) -> None:
        await self.lab.stop()

    async def make_room(self) -> str:
        assert self.bot is not None
        chat = self.lab.create_chat(
            f"Room {next(_names)}", admins=(self.bot.id,), members=(self.alice,)
        )
        return str(chat.id)

    def accounts_toml(self) -> str:
        return self.lab.account_toml(poll_timeout=5)

    def env(self) -> dict[str, str]:
        assert self.bot is not None
        return {"TELEGRAM_TOKEN": self.bot.token}

    def _get_updates(self) -> int:
        return sum(1 for method, _ in self.lab.requests if method == "getUpdates")

    async def ready(self, rooms: list[str]) -> None:
        # long polling has begun (updates wait on the server for it in any case)
        await eventually(lambda: self._get_updates() > self._polls, self.wait)
        self._polls = self._get_updates()

    # ---- Alice ---------------------------------------------------------------------------

    async def post(self, room: str, text: str) -> str:
        return str(self.lab.post_as_user(room, self.alice, text)["message_id"])

    async def post_markup(self, room: str) -> str:
        bold = [{"type": "bold", "offset": 0, "length": 5}]
        self.lab.post_as_user(room, self.alice, "hello <world>", entities=bold)
        return "**hello** <world>"

    async def reply(self, room: str, to: str, text: str) -> str:
        message = self.lab.post_as_user(room, self.alice, text, reply_to=int(to))
        return str(message["message_id"])

    async def edit(self, room: str, message: str, text: str) -> None:
        self.lab.edit_as_user(room, int(message), text)

    async def react(self, room: str, message: str, emoji: str) -> None:
        self.lab.react_as_user(room, int(message), self.alice, emoji)

    async def post_file(self, room: str, name: str, data: bytes, text: str) -> str:
        document = (name, data, "text/plain")
        message = self.lab.post_as_user(room, self.alice, text, document=document)
        return str(message["message_id"])

    # ---- the bot's posts -----------------------------------------------------------------

    async def copies(self, room: str) -> list[Seen]:
        assert self.bot is not None
        bot = self.bot.id
        return [_seen(self.lab, m, bot) for m in self.lab.history(room) if m["from"]["id"] == bot]

    def linked_file(self, text: str, name: str, url: str) -> str:
        return f"{text}\n{name}"  # the name links to the address (a text_link entity)

    def check_marked(self, copy: Seen) -> None:
        """A Bot API message has no field for a marker: the bot's own id marks its copies."""
        assert copy.raw["from"]["is_bot"], copy.raw

    def check_harmless(self, copy: Seen) -> None:
        # the label is bold (an entity), the rest plain text: nothing in it is markup
        bold = {"type": "bold", "offset": 0, "length": len(copy.label)}
        assert copy.raw["entities"] == [bold], copy.raw


def _seen(lab: TelegramLab, message: dict[str, Any], bot: int) -> Seen:
    shown = str(message.get("text", message.get("caption", "")))
    label, _, text = shown.partition(": ") if ": " in shown else ("", "", shown)
    files: tuple[File, ...] = ()
    document = message.get("document")
    if document is not None:
        files = (File(document["file_name"], lab.files[document["file_id"]].data),)
    mine = message.get("_reactions", {}).get(str(bot), [])
    reactions = frozenset([mine] if isinstance(mine, str) else mine)
    replied = (message.get("reply_to_message") or {}).get("message_id")
    entities = message.get("entities", message.get("caption_entities", []))
    links = tuple(e["url"] for e in entities if e["type"] == "text_link")
    return Seen(
        id=str(message["message_id"]),
        label=label,
        text=text,
        reply_to=None if replied is None else str(replied),
        files=files,
        links=links,
        reactions=reactions,
        raw=message,
    )
