"""Pure translation of Bot API updates into canonical events (no I/O).

Rooms: a chat is ``"CHAT"`` (its numeric id, ``-100…`` for supergroups); one forum topic
may be configured as its own room ``"CHAT/TOPIC"``. A topic message in a chat configured
as a whole arrives in room ``CHAT`` with ``thread`` = the topic id (which is also the id
of the topic's first message, so it is a remote id in that room as the model requires).

Text in: Telegram text + entities → CommonMark subset. The way out is
:mod:`adapters.telegram.render`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NotRequired, TypedDict

from bridgebot.model import Author, Event, EventKind, RoomRef

__all__ = [
    "FileRef",
    "Inbound",
    "ParseContext",
    "RawMessage",
    "RawUpdate",
    "entities_to_markdown",
    "parse_room",
    "parse_update",
]

NETWORK = "telegram"


class RawUser(TypedDict):
    id: int
    is_bot: bool
    first_name: str
    last_name: NotRequired[str]
    username: NotRequired[str]


class RawChat(TypedDict):
    id: int
    type: str
    title: NotRequired[str]
    first_name: NotRequired[str]
    is_forum: NotRequired[bool]


class RawEntity(TypedDict):
    type: str
    offset: int
    length: int
    url: NotRequired[str]
    language: NotRequired[str]
    user: NotRequired[RawUser]


class RawFile(TypedDict):
    file_id: str
    file_unique_id: str
    file_size: NotRequired[int]
    file_name: NotRequired[str]
    mime_type: NotRequired[str]


class RawMessage(TypedDict):
    message_id: int
    chat: RawChat
    date: int
    edit_date: NotRequired[int]
    text: NotRequired[str]
    entities: NotRequired[list[RawEntity]]
    caption: NotRequired[str]
    caption_entities: NotRequired[list[RawEntity]]
    message_thread_id: NotRequired[int]
    is_topic_message: NotRequired[bool]
    reply_to_message: NotRequired[RawMessage]
    photo: NotRequired[list[RawFile]]
    document: NotRequired[RawFile]
    author_signature: NotRequired[str]
    # "from" is a keyword, so it is read with .get("from") and typed as RawUser there


class RawReactionType(TypedDict):
    type: str
    emoji: NotRequired[str]


class RawReaction(TypedDict):
    chat: RawChat
    message_id: int
    date: int
    user: NotRequired[RawUser]
    actor_chat: NotRequired[RawChat]
    old_reaction: list[RawReactionType]
    new_reaction: list[RawReactionType]


class RawUpdate(TypedDict):
    update_id: int
    message: NotRequired[RawMessage]
    edited_message: NotRequired[RawMessage]
    channel_post: NotRequired[RawMessage]
    edited_channel_post: NotRequired[RawMessage]
    message_reaction: NotRequired[RawReaction]


@dataclass(frozen=True, slots=True)
class FileRef:
    """A file the client must fetch (getFile + download) before emitting the event."""

    file_id: str
    filename: str
    mime_type: str
    size: int


@dataclass(frozen=True, slots=True)
class Inbound:
    """A parsed update: the event, plus files still to download."""

    event: Event
    files: tuple[FileRef, ...] = ()
    #: (chat id, message id, topic id) for the client to remember topic membership
    topic: tuple[int, int, int] | None = None


@dataclass(frozen=True, slots=True)
class ParseContext:
    """What parsing needs to know about the account."""

    account: str
    bot_id: int
    rooms: frozenset[str] = frozenset()
    #: (chat id, message id) → topic id, for reactions (which carry no topic)
    topics: Mapping[tuple[int, int], int] = field(default_factory=dict)


def parse_room(room_id: str) -> tuple[int | str, int | None]:
    """``"-100123"`` → (-100123, None); ``"-100123/7"`` → (-100123, 7); ``"@name"`` stays.

    Raises ``ValueError`` for anything else.
    """
    chat, sep, topic = room_id.partition("/")
    chat_id: int | str = chat if chat.startswith("@") and len(chat) > 1 else int(chat)
    if sep:
        return chat_id, int(topic)
    return chat_id, None


# ---- inbound ----------------------------------------------------------------------------


def _utf16_index(text: str) -> list[int]:
    """Map each UTF-16 offset (Telegram's unit) to a Python string index."""
    index: list[int] = []
    for i, char in enumerate(text):
        index.append(i)
        if ord(char) > 0xFFFF:
            index.append(i)
    index.append(len(text))
    return index


def _markers(entity: Mapping[str, Any], inner: str) -> tuple[str, str] | None:
    kind = entity.get("type")
    if kind == "bold":
        return "**", "**"
    if kind == "italic":
        return "_", "_"
    if kind == "strikethrough":
        return "~~", "~~"
    if kind == "code":
        return "`", "`"
    if kind == "pre":
        return f"```{entity.get('language', '')}\n", "\n```"
    if kind == "text_link" and isinstance(entity.get("url"), str):
        return "[", f"]({entity['url']})"
    # mention, url, hashtag, text_mention, underline, spoiler...: the text says it already
    return None


def entities_to_markdown(text: str, entities: list[Any] | None) -> str:
    """Telegram text + entities → CommonMark subset (bold, italic, strike, code, links)."""
    if not entities:
        return text
    index = _utf16_index(text)
    opens: dict[int, list[str]] = {}
    closes: dict[int, list[str]] = {}
    valid = []
    for entity in entities:
        if not isinstance(entity, Mapping):
            continue
        offset, length = entity.get("offset"), entity.get("length")
        if not isinstance(offset, int) or not isinstance(length, int) or length <= 0:
            continue
        if offset < 0 or offset + length >= len(index):
            continue
        valid.append((offset, length, entity))
    # outer entities open first and close last
    valid.sort(key=lambda item: (item[0], -item[1]))
    for offset, length, entity in valid:
        start, end = index[offset], index[offset + length]
        markers = _markers(entity, text[start:end])
        if markers is None:
            continue
        opens.setdefault(start, []).append(markers[0])
        closes.setdefault(end, []).insert(0, markers[1])
    out: list[str] = []
    for i in range(len(text) + 1):
        out.extend(closes.get(i, ()))
        out.extend(opens.get(i, ()))
        if i < len(text):
            out.append(text[i])
    return "".join(out)


def _author(message: Mapping[str, Any]) -> Author | None:
    sender_chat = message.get("sender_chat")
    if isinstance(sender_chat, Mapping) and "id" in sender_chat:
        name = message.get("author_signature") or sender_chat.get("title") or "channel"
        return Author(NETWORK, str(sender_chat["id"]), str(name))
    user = message.get("from")
    if isinstance(user, Mapping) and "id" in user:
        name = " ".join(filter(None, (user.get("first_name"), user.get("last_name"))))
        name = name or str(user.get("username") or user["id"])
        return Author(NETWORK, str(user["id"]), name, is_bot=bool(user.get("is_bot")))
    chat = message.get("chat", {})
    if message.get("author_signature") or chat.get("type") == "channel":
        name = message.get("author_signature") or chat.get("title") or "channel"
        return Author(NETWORK, str(chat.get("id")), str(name))
    return None


def _room(ctx: ParseContext, chat_id: int, topic: int | None) -> tuple[str, str | None]:
    """Which configured room a message belongs to, and its thread there."""
    if topic is not None and f"{chat_id}/{topic}" in ctx.rooms:
        return f"{chat_id}/{topic}", None
    return str(chat_id), (str(topic) if topic is not None else None)


def _files(message: Mapping[str, Any]) -> tuple[FileRef, ...]:
    photos = message.get("photo")
    if isinstance(photos, list) and photos and isinstance(photos[-1], Mapping):
        # sizes come smallest first; relay the largest
        best = photos[-1]
        unique = best.get("file_unique_id", "photo")
        size = int(best.get("file_size") or 0)
        return (FileRef(str(best["file_id"]), f"photo_{unique}.jpg", "image/jpeg", size),)
    document = message.get("document")
    if isinstance(document, Mapping) and "file_id" in document:
        return (
            FileRef(
                str(document["file_id"]),
                str(document.get("file_name") or "file"),
                str(document.get("mime_type") or "application/octet-stream"),
                int(document.get("file_size") or 0),
            ),
        )
    return ()


def _parse_message(ctx: ParseContext, message: Mapping[str, Any], edited: bool) -> Inbound | None:
    author = _author(message)
    if author is None:
        return None
    if author.user_id == str(ctx.bot_id):
        return None  # our own copies never come back
    chat_id = int(message["chat"]["id"])
    message_id = int(message["message_id"])
    topic = message.get("message_thread_id") if message.get("is_topic_message") else None
    room_id, thread = _room(ctx, chat_id, int(topic) if topic is not None else None)
    if "text" in message:
        text = entities_to_markdown(str(message["text"]), message.get("entities"))
    else:
        text = entities_to_markdown(
            str(message.get("caption") or ""), message.get("caption_entities")
        )
    reply = message.get("reply_to_message")
    reply_to = None
    if isinstance(reply, Mapping) and "message_id" in reply and reply["message_id"] != topic:
        # in a topic every plain message "replies" to the topic's first message: not a reply
        reply_to = str(reply["message_id"])
    room = RoomRef(ctx.account, room_id)
    if edited:
        event = Event(
            kind=EventKind.EDIT,
            room=room,
            remote_id=f"{message_id}@{message.get('edit_date', message['date'])}",
            author=author,
            text=text,
            target=str(message_id),
            thread=thread,
            ts=float(message.get("edit_date") or message["date"]),
        )
        return Inbound(event)
    if not text and not _files(message):
        return None  # service messages (joins, topic created, pins...) are not relayed
    event = Event(
        kind=EventKind.MESSAGE,
        room=room,
        remote_id=str(message_id),
        author=author,
        text=text,
        reply_to=reply_to,
        thread=thread,
        ts=float(message["date"]),
    )
    known_topic = (chat_id, message_id, int(topic)) if topic is not None else None
    return Inbound(event, _files(message), known_topic)


def _parse_reaction(ctx: ParseContext, raw: Mapping[str, Any]) -> list[Inbound]:
    user = raw.get("user")
    if isinstance(user, Mapping):
        name = " ".join(filter(None, (user.get("first_name"), user.get("last_name"))))
        author = Author(NETWORK, str(user["id"]), name, is_bot=bool(user.get("is_bot")))
    else:
        actor = raw.get("actor_chat") or {}
        author = Author(NETWORK, str(actor.get("id")), str(actor.get("title") or "anonymous"))
    if author.user_id == str(ctx.bot_id):
        return []
    chat_id, message_id = int(raw["chat"]["id"]), int(raw["message_id"])
    room_id, _ = _room(ctx, chat_id, ctx.topics.get((chat_id, message_id)))
    old = {r.get("emoji") for r in raw.get("old_reaction") or () if isinstance(r, Mapping)}
    added = []
    for reaction in raw.get("new_reaction") or ():
        emoji = reaction.get("emoji") if isinstance(reaction, Mapping) else None
        if not isinstance(emoji, str) or emoji in old:
            continue  # custom emoji and paid reactions have no portable form
        event = Event(
            kind=EventKind.REACTION,
            room=RoomRef(ctx.account, room_id),
            remote_id=f"{message_id}:{author.user_id}:{emoji}",
            author=author,
            target=str(message_id),
            emoji=emoji,
            ts=float(raw.get("date") or 0),
        )
        added.append(Inbound(event))
    return added


def parse_update(ctx: ParseContext, update: Mapping[str, Any]) -> list[Inbound]:
    """One Bot API ``Update`` → canonical events (none for our own or unsupported updates).

    Raises ``KeyError``/``TypeError``/``ValueError`` on a malformed update; the client logs
    and drops it.
    """
    for kind in ("message", "channel_post"):
        if kind in update:
            parsed = _parse_message(ctx, update[kind], edited=False)
            return [parsed] if parsed else []
    for kind in ("edited_message", "edited_channel_post"):
        if kind in update:
            parsed = _parse_message(ctx, update[kind], edited=True)
            return [parsed] if parsed else []
    if "message_reaction" in update:
        return _parse_reaction(ctx, update["message_reaction"])
    return []
