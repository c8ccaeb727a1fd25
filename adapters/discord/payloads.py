"""Raw Discord gateway payloads as TypedDicts (API v10 reference: Message, User,
Attachment, Sticker Item, Message Reference, Message Delete, Message Reaction Add).

Only the fields the adapter reads; ``total=False`` because Discord omits many of them.
"""

from __future__ import annotations

from typing import TypedDict

__all__ = [
    "RawAttachment",
    "RawEmoji",
    "RawMessage",
    "RawMessageDelete",
    "RawReaction",
    "RawReference",
    "RawSticker",
    "RawUser",
]


class RawUser(TypedDict, total=False):
    """A Discord user object (partial)."""

    id: str
    username: str
    global_name: str | None
    avatar: str | None
    bot: bool


class RawAttachment(TypedDict, total=False):
    """A Discord attachment object."""

    id: str
    filename: str
    size: int
    url: str
    content_type: str


class RawSticker(TypedDict, total=False):
    """A sticker item on a message."""

    id: str
    name: str
    format_type: int


class RawReference(TypedDict, total=False):
    """A message reference; ``type`` 0 is a reply, 1 a forward."""

    type: int
    message_id: str
    channel_id: str
    guild_id: str


class RawMessage(TypedDict, total=False):
    """MESSAGE_CREATE / MESSAGE_UPDATE data (a message object plus guild_id)."""

    id: str
    channel_id: str
    guild_id: str
    type: int
    author: RawUser
    content: str
    timestamp: str
    edited_timestamp: str | None
    mentions: list[RawUser]
    mention_roles: list[str]
    attachments: list[RawAttachment]
    sticker_items: list[RawSticker]
    message_reference: RawReference
    webhook_id: str
    application_id: str


class RawMessageDelete(TypedDict, total=False):
    """MESSAGE_DELETE data."""

    id: str
    channel_id: str
    guild_id: str


class RawEmoji(TypedDict, total=False):
    """A reaction's emoji: ``id`` is null for unicode emoji."""

    id: str | None
    name: str | None
    animated: bool


class RawReaction(TypedDict, total=False):
    """MESSAGE_REACTION_ADD data."""

    user_id: str
    channel_id: str
    message_id: str
    guild_id: str
    emoji: RawEmoji
