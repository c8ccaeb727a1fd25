"""Catching up on messages the gateway did not deliver (a new session, or a restart).

A RESUME replays what was missed; a new session (after 4009, INVALID_SESSION or a restart)
does not, so each bridged channel is read over REST from the last message reported.
"""

from __future__ import annotations

from typing import Any, cast

import discord

from adapters.discord.translate import RawMessage

__all__ = ["missed_messages"]

#: Discord's page size for channel history.
PAGE = 100


async def missed_messages(
    client: discord.Client, channel_id: str, after: str, *, max_pages: int = 10
) -> list[RawMessage]:
    """Raw messages in ``channel_id`` newer than ``after``, oldest first.

    Uses discord.py's low-level ``http.logs_from`` because the raw payloads are what
    ``translate`` reads. At most ``max_pages`` pages: a bridge down for days should not
    flood every other room.
    """
    found: list[RawMessage] = []
    cursor = int(after)
    for _ in range(max_pages):
        page = cast(
            list[dict[str, Any]], await client.http.logs_from(int(channel_id), PAGE, after=cursor)
        )
        batch = sorted(
            (cast(RawMessage, m) for m in page if str(m.get("id", "")).isdigit()),
            key=lambda m: int(m["id"]),
        )
        found.extend(batch)
        if len(page) < PAGE or not batch:
            break
        cursor = int(batch[-1]["id"])
    return found
