"""What crosses the store's interface: plain frozen dataclasses, and the checks every back
end makes on them before writing.

No SQL here: these are the same for SQLite and for any other back end behind
:class:`bridgebot.store.Store`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from bridgebot.errors import StoreError

__all__ = [
    "DAY",
    "DELIVERY_KINDS",
    "FOLLOWUP_KINDS",
    "Announcement",
    "AuditEntry",
    "DeadLetter",
    "DeliveryState",
    "HeldMessage",
    "Link",
    "NewDelivery",
    "OutboxItem",
    "Pruned",
    "check_deliveries",
    "check_followup_kind",
]

#: The kinds of delivery the dispatcher knows; anything else is refused at the door.
DELIVERY_KINDS = frozenset({"message", "edit", "delete", "reaction"})
FOLLOWUP_KINDS = DELIVERY_KINDS - {"message"}

#: Seconds in a day, for :meth:`Store.prune`'s ``keep_days`` and ``held_days``.
DAY = 86400.0


@dataclass(frozen=True, slots=True)
class NewDelivery:
    """A delivery to write to the outbox together with the event that caused it."""

    dest_room: str
    kind: str
    payload: str
    deadline: float | None


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One pending delivery, as the dispatcher reads it."""

    id: int
    message_id: int
    dest_room: str
    kind: str
    payload: str
    attempts: int
    not_before: float
    deadline: float | None
    created_at: float


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A delivery that failed for good, kept for admins to read and retry."""

    id: int
    message_id: int
    dest_room: str
    kind: str
    payload: str
    attempts: int
    reason: str
    failed_at: float


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One admin-visible action: rule change, announcement, command."""

    id: int
    ts: float
    actor: str
    room: str | None
    action: str
    detail: str


@dataclass(frozen=True, slots=True)
class Announcement:
    """One announcement: scheduled, queued (``message_id`` and ``rooms`` set) or reported."""

    id: int
    created_at: float
    author_ref: str
    author_name: str
    text: str
    #: The bridge it goes to; None means every bridge (CLI ``--all``), or, for a chat
    #: announcement, the bridges of ``origin_room``.
    bridge: str | None
    origin_room: str
    #: The remote id of the ``!announce`` message (chat), for the reply with the summary.
    origin_id: str | None
    due_at: float | None
    state: str
    message_id: int | None
    rooms: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DeliveryState:
    """Where one message's deliveries stand; the rest of its rooms are still queued."""

    landed: tuple[str, ...]
    failed: dict[str, str]


@dataclass(frozen=True, slots=True)
class Link:
    """A room linked into (``linked``) or unlinked from a bridge by an admin in chat."""

    bridge: str
    room: str
    linked: bool
    actor: str
    ts: float


@dataclass(frozen=True, slots=True)
class HeldMessage:
    """A message held until its author answers the consent question."""

    id: int
    author_ref: str
    message_id: int
    #: The inbound event as JSON (bridgebot.model.event_to_json).
    event: str
    #: The rooms the consent rule withheld it from.
    dests: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Pruned:
    """What a pruning pass forgot."""

    messages: int = 0
    #: author ref → held messages dropped because they never answered
    held: Counter[str] = field(default_factory=Counter)


def check_deliveries(deliveries: Sequence[NewDelivery]) -> None:
    """Refuse deliveries the dispatcher could not handle (StoreError)."""
    for d in deliveries:
        if d.kind not in DELIVERY_KINDS:
            raise StoreError(f"delivery to {d.dest_room}: unknown kind {d.kind!r}")
        if not isinstance(d.payload, str):
            raise StoreError(f"delivery to {d.dest_room}: payload must be JSON text")


def check_followup_kind(kind: str, room: str) -> None:
    """Refuse a follow-up of a kind the dispatcher does not know (StoreError)."""
    if kind not in FOLLOWUP_KINDS:
        raise StoreError(f"follow-up in {room}: unknown kind {kind!r}")
