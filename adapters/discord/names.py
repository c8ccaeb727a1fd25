"""Names for the ids found in Discord message text, from discord.py's cache."""

from __future__ import annotations

import discord

__all__ = ["CacheDirectory", "NoNames", "snowflake_int"]


class CacheDirectory:
    """Names for ids, from discord.py's cache (users, roles, channels)."""

    def __init__(self, client: discord.Client) -> None:
        self._client = client

    def user_name(self, user_id: str) -> str | None:
        user = self._client.get_user(snowflake_int(user_id))
        return user.display_name if user else None

    def role_name(self, role_id: str) -> str | None:
        for guild in self._client.guilds:
            role = guild.get_role(snowflake_int(role_id))
            if role is not None:
                return role.name
        return None

    def channel_name(self, channel_id: str) -> str | None:
        channel = self._client.get_channel(snowflake_int(channel_id))
        return getattr(channel, "name", None)


class NoNames:
    """No names known (before the client exists)."""

    def user_name(self, user_id: str) -> str | None:
        return None

    def role_name(self, role_id: str) -> str | None:
        return None

    def channel_name(self, channel_id: str) -> str | None:
        return None


def snowflake_int(value: str) -> int:
    """An id as discord.py wants it; 0 (never a real id) for anything malformed."""
    try:
        return int(value)
    except ValueError:
        return 0
