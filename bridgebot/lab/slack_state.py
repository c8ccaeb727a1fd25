"""The Slack lab's workspace: users, channels, per-channel history and message shapes.

Shapes follow Slack's public Web API and Events API reference (docs.slack.dev). Where a
field's exact shape was not certain from the documentation, a comment says so.
"""

from __future__ import annotations

import itertools
import mimetypes
import re
import time
from dataclasses import dataclass, field
from typing import Any

from bridgebot.pacing import TokenBucket

__all__ = [
    "BOT_SCOPES",
    "LabChannel",
    "LabFile",
    "LabUser",
    "SlackWorld",
    "broadcast_mentions",
]

#: Scopes the lab's bot token holds unless a test says otherwise.
BOT_SCOPES = frozenset(
    {
        "chat:write",
        "chat:write.customize",
        "channels:read",
        "channels:history",
        "groups:read",
        "groups:history",
        "users:read",
        "reactions:write",
        "reactions:read",
        "files:write",
        "files:read",
    }
)

_BROADCAST = re.compile(r"<!(channel|here|everyone)(?:\|[^>]*)?>")
_USER_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")


def broadcast_mentions(text: str) -> list[str]:
    """The room-wide pings (``channel``, ``here``, ``everyone``) that ``text`` would fire."""
    return _BROADCAST.findall(text)


def user_mentions(text: str) -> list[str]:
    """The user ids that ``text`` would ping."""
    return _USER_MENTION.findall(text)


@dataclass
class LabUser:
    """A workspace member; bots carry a ``bot_id`` as well as their user id."""

    id: str
    name: str
    display_name: str
    image: str
    is_bot: bool = False
    bot_id: str | None = None

    def to_api(self, team_id: str) -> dict[str, Any]:
        """The ``user`` object of ``users.info``."""
        return {
            "id": self.id,
            "team_id": team_id,
            "name": self.name,
            "real_name": self.display_name,
            "deleted": False,
            "is_bot": self.is_bot,
            "profile": {
                "display_name": self.display_name,
                "real_name": self.display_name,
                "image_72": self.image,
                "image_192": self.image,
                **({"bot_id": self.bot_id} if self.bot_id else {}),
            },
        }


@dataclass
class LabChannel:
    """A public or private channel and its members."""

    id: str
    name: str
    is_private: bool = False
    members: set[str] = field(default_factory=set)
    created: int = field(default_factory=lambda: int(time.time()))

    def to_api(self, viewer: str) -> dict[str, Any]:
        """The ``channel`` object of ``conversations.info`` as seen by user ``viewer``."""
        return {
            "id": self.id,
            "name": self.name,
            "is_channel": not self.is_private,
            "is_group": self.is_private,
            "is_im": False,
            "is_private": self.is_private,
            "is_archived": False,
            "is_member": viewer in self.members,
            "created": self.created,
            "num_members": len(self.members),
        }


@dataclass
class LabFile:
    """An uploaded file; ``data`` is None until its bytes reach the upload URL."""

    id: str
    name: str
    length: int
    user: str
    title: str = ""
    data: bytes | None = None

    def to_api(self, base_url: str) -> dict[str, Any]:
        """The file object carried by ``file_share`` messages."""
        mime = mimetypes.guess_type(self.name)[0] or "application/octet-stream"
        url = f"{base_url}/_lab/files/{self.id}/{self.name}"
        return {
            "id": self.id,
            "created": int(time.time()),
            "timestamp": int(time.time()),
            "name": self.name,
            "title": self.title or self.name,
            "mimetype": mime,
            "filetype": self.name.rsplit(".", 1)[-1] if "." in self.name else "binary",
            "user": self.user,
            "size": len(self.data) if self.data is not None else self.length,
            "url_private": url,
            "url_private_download": url,
            "permalink": url,
            "is_external": False,
        }


class SlackWorld:
    """Everything the lab workspace holds; no I/O, so both the API and control surface use it."""

    def __init__(
        self,
        *,
        team_id: str = "T0LAB",
        app_id: str = "A0LAB",
        bot_token: str = "xoxb-lab-bot-token",
        app_token: str = "xapp-1-lab-app-token",
        scopes: frozenset[str] = BOT_SCOPES,
        post_rate: float | None = 1.0,
        post_burst: int = 3,
    ) -> None:
        self.team_id = team_id
        self.app_id = app_id
        self.bot_token = bot_token
        self.app_token = app_token
        self.scopes = scopes
        self.post_rate = post_rate
        self.post_burst = post_burst
        self.users: dict[str, LabUser] = {}
        self.channels: dict[str, LabChannel] = {}
        self.messages: dict[str, list[dict[str, Any]]] = {}
        self.files: dict[str, LabFile] = {}
        self._ids = itertools.count(1)
        self._last_ts = 0.0
        self._buckets: dict[str, TokenBucket] = {}
        self.bot = self.add_user("bridgebot", display_name="bridgebot", is_bot=True)

    # -- ids -----------------------------------------------------------------------------

    def new_id(self, prefix: str) -> str:
        """A fresh Slack-looking id (``U0000007``, ``C0000008``...)."""
        return f"{prefix}{next(self._ids):07d}"

    def new_ts(self) -> str:
        """A message timestamp, strictly increasing (Slack ts are unique per channel)."""
        now = max(time.time(), self._last_ts + 0.000001)
        self._last_ts = now
        return f"{now:.6f}"

    # -- people and places ---------------------------------------------------------------

    def add_user(
        self, name: str, *, display_name: str | None = None, is_bot: bool = False
    ) -> LabUser:
        """Create a user (or the bot user, with a ``bot_id``)."""
        user_id = self.new_id("U")
        user = LabUser(
            id=user_id,
            name=name,
            display_name=display_name or name,
            image=f"https://avatars.lab.invalid/{user_id}.png",
            is_bot=is_bot,
            bot_id=self.new_id("B") if is_bot else None,
        )
        self.users[user_id] = user
        return user

    def add_channel(
        self, name: str, *, members: tuple[str, ...] = (), private: bool = False, bot: bool = True
    ) -> LabChannel:
        """Create a channel; the bot is a member unless ``bot=False``."""
        channel = LabChannel(self.new_id("G" if private else "C"), name.lstrip("#"), private)
        channel.members.update(members)
        if bot:
            channel.members.add(self.bot.id)
        self.channels[channel.id] = channel
        self.messages[channel.id] = []
        return channel

    def find_channel(self, ref: str) -> LabChannel | None:
        """A channel by id, or by ``#name``/``name`` as some Web API methods accept."""
        if ref in self.channels:
            return self.channels[ref]
        name = ref.lstrip("#")
        return next((c for c in self.channels.values() if c.name == name), None)

    # -- history -------------------------------------------------------------------------

    def find_message(self, channel: str, ts: str) -> dict[str, Any] | None:
        """The stored message ``ts`` in ``channel``, if any."""
        return next((m for m in self.messages.get(channel, []) if m["ts"] == ts), None)

    def store(self, channel: str, message: dict[str, Any]) -> None:
        """Append ``message`` and keep its thread parent's reply bookkeeping."""
        self.messages[channel].append(message)
        parent_ts = message.get("thread_ts")
        if parent_ts and parent_ts != message["ts"]:
            parent = self.find_message(channel, parent_ts)
            if parent is not None:
                parent["thread_ts"] = parent_ts
                parent["reply_count"] = parent.get("reply_count", 0) + 1
                parent["latest_reply"] = message["ts"]

    def thread_root(self, channel: str, ts: str) -> str | None:
        """The parent ts for a reply under ``ts``; None if there is no such message."""
        message = self.find_message(channel, ts)
        if message is None:
            return None
        return str(message.get("thread_ts") or message["ts"])

    def take_post_token(self, channel: str) -> float:
        """Seconds to wait before ``channel`` accepts another post (0: accepted now)."""
        bucket = self._buckets.get(channel)
        if bucket is None:
            bucket = self._buckets[channel] = TokenBucket(self.post_rate, self.post_burst)
        wait = bucket.delay()
        if wait == 0:
            bucket.take()
        return wait

    def human_message(
        self, channel: str, user: str, text: str, ts: str, extra: dict[str, Any]
    ) -> dict[str, Any]:
        """A message as Slack stores one typed by a person."""
        message: dict[str, Any] = {
            "type": "message",
            "user": user,
            "text": text,
            "ts": ts,
            "team": self.team_id,
            # A real client also sends rich-text ``blocks``; the adapter reads ``text``.
            **extra,
        }
        return message
