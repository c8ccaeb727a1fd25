"""Slack: the lab workspace (Web API + Socket Mode) that slack-bolt talks to; Alice acts
through the lab's control surface, as the Slack client would."""

from __future__ import annotations

import itertools
from typing import Any

from bridgebot.lab.relay import eventually
from bridgebot.lab.slack import SlackLab
from tests.contract.drivers.base import Driver, File, MentionSample, Seen

_names = itertools.count(1)
#: reaction names as Slack's clients send them, for the characters the suite uses
_NAMES = {"👍": "+1"}
_CHARS = {**{name: char for char, name in _NAMES.items()}, "thumbsup": "👍"}


class SlackDriver(Driver):
    """Channels in one lab workspace, with Alice and the bot in each."""

    network = "slack"
    account = "slack.lab"
    human_name = "Alice"
    # Slack redelivers an event until the app acknowledges it (Socket Mode envelopes):
    # what was posted while the bridge was stopped reaches its next connection.
    catches_up = True
    mention = MentionSample(
        "hello from <!channel> api [x](https://evil.example)",
        "hello from &lt;!channel&gt; api <https://evil.example|x>",
    )

    def __init__(self, *, post_rate: float = 50.0, post_burst: int = 20) -> None:
        # above Slack's 1/s so functional tests do not wait; pacing has its own tests
        self.lab = SlackLab(post_rate=post_rate, post_burst=post_burst)
        self.alice = ""

    async def start(self) -> None:
        await self.lab.start()
        self.alice = self.lab.add_user("alice", display_name=self.human_name)

    async def stop(self) -> None:
        await self.lab.stop()

    async def make_room(self) -> str:
        return self.lab.add_channel(f"room{next(_names)}", members=(self.alice,))

    def accounts_toml(self) -> str:
        return self.lab.account_toml(ping_interval=0.5)

    def env(self) -> dict[str, str]:
        return {"SLACK_BOT_TOKEN": self.lab.bot_token, "SLACK_APP_TOKEN": self.lab.app_token}

    async def ready(self, rooms: list[str]) -> None:
        # events reach only a connected app; the lab keeps the rest until one connects
        await eventually(lambda: bool(self.lab.sockets.connections), self.wait)

    async def post(self, room: str, text: str) -> str:
        return str(self.lab.post_as_user(room, self.alice, text)["ts"])

    async def post_markup(self, room: str) -> str:
        self.lab.post_as_user(room, self.alice, "hello from *slack* <!here>")
        return "hello from **slack** @here"

    async def reply(self, room: str, to: str, text: str) -> str:
        # Slack's replies are thread replies, under the thread's root
        message = self.lab.post_as_user(room, self.alice, text, thread_ts=to)
        return str(message["ts"])

    def reply_target(self, room: str, message: str) -> str:
        found = self.lab.world.find_message(room, message)
        assert found is not None, message
        return str(found.get("thread_ts") or found["ts"])

    async def edit(self, room: str, message: str, text: str) -> None:
        self.lab.edit_as_user(room, message, text)

    async def delete(self, room: str, message: str) -> None:
        self.lab.delete_as_user(room, message)

    async def react(self, room: str, message: str, emoji: str) -> None:
        self.lab.react_as_user(room, message, self.alice, _NAMES[emoji])

    async def post_file(self, room: str, name: str, data: bytes, text: str) -> str:
        return str(self.lab.upload_as_user(room, self.alice, name, data, text=text)["ts"])

    async def copies(self, room: str) -> list[Seen]:
        bot = self.lab.bot.id
        return [_seen(self.lab, m) for m in self.lab.history(room) if m.get("user") == bot]

    def linked_file(self, text: str, name: str, url: str) -> str:
        return f"{text}\n<{url}|{name}>"

    def check_harmless(self, copy: Seen) -> None:
        """The escaped text (``&lt;!channel&gt;``) is the proof: Slack pings on ``<!channel>``."""

    def check_marked(self, copy: Seen) -> None:
        assert copy.raw["metadata"]["event_type"] == "bridgebot_relay", copy.raw


def _seen(lab: SlackLab, message: dict[str, Any]) -> Seen:
    files = tuple(File(f["name"], lab.file_data(f["id"])) for f in message.get("files", []))
    bot = lab.bot.id
    reactions = frozenset(
        _CHARS.get(r["name"], r["name"]) for r in message.get("reactions", []) if bot in r["users"]
    )
    return Seen(
        id=str(message["ts"]),
        label=str(message.get("username", "")),
        text=str(message.get("text", "")),
        reply_to=thread if (thread := message.get("thread_ts")) != message["ts"] else None,
        files=files,
        reactions=reactions,
        raw=message,
    )
