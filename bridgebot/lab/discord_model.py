"""Shared pieces of the Discord lab: error type, ping records, bots, intents, name rules.

From the public Discord API reference (API v10): gateway intents, application flags, JSON
error codes, and the Create Webhook name rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "DISCORD_EPOCH_MS",
    "FLAG_MESSAGE_CONTENT",
    "FLAG_MESSAGE_CONTENT_LIMITED",
    "JSON",
    "Bot",
    "Intents",
    "LabError",
    "Ping",
    "check_webhook_name",
    "iso",
]

DISCORD_EPOCH_MS = 1_420_070_400_000
JSON = dict[str, Any]

#: Gateway intents the lab filters on (Discord docs, "Gateway Intents").
Intents = {
    "GUILDS": 1 << 0,
    "GUILD_MESSAGES": 1 << 9,
    "GUILD_MESSAGE_REACTIONS": 1 << 10,
    "MESSAGE_CONTENT": 1 << 15,
}
#: Application flags that say the message-content intent is enabled in the portal.
FLAG_MESSAGE_CONTENT = 1 << 18
FLAG_MESSAGE_CONTENT_LIMITED = 1 << 19

_BAD_WEBHOOK_NAME = re.compile(r"clyde|discord", re.IGNORECASE)


class LabError(Exception):
    """A request the real API would refuse: carries the HTTP status and Discord error code."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> JSON:
        """The JSON error body Discord sends."""
        return {"message": self.message, "code": self.code}


@dataclass(frozen=True, slots=True)
class Ping:
    """A mention that would have notified someone: tests assert there are none."""

    channel_id: str
    message_id: str
    kind: str  # "everyone", "here", "user", "role"
    target: str


@dataclass(slots=True)
class Bot:
    """A bot account: its user, token and application."""

    user: JSON
    token: str
    application: JSON


def check_webhook_name(name: Any) -> None:
    """Webhook names: 1-80 characters, no "clyde" or "discord" (Create Webhook docs)."""
    if not isinstance(name, str) or not 1 <= len(name.strip()) <= 80:
        raise LabError(400, 50035, "Invalid Form Body: username must be 1-80 characters")
    if _BAD_WEBHOOK_NAME.search(name) or name.strip().lower() in ("everyone", "here"):
        raise LabError(400, 50035, f"Invalid Form Body: username {name!r} is not allowed")


def iso(ts: float) -> str:
    """An ISO 8601 timestamp as Discord writes them."""
    return datetime.fromtimestamp(ts, UTC).isoformat()
