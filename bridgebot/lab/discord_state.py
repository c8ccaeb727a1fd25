"""The Discord lab's world: users, one or more guilds, channels, threads, messages, webhooks.

Object shapes follow the public Discord API reference (User, Guild, Channel, Message,
Webhook objects, API v10). Only the fields a bot reads are filled in; where the docs leave
a shape open, a comment says what was chosen. No I/O here: the REST and gateway modules
turn these objects into wire traffic.
"""

from __future__ import annotations

import itertools
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from bridgebot.lab.discord_model import (
    DISCORD_EPOCH_MS,
    FLAG_MESSAGE_CONTENT,
    JSON,
    Bot,
    LabError,
    Ping,
    check_webhook_name,
    iso,
)

__all__ = ["LabWorld"]

_USER_MENTION = re.compile(r"<@!?(\d+)>")
_ROLE_MENTION = re.compile(r"<@&(\d+)>")


@dataclass(slots=True)
class LabWorld:
    """Everything the lab server knows; mutated by REST calls and the control surface."""

    users: dict[str, JSON] = field(default_factory=dict)
    bots: dict[str, Bot] = field(default_factory=dict)  # by token
    guilds: dict[str, JSON] = field(default_factory=dict)
    channels: dict[str, JSON] = field(default_factory=dict)
    messages: dict[str, list[JSON]] = field(default_factory=dict)  # channel id -> history
    webhooks: dict[str, JSON] = field(default_factory=dict)
    files: dict[str, tuple[str, bytes]] = field(
        default_factory=dict
    )  # attachment id -> (mime, data)
    denied: dict[str, set[str]] = field(default_factory=dict)  # channel id -> permission names
    pings: list[Ping] = field(default_factory=list)
    _counter: itertools.count[int] = field(default_factory=itertools.count)

    # ---- ids and objects -------------------------------------------------------------

    def snowflake(self) -> str:
        """A new id in Discord's format (ms since the Discord epoch, shifted, plus a counter)."""
        ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        return str((ms << 22) | (next(self._counter) & 0x3FFFFF))

    def add_user(self, name: str, *, bot: bool = False, user_id: str | None = None) -> JSON:
        """Create a user (usernames since 2023 have discriminator "0")."""
        uid = user_id or self.snowflake()
        user: JSON = {
            "id": uid,
            "username": name.lower().replace(" ", "_")[:32] or "user",
            "discriminator": "0",
            "global_name": name,
            "avatar": None,
            "bot": bot,
            "public_flags": 0,
        }
        self.users[uid] = user
        for guild in self.guilds.values():
            guild["members"].append(self._member(user))
            guild["member_count"] = len(guild["members"])
        return user

    def add_bot(self, name: str, token: str, *, message_content: bool = True) -> Bot:
        """Create a bot user with its application; ``message_content`` is the portal toggle."""
        user = self.add_user(name, bot=True)
        owner = self.add_user(f"{name} owner")
        app: JSON = {
            "id": self.snowflake(),
            "name": name,
            "icon": None,
            "description": "",
            "bot_public": False,
            "bot_require_code_grant": False,
            "owner": owner,
            "verify_key": secrets.token_hex(32),
            "team": None,
            "flags": FLAG_MESSAGE_CONTENT if message_content else 0,
        }
        bot = Bot(user=user, token=token, application=app)
        self.bots[token] = bot
        return bot

    def add_guild(self, name: str) -> JSON:
        """Create a guild with its @everyone role (whose id is the guild id, as on Discord)."""
        gid = self.snowflake()
        guild: JSON = {
            "id": gid,
            "name": name,
            "icon": None,
            "owner_id": next(iter(self.users), gid),
            "roles": [
                {
                    "id": gid,
                    "name": "@everyone",
                    "color": 0,
                    "hoist": False,
                    "position": 0,
                    "permissions": "1071698660929",
                    "managed": False,
                    "mentionable": False,
                }
            ],
            "emojis": [],
            "stickers": [],
            "features": [],
            "channels": [],
            "threads": [],
            "members": [self._member(u) for u in self.users.values()],
            "member_count": len(self.users),
            "large": False,
            "unavailable": False,
            "joined_at": iso(time.time()),
        }
        self.guilds[gid] = guild
        return guild

    def add_role(self, guild_id: str, name: str) -> JSON:
        """Create a mentionable role in a guild."""
        role = dict(self.guilds[guild_id]["roles"][0])
        role.update(id=self.snowflake(), name=name, position=1, mentionable=True)
        self.guilds[guild_id]["roles"].append(role)
        return role

    def add_channel(self, guild_id: str, name: str) -> JSON:
        """Create a guild text channel (type 0)."""
        guild = self.guilds[guild_id]
        channel: JSON = {
            "id": self.snowflake(),
            "type": 0,
            "guild_id": guild_id,
            "name": name,
            "position": len(guild["channels"]),
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": None,
            "topic": None,
            "last_message_id": None,
            "rate_limit_per_user": 0,
        }
        guild["channels"].append(channel)
        self.channels[channel["id"]] = channel
        self.messages[channel["id"]] = []
        return channel

    def add_thread(self, parent_id: str, message_id: str, name: str, owner_id: str) -> JSON:
        """Start a public thread (type 11) from a message: its id is the message's id."""
        if message_id in self.channels:
            raise LabError(400, 160004, "A thread has already been created for this message")
        parent = self._channel(parent_id)
        self._message(parent_id, message_id)
        thread: JSON = {
            "id": message_id,
            "type": 11,
            "guild_id": parent["guild_id"],
            "parent_id": parent_id,
            "name": name[:100] or "thread",
            "owner_id": owner_id,
            "last_message_id": None,
            "message_count": 0,
            "member_count": 1,
            "rate_limit_per_user": 0,
            "flags": 0,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": 1440,
                "archive_timestamp": iso(time.time()),
                "locked": False,
            },
        }
        self.guilds[parent["guild_id"]]["threads"].append(thread)
        self.channels[thread["id"]] = thread
        self.messages[thread["id"]] = []
        return thread

    def add_webhook(self, channel_id: str, name: Any, creator: Bot | None) -> JSON:
        """Create an incoming webhook (type 1); apps' webhooks carry their application_id."""
        check_webhook_name(name)
        channel = self._channel(channel_id)
        wid = self.snowflake()
        hook: JSON = {
            "id": wid,
            "type": 1,
            "guild_id": channel.get("guild_id"),
            "channel_id": channel_id,
            "name": name,
            "avatar": None,
            "token": secrets.token_urlsafe(24),
            "application_id": creator.application["id"] if creator else None,
            "user": creator.user if creator else None,
        }
        self.webhooks[wid] = hook
        return hook

    # ---- messages ------------------------------------------------------------------

    def create_message(
        self,
        channel_id: str,
        author: JSON,
        payload: JSON,
        *,
        webhook: JSON | None = None,
        attachments: list[JSON] | None = None,
    ) -> JSON:
        """Validate and store a message as Discord would; records every ping it causes."""
        channel = self._channel(channel_id)
        content = payload.get("content") or ""
        if not isinstance(content, str):
            raise LabError(400, 50035, "Invalid Form Body: content must be a string")
        if len(content) > 2000:
            raise LabError(
                400, 50035, "Invalid Form Body: content must be 2000 or fewer in length"
            )
        files = attachments or []
        if (
            not content
            and not files
            and not payload.get("embeds")
            and not payload.get("sticker_ids")
        ):
            raise LabError(400, 50006, "Cannot send an empty message")
        message: JSON = {
            "id": self.snowflake(),
            "type": 0,
            "channel_id": channel_id,
            "guild_id": channel.get("guild_id"),
            "author": author,
            "content": content,
            "timestamp": iso(time.time()),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": files,
            "embeds": list(payload.get("embeds") or []),
            "reactions": [],
            "pinned": False,
            "flags": 0,
            "components": [],
        }
        if webhook is not None:
            message["webhook_id"] = webhook["id"]
            if webhook.get("application_id"):
                message["application_id"] = webhook["application_id"]
        reference = payload.get("message_reference")
        if isinstance(reference, dict) and reference.get("message_id"):
            message["type"] = 19  # REPLY
            ref_id = str(reference["message_id"])
            message["message_reference"] = {
                "type": 0,
                "message_id": ref_id,
                "channel_id": channel_id,
                "guild_id": channel.get("guild_id"),
            }
            found = self.find_message(channel_id, ref_id)
            if found is None and reference.get("fail_if_not_exists", True):
                raise LabError(400, 50035, "Invalid Form Body: Unknown message")
            message["referenced_message"] = found
        if payload.get("sticker_items"):
            message["sticker_items"] = payload["sticker_items"]
        self.apply_mentions(message, payload.get("allowed_mentions"))
        self.messages[channel_id].append(message)
        channel["last_message_id"] = message["id"]
        return message

    def apply_mentions(self, message: JSON, allowed: Any) -> None:
        """Resolve mentions per the allowed_mentions rules and record those that would ping.

        Without ``allowed_mentions`` everything in the content pings (the documented default).
        """
        content: str = message["content"]
        parse: set[str] = {"users", "roles", "everyone"}
        users: set[str] = set()
        roles: set[str] = set()
        if isinstance(allowed, dict):
            parse = {p for p in allowed.get("parse", []) if isinstance(p, str)}
            users = {str(u) for u in allowed.get("users", [])}
            roles = {str(r) for r in allowed.get("roles", [])}
        cid, mid = message["channel_id"], message["id"]
        pinged_users = [
            uid
            for uid in dict.fromkeys(_USER_MENTION.findall(content))
            if uid in self.users and ("users" in parse or uid in users)
        ]
        pinged_roles = [
            rid
            for rid in dict.fromkeys(_ROLE_MENTION.findall(content))
            if "roles" in parse or rid in roles
        ]
        message["mentions"] = [self.users[uid] for uid in pinged_users]
        message["mention_roles"] = pinged_roles
        for uid in pinged_users:
            self.pings.append(Ping(cid, mid, "user", uid))
        for rid in pinged_roles:
            self.pings.append(Ping(cid, mid, "role", rid))
        if "everyone" in parse:
            for kind in ("everyone", "here"):
                if f"@{kind}" in content:
                    message["mention_everyone"] = True
                    self.pings.append(Ping(cid, mid, kind, kind))

    def edit_message(self, channel_id: str, message_id: str, payload: JSON) -> JSON:
        """Replace a message's content; mentions are re-evaluated as on Discord."""
        message = self._message(channel_id, message_id)
        if "content" in payload:
            content = payload.get("content") or ""
            if not isinstance(content, str) or len(content) > 2000:
                raise LabError(400, 50035, "Invalid Form Body: content")
            message["content"] = content
            self.apply_mentions(message, payload.get("allowed_mentions"))
        message["edited_timestamp"] = iso(time.time())
        return message

    def delete_message(self, channel_id: str, message_id: str) -> JSON:
        """Remove a message from its channel's history."""
        message = self._message(channel_id, message_id)
        self.messages[channel_id].remove(message)
        return message

    def add_reaction(self, channel_id: str, message_id: str, emoji: str, user_id: str) -> JSON:
        """Record a reaction; returns the gateway emoji object."""
        message = self._message(channel_id, message_id)
        name, _, emoji_id = emoji.partition(":")
        emoji_obj: JSON = {"id": emoji_id or None, "name": name}
        for reaction in message["reactions"]:
            if reaction["emoji"] == emoji_obj:
                reaction["count"] += 1
                reaction.setdefault("_users", []).append(user_id)
                return emoji_obj
        message["reactions"].append(
            {"emoji": emoji_obj, "count": 1, "me": False, "_users": [user_id]}
        )
        return emoji_obj

    def find_message(self, channel_id: str, message_id: str) -> JSON | None:
        """A message by id in one channel, or None."""
        for message in self.messages.get(channel_id, []):
            if message["id"] == message_id:
                return message
        return None

    def _message(self, channel_id: str, message_id: str) -> JSON:
        message = self.find_message(channel_id, message_id)
        if message is None:
            raise LabError(404, 10008, "Unknown Message")
        return message

    def _channel(self, channel_id: str) -> JSON:
        channel = self.channels.get(channel_id)
        if channel is None:
            raise LabError(404, 10003, "Unknown Channel")
        return channel

    def channel(self, channel_id: str) -> JSON:
        """A channel or thread by id; LabError 404 if unknown."""
        return self._channel(channel_id)

    def check_permission(self, channel_id: str, permission: str) -> None:
        """Raise 403 Missing Permissions if a test denied ``permission`` in this channel."""
        channel = self._channel(channel_id)
        parent = channel.get("parent_id") or channel_id
        if permission in self.denied.get(channel_id, set()) | self.denied.get(parent, set()):
            raise LabError(403, 50013, "Missing Permissions")

    @staticmethod
    def _member(user: JSON) -> JSON:
        return {
            "user": user,
            "roles": [],
            "joined_at": iso(time.time()),
            "deaf": False,
            "mute": False,
            "flags": 0,
        }
