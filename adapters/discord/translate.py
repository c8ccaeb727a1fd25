"""Pure translation between Discord gateway payloads and the canonical model. No I/O.

Raw payload shapes follow the public Discord API reference (Message, Message Delete,
Message Reaction Add objects, API v10). ``parse_*`` raise ``ValueError`` on a malformed
payload (the client logs and drops it) and return ``None`` for events a bridge ignores.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from adapters.discord.payloads import (
    RawAttachment,
    RawMessage,
    RawMessageDelete,
    RawReaction,
    RawUser,
)
from bridgebot.model import Attachment, Author, Event, EventKind, Outbound, RoomRef

__all__ = [
    "MAX_TEXT",
    "NETWORK",
    "Directory",
    "Identity",
    "RawMessage",
    "RawMessageDelete",
    "RawReaction",
    "RawUser",
    "Rendered",
    "neutralise",
    "parse_delete",
    "parse_edit",
    "parse_message",
    "parse_reaction",
    "render",
    "text_from_discord",
    "webhook_username",
]

NETWORK = "discord"
MAX_TEXT = 2000
DISCORD_EPOCH_MS = 1_420_070_400_000
#: Message types a bridge relays: DEFAULT and REPLY. Joins, pins, thread notices are not.
_RELAYED_TYPES = (0, 19)


class Directory(Protocol):
    """Names for ids found in message text (from the client's cache)."""

    def user_name(self, user_id: str) -> str | None:
        """A member's display name."""
        ...

    def role_name(self, role_id: str) -> str | None:
        """A role's name."""
        ...

    def channel_name(self, channel_id: str) -> str | None:
        """A channel's name."""
        ...


@dataclass(frozen=True, slots=True)
class Identity:
    """Who "we" are on this account, for echo checks."""

    user_id: str
    application_id: str = ""
    webhook_ids: frozenset[str] = field(default_factory=frozenset)

    def authored(self, raw: RawMessage) -> bool:
        """True for our bot's own messages and messages from our webhooks."""
        if raw.get("author", {}).get("id") == self.user_id:
            return True
        if raw.get("webhook_id") and raw.get("webhook_id") in self.webhook_ids:
            return True
        app = raw.get("application_id")
        return bool(app and raw.get("webhook_id") and app == self.application_id)


# ---- inbound ---------------------------------------------------------------------------

_USER = re.compile(r"<@!?(\d+)>")
_ROLE = re.compile(r"<@&(\d+)>")
_CHANNEL = re.compile(r"<#(\d+)>")
_EMOJI = re.compile(r"<a?:(\w+):\d+>")
_TIME = re.compile(r"<t:(-?\d+)(?::[tTdDfFR])?>")
_COMMAND = re.compile(r"</([\w -]+):\d+>")


def text_from_discord(content: str, mentions: list[RawUser], names: Directory) -> str:
    """Resolve ``<@id>``, ``<@&id>``, ``<#id>``, custom emoji, timestamps to plain text."""
    known = {u.get("id", ""): _display(u) for u in mentions}

    def user(m: re.Match[str]) -> str:
        uid = m.group(1)
        return "@" + (known.get(uid) or names.user_name(uid) or uid)

    def role(m: re.Match[str]) -> str:
        return "@" + (names.role_name(m.group(1)) or m.group(1))

    def channel(m: re.Match[str]) -> str:
        return "#" + (names.channel_name(m.group(1)) or m.group(1))

    def when(m: re.Match[str]) -> str:
        try:
            stamp = datetime.fromtimestamp(int(m.group(1)), UTC)
        except (OverflowError, OSError, ValueError):
            return m.group(0)
        return stamp.strftime("%Y-%m-%d %H:%M UTC")

    text = _USER.sub(user, content)
    text = _ROLE.sub(role, text)
    text = _CHANNEL.sub(channel, text)
    text = _EMOJI.sub(r":\1:", text)
    text = _COMMAND.sub(r"/\1", text)
    return _TIME.sub(when, text)


def parse_message(
    raw: RawMessage, room: RoomRef, thread: str | None, me: Identity, names: Directory
) -> Event | None:
    """MESSAGE_CREATE → a message Event; None for our echoes and system messages."""
    mid, author = _require_id(raw), raw.get("author")
    if not isinstance(author, dict) or not author.get("id"):
        raise ValueError("message without an author")
    if me.authored(raw) or raw.get("type", 0) not in _RELAYED_TYPES:
        return None
    text = text_from_discord(_str(raw.get("content", "")), raw.get("mentions") or [], names)
    stickers = [s.get("name", "sticker") for s in raw.get("sticker_items") or []]
    if stickers:
        text = "\n".join([text, *(f"[sticker: {name}]" for name in stickers)]).strip("\n")
    reference = raw.get("message_reference") or {}
    reply_to = None
    if raw.get("type") == 19 and reference.get("type", 0) == 0:
        reply_to = _opt_str(reference.get("message_id"))
    return Event(
        kind=EventKind.MESSAGE,
        room=room,
        remote_id=mid,
        author=_author(author),
        text=text,
        attachments=tuple(_attachment(a) for a in raw.get("attachments") or []),
        reply_to=reply_to,
        thread=thread,
        ts=snowflake_time(mid),
    )


def parse_edit(
    raw: RawMessage, room: RoomRef, thread: str | None, me: Identity, names: Directory
) -> Event | None:
    """MESSAGE_UPDATE → an edit Event; None unless the text really changed (not an unfurl)."""
    mid = _require_id(raw)
    if "content" not in raw or not raw.get("edited_timestamp") or me.authored(raw):
        return None
    author = raw.get("author")
    return Event(
        kind=EventKind.EDIT,
        room=room,
        remote_id=f"{mid}:edit:{raw.get('edited_timestamp')}",
        author=_author(author) if isinstance(author, dict) else _unknown(),
        text=text_from_discord(_str(raw.get("content", "")), raw.get("mentions") or [], names),
        thread=thread,
        target=mid,
        ts=_iso_time(raw.get("edited_timestamp")) or snowflake_time(mid),
    )


def parse_delete(raw: RawMessageDelete, room: RoomRef, thread: str | None) -> Event:
    """MESSAGE_DELETE → a delete Event (Discord does not say who deleted it)."""
    mid = _str(raw.get("id", ""))
    if not mid:
        raise ValueError("delete without a message id")
    return Event(
        kind=EventKind.DELETE,
        room=room,
        remote_id=f"{mid}:delete",
        author=_unknown(),
        thread=thread,
        target=mid,
        ts=datetime.now(UTC).timestamp(),
    )


def parse_reaction(
    raw: RawReaction, room: RoomRef, thread: str | None, me: Identity, names: Directory
) -> Event | None:
    """MESSAGE_REACTION_ADD → a reaction Event (custom emoji as ``:name:``)."""
    user_id, target = _str(raw.get("user_id", "")), _str(raw.get("message_id", ""))
    emoji = raw.get("emoji") or {}
    name = emoji.get("name")
    if not user_id or not target or not name:
        raise ValueError("reaction without user, message or emoji")
    if user_id == me.user_id:
        return None
    text = f":{name}:" if emoji.get("id") else name
    return Event(
        kind=EventKind.REACTION,
        room=room,
        remote_id=f"{target}:{user_id}:{text}",
        author=Author(NETWORK, user_id, names.user_name(user_id) or user_id),
        thread=thread,
        target=target,
        emoji=text,
        ts=datetime.now(UTC).timestamp(),
    )


def snowflake_time(snowflake: str) -> float:
    """The creation time (epoch seconds) encoded in a Discord id."""
    return ((int(snowflake) >> 22) + DISCORD_EPOCH_MS) / 1000


def _require_id(raw: RawMessage) -> str:
    mid = raw.get("id")
    if not isinstance(mid, str) or not mid.isdigit():
        raise ValueError("message without a valid id")
    return mid


def _display(user: RawUser) -> str:
    return user.get("global_name") or user.get("username") or user.get("id", "unknown")


def _author(user: RawUser) -> Author:
    uid = _str(user.get("id", ""))
    avatar = user.get("avatar")
    url = None
    if avatar:
        # the lab keeps webhook avatar URLs as they were given; Discord gives a CDN hash
        is_url = avatar.startswith(("http://", "https://"))
        url = avatar if is_url else f"https://cdn.discordapp.com/avatars/{uid}/{avatar}.png"
    return Author(NETWORK, uid, _display(user), url, bool(user.get("bot", False)))


def _unknown() -> Author:
    return Author(NETWORK, "", "someone")


def _attachment(raw: RawAttachment) -> Attachment:
    return Attachment(
        filename=_str(raw.get("filename", "file")),
        mime_type=_str(raw.get("content_type", "application/octet-stream")),
        size=int(raw.get("size", 0)),
        url=_opt_str(raw.get("url")),
    )


def _iso_time(value: object) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None


def _str(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {type(value).__name__}")
    return value


def _opt_str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


# ---- outbound --------------------------------------------------------------------------

_MASS = re.compile(r"@(everyone|here)", re.IGNORECASE)
_BAD_NAME = re.compile(r"(disc)o(rd)|(cl)y(de)", re.IGNORECASE)


def neutralise(text: str) -> str:
    """Make relayed text unable to ping: break ``@everyone``/``@here`` and ``<@…>`` syntax.

    ``allowed_mentions: {parse: []}`` already stops pings server-side; breaking the syntax
    too keeps copies from even looking like mentions, and protects against a lost field.
    """
    text = _MASS.sub("@\u200b\\1", text)
    return text.replace("<@", "<\u200b@")


def webhook_username(label: str, fallback: str = "") -> str:
    """A webhook name Discord accepts: 1-80 chars, no "discord"/"clyde", not everyone/here.

    An empty label falls back to ``fallback`` (the author's name), then to "bridge".
    """
    name = " ".join(label.split()) or " ".join(fallback.split()) or "bridge"
    name = _BAD_NAME.sub(lambda m: f"{m[1]}*{m[2]}" if m[1] else f"{m[3]}*{m[4]}", name)
    if name.lower() in ("everyone", "here"):
        name = f"{name} (relayed)"
    return name if len(name) <= 80 else name[:79] + "…"


@dataclass(frozen=True, slots=True)
class Rendered:
    """A Discord post: content plus the files to upload and the reply reference to set."""

    content: str
    username: str | None
    avatar_url: str | None
    uploads: tuple[Attachment, ...]
    reply_to: str | None


def render(
    out: Outbound,
    *,
    via_webhook: bool,
    max_upload_bytes: int,
    reply_quote: str | None = None,
) -> Rendered:
    """Build the Discord post for ``out``.

    Through a webhook the label becomes the username; otherwise it goes into the text.
    Webhooks cannot reply, so a reply becomes ``reply_quote`` (a quote line) instead.
    Files within ``max_upload_bytes`` (in total) are uploaded, others become links.
    """
    body = out.text if via_webhook else out.labelled_text()
    uploads: list[Attachment] = []
    links: list[str] = []
    budget = max_upload_bytes
    for att in out.attachments:
        if att.data is not None and len(att.data) <= budget:
            uploads.append(att)
            budget -= len(att.data)
        elif att.url:
            links.append(f"📎 {att.filename}: <{att.url}>")
        else:
            links.append(f"📎 {att.filename} (too large to relay)")
    head = f"> ↪ {reply_quote}\n" if via_webhook and reply_quote else ""
    tail = "\n".join(links)
    room = MAX_TEXT - len(head) - (len(tail) + 1 if tail else 0)
    text = neutralise(body)
    if len(text) > room:
        text = text[: max(room - 1, 0)] + "…"
    content = head + "\n".join(part for part in (text, tail) if part)
    if not content and not uploads:
        content = "\u200b"  # Discord refuses an empty message; a label-only post keeps its place
    return Rendered(
        content=content[:MAX_TEXT],
        username=webhook_username(out.label, out.author_name) if via_webhook else None,
        avatar_url=out.avatar_url if via_webhook else None,
        uploads=tuple(uploads),
        reply_to=None if via_webhook else out.reply_to,
    )


def quote_line(author: str | None, snippet: str | None, link: str) -> str:
    """The reply quote for webhook posts: who and what is replied to, else a jump link."""
    if author and snippet is not None:
        short = " ".join(snippet.split())
        short = short if len(short) <= 80 else short[:79] + "…"
        return neutralise(f"{author}: {short}")
    return f"<{link}>"
