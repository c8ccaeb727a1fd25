"""The lab Telegram server's world: users, bots, chats, messages, files and update queues.

Plain data with no HTTP; :mod:`bridgebot.lab.telegram` serves it over the Bot API. Shapes
follow the Bot API documentation's object definitions (User, Chat, Message, PhotoSize,
Document, MessageReactionUpdated, Update).
"""

from __future__ import annotations

import asyncio
import math
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ApiError", "LabBot", "LabChat", "LabFile", "RateLimits", "WindowLimiter"]

#: "A message can only be deleted if it was sent less than 48 hours ago." (deleteMessage)
DELETE_WINDOW = 48 * 3600

#: Update types delivered when ``allowed_updates`` is empty or never set (getUpdates docs:
#: everything except chat_member, message_reaction and message_reaction_count).
DEFAULT_UPDATES = frozenset(
    {"message", "edited_message", "channel_post", "edited_channel_post", "my_chat_member"}
)


class ApiError(Exception):
    """A Bot API error: answered as ``{"ok": false, "error_code", "description"}``."""

    def __init__(self, code: int, description: str, retry_after: float | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after

    def payload(self) -> dict[str, Any]:
        """The JSON body the real API sends for this error."""
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.code,
            "description": self.description,
        }
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def bad_request(what: str) -> ApiError:
    """A 400 with the API's "Bad Request: ..." wording."""
    return ApiError(400, f"Bad Request: {what}")


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Published Telegram limits (FAQ "My bot is hitting limits"): (messages, seconds).

    ``time_scale`` shrinks every window so tests exercise the same shape of limits quickly;
    with a scale below 1 ``retry_after`` becomes fractional (the real API sends integers).
    """

    per_chat: tuple[int, float] = (1, 1.0)
    per_group: tuple[int, float] = (20, 60.0)
    per_bot: tuple[int, float] = (30, 1.0)
    time_scale: float = 1.0
    #: jitter allowance: a sender pacing exactly at the limit is not punished for latency
    slack: float = 0.05


class WindowLimiter:
    """At most ``count`` accepted events per sliding ``window`` seconds."""

    def __init__(self, count: int, window: float, slack: float) -> None:
        self.count = count
        self.window = window
        self._effective = window * (1 - slack)
        self._stamps: deque[float] = deque()

    def wait(self, now: float) -> float:
        """Seconds until one more event is allowed (0 if allowed now)."""
        while self._stamps and self._stamps[0] <= now - self._effective:
            self._stamps.popleft()
        if len(self._stamps) < self.count:
            return 0.0
        return self._stamps[0] + self._effective - now

    def record(self, now: float) -> None:
        """Count one accepted event."""
        self._stamps.append(now)


def retry_after_value(wait: float, scale: float) -> float | int:
    """Integer seconds like the real API; fractional only when the lab runs time-scaled."""
    if scale >= 1:
        return max(1, math.ceil(wait))
    return round(max(wait, 0.001), 3)


@dataclass
class LabFile:
    """An uploaded file, addressable by ``file_id`` and downloadable by ``file_path``."""

    file_id: str
    file_unique_id: str
    data: bytes
    file_name: str
    mime_type: str
    file_path: str

    def document(self) -> dict[str, Any]:
        """The ``Document`` object for a message."""
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_name": self.file_name,
            "mime_type": self.mime_type,
            "file_size": len(self.data),
        }

    def photo_size(self) -> dict[str, Any]:
        """One ``PhotoSize``; the lab does not decode images, so the dimensions are nominal."""
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "width": 320,
            "height": 240,
            "file_size": len(self.data),
        }

    def file(self) -> dict[str, Any]:
        """The ``File`` object answered by getFile."""
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.data),
            "file_path": self.file_path,
        }


@dataclass
class LabChat:
    """A group, supergroup (optionally a forum), channel or private chat."""

    id: int
    type: str
    title: str
    is_forum: bool = False
    username: str | None = None
    #: user id → "creator" | "administrator" | "member"
    members: dict[int, str] = field(default_factory=dict)
    messages: dict[int, dict[str, Any]] = field(default_factory=dict)
    topics: dict[int, str] = field(default_factory=dict)
    next_message_id: int = 1

    def as_chat(self) -> dict[str, Any]:
        """The ``Chat`` object embedded in messages."""
        chat: dict[str, Any] = {"id": self.id, "type": self.type}
        if self.type == "private":
            chat["first_name"] = self.title
        else:
            chat["title"] = self.title
        if self.username:
            chat["username"] = self.username
        if self.is_forum:
            chat["is_forum"] = True
        return chat

    def full_info(self) -> dict[str, Any]:
        """The ``ChatFullInfo`` answered by getChat (required fields as of Bot API 9)."""
        info = self.as_chat()
        info.update(
            accent_color_id=0,
            max_reaction_count=11,
            accepted_gift_types={
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        )
        return info

    @property
    def is_group(self) -> bool:
        """Groups and supergroups share the 20-per-minute limit."""
        return self.type in ("group", "supergroup")


@dataclass
class LabBot:
    """A bot account: its token, its ``User`` object and its pending updates."""

    user: dict[str, Any]
    token: str
    can_read_all_group_messages: bool = True
    webhook_url: str = ""
    allowed_updates: frozenset[str] = DEFAULT_UPDATES
    updates: deque[dict[str, Any]] = field(default_factory=deque)
    next_update_id: int = 1
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    #: the generation of the current getUpdates; an older poll is terminated with 409
    poll_generation: int = 0
    limiter: WindowLimiter | None = None

    @property
    def id(self) -> int:
        """The bot's user id (the numeric part of its token)."""
        return int(self.user["id"])

    def enqueue(self, kind: str, payload: dict[str, Any]) -> None:
        """Queue an update of ``kind`` if the bot's ``allowed_updates`` admits it."""
        if kind not in self.allowed_updates:
            return
        self.updates.append({"update_id": self.next_update_id, kind: payload})
        self.next_update_id += 1
        self.wakeup.set()

    def me(self) -> dict[str, Any]:
        """The getMe answer."""
        return {
            **self.user,
            "can_join_groups": True,
            "can_read_all_group_messages": self.can_read_all_group_messages,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }


def new_token(bot_id: int) -> str:
    """A token of the real shape: ``<bot id>:<35 url-safe characters>``."""
    return f"{bot_id}:{secrets.token_urlsafe(26)[:35]}"


def now() -> int:
    """Unix time in whole seconds, as message dates are."""
    return int(time.time())
