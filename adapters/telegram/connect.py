"""Connecting: a ``Bot`` that long-polls for raw updates, and the start-up room checks."""

from __future__ import annotations

import logging
from typing import Any

from telegram import Bot

from adapters.telegram.errors import map_errors
from adapters.telegram.translate import parse_room
from bridgebot.errors import AdapterError

__all__ = ["PollingBot", "check_rooms"]


class PollingBot(Bot):
    """``Bot`` plus a getUpdates that returns the raw JSON updates."""

    __slots__ = ()

    async def raw_updates(
        self, offset: int | None, wait: int, allowed: list[str]
    ) -> list[dict[str, Any]]:
        """One long poll; the read timeout outlasts the server-side wait."""
        result = await self._post(
            "getUpdates",
            {"offset": offset, "timeout": wait, "allowed_updates": allowed},
            read_timeout=wait + 10.0,
        )
        if not isinstance(result, list):
            return []
        return [update for update in result if isinstance(update, dict)]


async def check_rooms(
    bot: Bot, account: str, rooms: list[str], can_read_all: bool, log: logging.Logger
) -> dict[str, bool]:
    """``{chat id: is_forum}`` for the rooms it can see; warns (never fails) about the rest,
    and about groups whose messages it cannot read (privacy mode on and not an admin)."""
    forums: dict[str, bool] = {}
    for room_id in rooms:
        try:
            chat_id, _ = parse_room(room_id)
        except ValueError:
            log.warning("telegram room %r is not CHAT or CHAT/TOPIC", room_id)
            continue
        try:
            with map_errors(account, "getChat", room_id):
                chat = await bot.get_chat(chat_id)
                forums[str(chat_id)] = bool(chat.is_forum)
                if can_read_all or chat.type not in ("group", "supergroup"):
                    continue
                member = await bot.get_chat_member(chat_id, bot.bot.id)
        except AdapterError as exc:
            log.warning("cannot check telegram room %s: %s", room_id, exc)
            continue
        if member.status not in ("administrator", "creator"):
            log.warning(
                "telegram account %s cannot read messages in %s: privacy mode is on and "
                "the bot is not an admin there, so it only sees commands and replies to it; "
                "turn privacy off with @BotFather /setprivacy, or make the bot an admin",
                account,
                room_id,
            )
    return forums
