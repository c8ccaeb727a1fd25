"""Slack events → canonical events. No I/O (rendering the other way is in render.py).

Event shapes follow Slack's Events API reference (``message`` and its ``message_changed``
/ ``message_deleted`` / ``file_share`` / ``thread_broadcast`` / ``bot_message`` subtypes,
``reaction_added``). Names are resolved by the caller beforehand and passed in a
:class:`Directory`, so that parsing stays pure and table-testable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypedDict

from adapters.slack import mrkdwn
from adapters.slack.emoji import from_slack
from bridgebot.model import Attachment, Author, Event, EventKind, RoomRef

__all__ = [
    "MAX_TEXT_LENGTH",
    "ORIGIN_EVENT_TYPE",
    "Directory",
    "Identity",
    "MalformedEvent",
    "SlackEvent",
    "SlackFile",
    "SlackMessage",
    "UserInfo",
    "needed_ids",
    "parse_event",
]

NETWORK = "slack"
#: Slack truncates message text beyond 40,000 characters.
MAX_TEXT_LENGTH = 40_000
#: ``metadata.event_type`` on every copy we post; events carrying it are our echoes.
ORIGIN_EVENT_TYPE = "bridgebot_relay"
#: Subtypes that are a person's (or another bot's) message worth relaying.
_MESSAGE_SUBTYPES = {None, "thread_broadcast", "file_share", "me_message", "bot_message"}


class MalformedEvent(ValueError):
    """The payload does not have the shape Slack documents; the adapter logs and drops it."""


class SlackFile(TypedDict, total=False):
    """A file object as carried in ``message.files``."""

    id: str
    name: str
    title: str
    mimetype: str
    size: int
    url_private: str


class SlackMetadata(TypedDict):
    """Message metadata (``event_type`` plus a free-form ``event_payload``)."""

    event_type: str
    event_payload: dict[str, Any]


class SlackMessage(TypedDict, total=False):
    """A message object: the event itself, or nested in ``message_changed``."""

    type: str
    subtype: str
    user: str
    bot_id: str
    username: str
    text: str
    ts: str
    thread_ts: str
    files: list[SlackFile]
    metadata: SlackMetadata
    edited: dict[str, str]


class SlackEvent(SlackMessage, total=False):
    """The ``event`` of an ``event_callback`` (message subtypes and ``reaction_added``)."""

    channel: str
    event_ts: str
    message: SlackMessage
    previous_message: SlackMessage
    deleted_ts: str
    reaction: str
    item: dict[str, str]


@dataclass(frozen=True, slots=True)
class Identity:
    """The bot's own identity, from ``auth.test``."""

    user_id: str
    bot_id: str


@dataclass(frozen=True, slots=True)
class UserInfo:
    """What ``users.info`` told us about a person."""

    display_name: str
    avatar_url: str | None = None


@dataclass(frozen=True, slots=True)
class Directory:
    """Names the caller resolved for one event, and its configured rooms.

    ``rooms`` maps a channel id to the room id as written in config (``C0123`` or
    ``#name``); channels not in it are reported under their id.
    """

    account: str
    me: Identity
    users: Mapping[str, UserInfo] = field(default_factory=dict)
    channels: Mapping[str, str] = field(default_factory=dict)
    rooms: Mapping[str, str] = field(default_factory=dict)

    def author(self, user_id: str, *, bot_id: str = "", username: str = "") -> Author:
        """The canonical author for ``user_id`` (or another app's ``bot_id``)."""
        info = self.users.get(user_id)
        name = username or (info.display_name if info else "") or user_id or bot_id
        return Author(
            network=NETWORK,
            user_id=user_id or bot_id,
            display_name=name,
            avatar_url=info.avatar_url if info else None,
            is_bot=bool(bot_id),
        )

    def room(self, channel: str) -> RoomRef:
        """The room reference events in ``channel`` are reported under."""
        return RoomRef(self.account, self.rooms.get(channel, channel))


def needed_ids(raw: Mapping[str, Any]) -> tuple[set[str], set[str]]:
    """User and channel ids that parsing ``raw`` wants names for."""
    users: set[str] = set()
    channels: set[str] = set()
    for message in (raw, raw.get("message")):
        if not isinstance(message, Mapping):
            continue
        if isinstance(message.get("user"), str):
            users.add(message["user"])
        if isinstance(message.get("text"), str):
            more_users, more_channels = mrkdwn.mentioned_ids(message["text"])
            users |= more_users
            channels |= more_channels
    if isinstance(raw.get("user"), str):
        users.add(raw["user"])
    return users, channels


def _is_ours(message: Mapping[str, Any], me: Identity) -> bool:
    if message.get("bot_id") == me.bot_id or message.get("user") == me.user_id:
        return True
    metadata = message.get("metadata")
    return isinstance(metadata, Mapping) and metadata.get("event_type") == ORIGIN_EVENT_TYPE


def _str(raw: Mapping[str, Any], key: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value:
        raise MalformedEvent(f"{key} missing or not a string")
    return value


def _ts(value: str) -> float:
    try:
        return float(value)
    except ValueError as exc:
        raise MalformedEvent("ts is not a Slack timestamp") from exc


def parse_event(raw: Mapping[str, Any], where: Directory) -> Event | None:
    """One Events API ``event`` → an :class:`Event`, or None when it is not ours to relay.

    Raises :class:`MalformedEvent` when a relevant event lacks a documented field.
    """
    kind = raw.get("type")
    if kind == "reaction_added":
        return _parse_reaction(raw, where)
    if kind != "message":
        return None
    subtype = raw.get("subtype")
    if subtype == "message_changed":
        return _parse_changed(raw, where)
    if subtype == "message_deleted":
        return _parse_deleted(raw, where)
    if subtype not in _MESSAGE_SUBTYPES or _is_ours(raw, where.me):
        return None
    ts = _str(raw, "ts")
    thread = raw.get("thread_ts")
    text = _text(raw, where)
    if subtype == "me_message" and text:
        text = f"_{text}_"
    return Event(
        kind=EventKind.MESSAGE,
        room=where.room(_str(raw, "channel")),
        remote_id=ts,
        author=_author(raw, where),
        text=text,
        attachments=_attachments(raw.get("files")),
        # A thread reply answers the thread's root (as matterbridge's ParentID does).
        reply_to=thread if isinstance(thread, str) and thread != ts else None,
        thread=thread if isinstance(thread, str) and thread != ts else None,
        ts=_ts(ts),
    )


def _author(message: Mapping[str, Any], where: Directory) -> Author:
    user = message.get("user")
    bot_id = message.get("bot_id")
    username = message.get("username")
    return where.author(
        user if isinstance(user, str) else "",
        bot_id=bot_id if isinstance(bot_id, str) else "",
        username=username if isinstance(username, str) else "",
    )


def _text(message: Mapping[str, Any], where: Directory) -> str:
    text = message.get("text")
    if text is None:
        return ""
    if not isinstance(text, str):
        raise MalformedEvent("text is not a string")

    def user_name(user_id: str) -> str | None:
        info = where.users.get(user_id)
        return info.display_name if info else None

    return mrkdwn.to_canonical(text, user_name, where.channels)


def _attachments(files: object) -> tuple[Attachment, ...]:
    if files is None:
        return ()
    if not isinstance(files, list):
        raise MalformedEvent("files is not a list")
    out: list[Attachment] = []
    for file in files:
        if not isinstance(file, Mapping) or not isinstance(file.get("url_private"), str):
            # Files a client cannot fetch (e.g. "hidden_by_limit" stubs) carry no URL.
            continue
        size = file.get("size")
        out.append(
            Attachment(
                filename=str(file.get("name") or file.get("title") or "file"),
                mime_type=str(file.get("mimetype") or "application/octet-stream"),
                size=size if isinstance(size, int) else 0,
                url=file["url_private"],
            )
        )
    return tuple(out)


def _parse_changed(raw: Mapping[str, Any], where: Directory) -> Event | None:
    message = raw.get("message")
    if not isinstance(message, Mapping):
        raise MalformedEvent("message_changed without message")
    if _is_ours(message, where.me):
        return None
    previous = raw.get("previous_message")
    # Slack also sends message_changed for unfurls and thread bookkeeping; only a new
    # text is an edit.
    if isinstance(previous, Mapping) and previous.get("text") == message.get("text"):
        return None
    target = _str(message, "ts")
    ts = _str(raw, "ts")
    thread = message.get("thread_ts")
    return Event(
        kind=EventKind.EDIT,
        room=where.room(_str(raw, "channel")),
        remote_id=ts,
        author=_author(message, where),
        text=_text(message, where),
        target=target,
        thread=thread if isinstance(thread, str) and thread != target else None,
        ts=_ts(ts),
    )


def _parse_deleted(raw: Mapping[str, Any], where: Directory) -> Event | None:
    previous = raw.get("previous_message")
    if isinstance(previous, Mapping) and _is_ours(previous, where.me):
        return None
    ts = _str(raw, "ts")
    author = _author(previous, where) if isinstance(previous, Mapping) else where.author("")
    return Event(
        kind=EventKind.DELETE,
        room=where.room(_str(raw, "channel")),
        remote_id=ts,
        author=author,
        target=_str(raw, "deleted_ts"),
        ts=_ts(ts),
    )


def _parse_reaction(raw: Mapping[str, Any], where: Directory) -> Event | None:
    item = raw.get("item")
    if not isinstance(item, Mapping):
        raise MalformedEvent("reaction_added without item")
    if item.get("type") != "message":
        return None
    user = _str(raw, "user")
    if user == where.me.user_id:
        return None
    ts = _str(raw, "event_ts")
    return Event(
        kind=EventKind.REACTION,
        room=where.room(_str(item, "channel")),
        remote_id=ts,
        author=where.author(user),
        target=_str(item, "ts"),
        emoji=from_slack(_str(raw, "reaction")),
        ts=_ts(ts),
    )
