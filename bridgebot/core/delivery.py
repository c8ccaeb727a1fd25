"""What sits in the outbox: one frozen :class:`Delivery`, its kind and its outcome.

Built in one place per origin (the router for relayed events, :func:`notice` for the bot's
own answers, announcements for the CLI), written to the outbox as JSON with
:meth:`Delivery.to_json`, and read back by the dispatcher with :func:`from_outbox`. The
JSON keeps the field names of the dict payloads that bridgebot 0.1 wrote, so rows queued
before an upgrade still send.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import json
import sys
import time
from dataclasses import dataclass
from typing import Any

from bridgebot.model import Attachment, Outbound, RoomRef

__all__ = [
    "BOT_LABEL",
    "DecidedOn",
    "Delivery",
    "DeliveryKind",
    "Outcome",
    "from_outbox",
    "notice",
]

#: The label and author name of the bot's own posts (answers, notices, reports).
BOT_LABEL = "bridgebot"


class DeliveryKind(enum.StrEnum):
    """What the dispatcher asks the destination's adapter to do."""

    MESSAGE = "message"
    EDIT = "edit"
    DELETE = "delete"
    REACTION = "reaction"


class Outcome(enum.StrEnum):
    """How a delivery settled."""

    SENT = "sent"
    #: Nothing to act on in that room (an edit of a message that never got a copy there).
    SKIPPED = "skipped"
    DEAD = "dead"


@dataclass(frozen=True, slots=True)
class DecidedOn:
    """The facts the rules decided on when the message was accepted (no content)."""

    #: The room the message came from (the CLI's pseudo-room for CLI announcements).
    origin: RoomRef
    bridge: str
    #: ``ACCOUNT:USER`` of the author; empty for the bot's own posts.
    author_ref: str = ""
    #: The author's consent answer at the time: None for not asked or not needed.
    consented: bool | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    """One delivery to one destination room, rendered under the rules in force.

    ``reply_to``, ``thread`` and ``target`` are the store's message ids; the dispatcher
    maps them to remote ids in ``dest`` when it sends (a copy sent moments ago counts).
    """

    kind: DeliveryKind
    dest: RoomRef
    #: Stable across retries and restarts: the adapters' idempotency key.
    key: str
    decided_on: DecidedOn
    text: str = ""
    label: str = ""
    author_name: str = ""
    author_id: str = ""
    avatar_url: str | None = None
    attachments: tuple[Attachment, ...] = ()
    reply_to: int | None = None
    thread: int | None = None
    target: int | None = None
    emoji: str | None = None
    ts: float = 0.0
    announce: bool = False

    def outbound(self, reply_to: str | None = None, thread: str | None = None) -> Outbound:
        """What the adapter posts, with ``reply_to``/``thread`` resolved to remote ids."""
        return Outbound(
            key=self.key,
            text=self.text,
            label=self.label,
            bridge=self.decided_on.bridge,
            origin=self.decided_on.origin,
            author_name=self.author_name,
            author_id=self.author_id,
            avatar_url=self.avatar_url,
            reply_to=reply_to,
            thread=thread,
            attachments=self.attachments,
            ts=self.ts,
            is_announcement=self.announce,
        )

    def to_json(self) -> str:
        """The outbox row's payload. Inline attachment bytes travel base64-encoded, so a
        file from a network whose URLs are private (Telegram's carry the token) crosses."""
        return json.dumps(
            {
                "kind": self.kind.value,
                "dest": str(self.dest),
                "key": self.key,
                "origin": str(self.decided_on.origin),
                "bridge": self.decided_on.bridge,
                "author_ref": self.decided_on.author_ref,
                "consented": self.decided_on.consented,
                "text": self.text,
                "label": self.label,
                "author_name": self.author_name,
                "author_id": self.author_id,
                "avatar_url": self.avatar_url,
                "attachments": [_attachment_json(a) for a in self.attachments],
                "reply_to_msg": self.reply_to,
                "thread_msg": self.thread,
                "target_msg": self.target,
                "emoji": self.emoji,
                "ts": self.ts,
                "announce": self.announce,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Delivery:
        """The delivery :meth:`to_json` wrote; ValueError names what is missing or wrong."""
        return _parse(_load(text), None, None)


def from_outbox(payload: str, kind: str, dest_room: str) -> Delivery:
    """A delivery read from an outbox row. Rows written before payloads named their own
    kind and destination take them from the row's columns. ValueError if unreadable."""
    return _parse(_load(payload), kind, dest_room)


def notice(
    dest: RoomRef,
    key: str,
    text: str,
    *,
    bridge: str | None = None,
    reply_to: int | None = None,
) -> Delivery:
    """The bot's own post ``text`` in ``dest`` (a command's answer, a notice, a report).

    ``key`` names the notice; the same key in the same room is the same delivery.
    """
    return Delivery(
        kind=DeliveryKind.MESSAGE,
        dest=dest,
        key=hashlib.sha256(f"{dest}\0{key}".encode()).hexdigest()[:32],
        decided_on=DecidedOn(origin=dest, bridge=bridge or ""),
        text=text,
        label=BOT_LABEL,
        author_name=BOT_LABEL,
        reply_to=reply_to,
        ts=time.time(),
    )


def _attachment_json(a: Attachment) -> dict[str, Any]:
    return {
        "filename": a.filename,
        "mime_type": a.mime_type,
        "size": a.size,
        "url": a.url,
        "data": base64.b64encode(a.data).decode("ascii") if a.data is not None else None,
    }


def _load(text: str) -> dict[str, Any]:
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"delivery payload is not JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise ValueError("delivery payload is not a JSON object")
    return raw


def _opt(raw: dict[str, Any], key: str, kind: type) -> Any:
    value = raw.get(key)
    if value is not None and not isinstance(value, kind):
        raise ValueError(f"delivery payload: {key} is not a {kind.__name__}")
    return value


def _str(raw: dict[str, Any], key: str, default: str = "") -> str:
    value = _opt(raw, key, str)
    return default if value is None else str(value)


def _attachment(raw: Any) -> Attachment:
    if not isinstance(raw, dict):
        raise ValueError("delivery payload: an attachment is not an object")
    data = _opt(raw, "data", str)
    try:
        content = base64.b64decode(data, validate=True) if data is not None else None
    except binascii.Error as exc:
        raise ValueError(f"delivery payload: attachment data is not base64: {exc}") from exc
    size = raw.get("size")
    if not isinstance(size, int) or isinstance(size, bool):
        raise ValueError("delivery payload: attachment size is not a number")
    return Attachment(
        _str(raw, "filename"), _str(raw, "mime_type"), size, _opt(raw, "url", str), content
    )


def _parse(raw: dict[str, Any], kind: str | None, dest_room: str | None) -> Delivery:
    kind_text = _str(raw, "kind", kind or "")
    dest_text = _str(raw, "dest", dest_room or "")
    try:
        delivery_kind = DeliveryKind(kind_text)
    except ValueError:
        raise ValueError(f"delivery payload: unknown kind {kind_text!r}") from None
    dest = RoomRef.parse(dest_text)
    # Deletes queued by bridgebot 0.1 named neither origin nor bridge; they need neither.
    origin = RoomRef.parse(raw["origin"]) if isinstance(raw.get("origin"), str) else dest
    key = _str(raw, "key")
    if not key:
        raise ValueError("delivery payload: no key")
    ts = raw.get("ts", 0.0)
    if isinstance(ts, int) and abs(ts) > sys.float_info.max:
        raise ValueError("delivery payload: ts is out of range")
    attachments = raw.get("attachments") or []
    if not isinstance(attachments, list):
        raise ValueError("delivery payload: attachments is not a list")
    return Delivery(
        kind=delivery_kind,
        dest=dest,
        key=key,
        decided_on=DecidedOn(
            origin=origin,
            bridge=_str(raw, "bridge"),
            author_ref=_str(raw, "author_ref"),
            consented=_opt(raw, "consented", bool),
        ),
        text=_str(raw, "text"),
        label=_str(raw, "label"),
        author_name=_str(raw, "author_name"),
        author_id=_str(raw, "author_id"),
        avatar_url=_opt(raw, "avatar_url", str),
        attachments=tuple(_attachment(a) for a in attachments),
        reply_to=_opt(raw, "reply_to_msg", int),
        thread=_opt(raw, "thread_msg", int),
        target=_opt(raw, "target_msg", int),
        emoji=_opt(raw, "emoji", str),
        ts=float(ts) if isinstance(ts, int | float) else 0.0,
        announce=bool(raw.get("announce")),
    )
