"""Start-up checks: the app's scopes and the configured rooms, in words an admin can act on."""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.errors import call
from bridgebot.errors import PermanentError

__all__ = ["REQUIRED_SCOPES", "USEFUL_SCOPES", "check_scopes", "resolve_rooms"]

#: Without these the bridge cannot work at all; start() refuses and names the missing ones.
REQUIRED_SCOPES = ("chat:write", "channels:read", "channels:history")
#: Without these a feature degrades; start() logs a warning naming them.
USEFUL_SCOPES = ("users:read", "reactions:write", "files:write", "chat:write.customize")


def check_scopes(account: str, header: object, log: logging.Logger) -> bool:
    """Check ``X-OAuth-Scopes`` from ``auth.test``; True if the app may set a sender
    name and icon (``chat:write.customize``). Raises PermanentError naming what is missing."""
    if not isinstance(header, str):
        log.warning("slack account %s: Slack did not list the app's scopes", account)
        return False
    scopes = {s.strip() for s in header.split(",")}
    missing = [s for s in REQUIRED_SCOPES if s not in scopes]
    if missing:
        raise PermanentError(
            f"slack account {account}: the app lacks the scopes {', '.join(missing)}; "
            "add them under OAuth & Permissions, reinstall the app and update bot_token"
        )
    lacking = [s for s in USEFUL_SCOPES if s not in scopes]
    if lacking:
        log.warning(
            "slack account %s: without %s some features degrade (names, reactions, "
            "files, per-author identity)",
            account,
            ", ".join(lacking),
        )
    return "chat:write.customize" in scopes


async def _by_name(account: str, client: AsyncWebClient) -> dict[str, dict[str, Any]]:
    channels: dict[str, dict[str, Any]] = {}
    cursor = ""
    while True:
        page = await call(
            account,
            "conversations.list",
            functools.partial(
                client.conversations_list,
                types="public_channel,private_channel",
                limit=200,
                cursor=cursor or None,
            ),
        )
        for channel in page.get("channels") or []:
            channels[str(channel.get("name"))] = channel
        cursor = str((page.get("response_metadata") or {}).get("next_cursor") or "")
        if not cursor:
            return channels


async def resolve_rooms(
    account: str, client: AsyncWebClient, rooms: Iterable[str], bot_user: str
) -> dict[str, dict[str, Any]]:
    """``{configured room: channel object}`` for rooms given as ``C0123`` or ``#name``;
    PermanentError when a room does not exist or the bot is not in it."""
    rooms = tuple(rooms)
    named = await _by_name(account, client) if any(r.startswith("#") for r in rooms) else {}
    found: dict[str, dict[str, Any]] = {}
    for room in rooms:
        if room.startswith("#"):
            info = named.get(room[1:])
            if info is None:
                raise PermanentError(
                    f"slack account {account}: no channel {room} is visible to the bot; "
                    "check the name, or /invite the bot if it is private"
                )
        else:
            answer = await call(
                account,
                f"conversations.info for room {room}",
                functools.partial(client.conversations_info, channel=room),
            )
            info = answer["channel"]
        if not info.get("is_member"):
            raise PermanentError(
                f"slack account {account}: the bot is not a member of {room} "
                f"({info.get('id')}); type /invite @{bot_user or 'the bot'} there"
            )
        found[room] = info
    return found
