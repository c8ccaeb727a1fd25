"""The canonical, inert message model shared by adapters, the core and rules.

Everything here is a frozen, slotted dataclass with no I/O: adapters translate their
network's payloads into these types and back, the core stores and routes them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import NewType

__all__ = [
    "AccountName",
    "Attachment",
    "Author",
    "Capabilities",
    "Event",
    "EventKind",
    "Outbound",
    "RemoteId",
    "RoomRef",
]

#: "slack.work": network type, a dot, the account name from ``[networks.TYPE.NAME]``.
AccountName = NewType("AccountName", str)
#: The network's own id for a message (Slack ts, Matrix event id, Telegram message id...).
RemoteId = NewType("RemoteId", str)


@dataclass(frozen=True, slots=True, order=True)
class RoomRef:
    """A room on one configured account: ``str()`` gives ``"slack.work:C0123"``.

    The account (not only the network) is part of the reference because one bot may sit
    in two workspaces of the same network.
    """

    account: str
    room_id: str

    @property
    def network(self) -> str:
        """The network type: ``"slack"`` for account ``"slack.work"``."""
        return self.account.split(".", 1)[0]

    @classmethod
    def parse(cls, text: str) -> RoomRef:
        """Parse ``ACCOUNT:ROOM``, split at the first colon; raises ``ValueError``."""
        account, sep, room_id = text.partition(":")
        if not sep or not account or not room_id:
            raise ValueError(
                f"room {text!r} is not of the form ACCOUNT:ROOM, e.g. slack.work:C0123"
            )
        if "." not in account:
            raise ValueError(
                f"room {text!r}: account {account!r} must be TYPE.NAME, e.g. slack.work"
            )
        return cls(account, room_id)

    def __str__(self) -> str:
        return f"{self.account}:{self.room_id}"


@dataclass(frozen=True, slots=True)
class Author:
    """Who wrote an event, as the origin network knows them."""

    network: str
    user_id: str
    display_name: str
    avatar_url: str | None = None
    is_bot: bool = False

    @property
    def ref(self) -> str:
        """``NETWORK:USER`` as used in logs; roles use ``ACCOUNT:USER`` (see Event.author_ref)."""
        return f"{self.network}:{self.user_id}"


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file carried by a message: by URL, or inline bytes for small files."""

    filename: str
    mime_type: str
    size: int
    url: str | None = None
    data: bytes | None = field(default=None, repr=False)


class EventKind(enum.StrEnum):
    """What happened in a room."""

    MESSAGE = "message"
    EDIT = "edit"
    DELETE = "delete"
    REACTION = "reaction"


@dataclass(frozen=True, slots=True)
class Event:
    """What an adapter reports to the core.

    ``reply_to``, ``thread`` and ``target`` are remote ids in the same room. For an edit,
    ``target`` is the edited message and ``text`` its new text; for a delete, ``target`` is
    the deleted message; for a reaction, ``target`` is the message and ``emoji`` the reaction.
    ``bridge`` restricts a message to one bridge (the API's ``gateway``); ``None`` means every
    bridge the room is in.
    """

    kind: EventKind
    room: RoomRef
    remote_id: str
    author: Author
    text: str = ""
    attachments: tuple[Attachment, ...] = ()
    reply_to: str | None = None
    thread: str | None = None
    target: str | None = None
    emoji: str | None = None
    ts: float = 0.0
    bridge: str | None = None
    is_notice: bool = False

    @property
    def author_ref(self) -> str:
        """``ACCOUNT:USER``, the form used by ``[roles]`` and consent records."""
        return f"{self.room.account}:{self.author.user_id}"


@dataclass(frozen=True, slots=True)
class Outbound:
    """What the core asks an adapter to post in one destination room.

    ``text`` is the (redacted, transformed) canonical text without the label; ``label`` is
    the bridge's label template rendered for this message. An adapter whose network can
    show a per-message identity uses ``label``/``avatar_url`` as the sender; others put the
    label in the text (``labelled_text()``). ``reply_to`` and ``thread`` are remote ids in
    the destination room. ``key`` is stable across retries of the same delivery, for
    idempotency (Matrix txn ids, email Message-IDs).
    """

    key: str
    text: str
    label: str
    bridge: str
    origin: RoomRef
    author_name: str
    author_id: str
    avatar_url: str | None = None
    reply_to: str | None = None
    thread: str | None = None
    attachments: tuple[Attachment, ...] = ()
    ts: float = 0.0
    is_announcement: bool = False

    def labelled_text(self) -> str:
        """The text with the label in front, for networks without per-message identity."""
        if not self.label:
            return self.text
        return f"{self.label}: {self.text}" if self.text else self.label


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a network can do; the router asks this instead of branching on names."""

    edits: bool = True
    deletes: bool = True
    reactions: bool = True
    threads: bool = True
    replies: bool = True
    per_message_identity: bool = False
    attachments: bool = True
    max_text_length: int = 4000
