"""The store's interface: what the core, the admin tools and the CLI may ask of it.

:class:`Store` is a :class:`typing.Protocol`, so a back end implements it by having these
methods (mypy checks it where a back end is returned as a ``Store``; see
:func:`bridgebot.store.open_store`). Only the records of :mod:`bridgebot.store.records`
and builtins cross it. ``tests/store`` is the contract every back end passes.

What every back end promises:

- **Durability**: a method that returned has committed; a write the caller was told
  about survives the process being killed.
- **Failures** are :class:`bridgebot.errors.StoreError`, naming the store and the
  operation; a failed write changes nothing, and it does not fail other callers' writes.
- **Order**: writes commit in the order they were called (``complete_soon`` included);
  a room's outbox is strict FIFO.
- **Hot path**: the outbox (accept, ``next_batch``, ``complete``) is on the path of every
  relayed message. Writes made while another is committing share the next commit (group
  commit), and ``next_batch`` calls made together share one trip to the database;
  ``writes``, ``commits`` and ``read_trips`` count them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from bridgebot.store.records import (
    Announcement,
    AuditEntry,
    DeadLetter,
    DeliveryState,
    HeldMessage,
    Link,
    NewDelivery,
    OutboxItem,
    Pruned,
)

__all__ = ["Store"]


@runtime_checkable
class Store(Protocol):
    """The bridge's durable state: id map, outbox, dead letters, audit, consent, overrides,
    announcements, links and cursors."""

    # -- counters (for metrics and tests) ----------------------------------------------

    @property
    def writes(self) -> int:
        """Writes committed (or failed) so far."""
        ...

    @property
    def commits(self) -> int:
        """Commits that carried them (group commits: one commit may carry many writes)."""
        ...

    @property
    def read_trips(self) -> int:
        """Trips to the database that carried ``next_batch`` reads."""
        ...

    async def close(self) -> None:
        """Finish queued writes and close. Idempotent; any other call after it is a
        StoreError naming the call."""
        ...

    # -- inbound ------------------------------------------------------------------------

    async def accept_message(
        self,
        room: str,
        remote_id: str,
        author_ref: str,
        bridge: str | None,
        ts: float,
        deliveries: Sequence[NewDelivery],
    ) -> int | None:
        """Record an origin message and its outbox rows in one transaction.

        Returns the new message id, or None if (room, remote_id) was accepted before or is
        one of our own copies (an echo); then nothing is written.
        """
        ...

    async def accept_followup(
        self,
        kind: str,
        room: str,
        remote_id: str,
        message_id: int,
        deliveries: Sequence[NewDelivery],
    ) -> bool:
        """Record an edit/delete/reaction of ``message_id`` with its deliveries.

        Dedupes on (kind, room, remote_id); returns False (writing nothing) if seen before.
        An unknown kind or a message that does not exist is a StoreError.
        """
        ...

    async def add_deliveries(self, message_id: int, deliveries: Sequence[NewDelivery]) -> None:
        """Append deliveries for an existing message (announcements, re-sends)."""
        ...

    # -- the id map -----------------------------------------------------------------------

    async def find_message(self, room: str, remote_id: str) -> int | None:
        """The message whose origin or whose copy is ``remote_id`` in ``room``."""
        ...

    async def remote_id_in(self, message_id: int, room: str) -> str | None:
        """The message's remote id in ``room``: its origin id there, else its copy's."""
        ...

    async def copies_of(self, message_id: int) -> list[tuple[str, str]]:
        """(room, remote_id) of every copy of the message, by room."""
        ...

    async def is_copy(self, room: str, remote_id: str) -> bool:
        """True if ``remote_id`` in ``room`` is a copy this bridge posted (an echo)."""
        ...

    async def message_origin(self, message_id: int) -> tuple[str, str, str] | None:
        """(room, remote_id, author_ref) of the message's origin event."""
        ...

    async def messages_by(self, author_ref: str) -> list[tuple[int, str, str]]:
        """Every accepted message by ``author_ref`` as (message id, room, remote id)."""
        ...

    # -- the outbox -----------------------------------------------------------------------

    async def pending_rooms(self) -> list[str]:
        """Every destination room with at least one pending delivery, sorted."""
        ...

    async def next_batch(self, dest_room: str, limit: int = 32) -> list[OutboxItem]:
        """The oldest ``limit`` pending deliveries to ``dest_room``, oldest first.

        Rows waiting for ``not_before`` are included: order per room is strict FIFO, and
        the dispatcher waits for the head. Rooms that ask together share one trip.
        """
        ...

    async def complete(
        self, item: OutboxItem, remote_id: str | None, next_limit: int = 0
    ) -> list[OutboxItem]:
        """Settle a delivery: drop its row and update the id map, in one transaction.

        A sent ``message`` with a ``remote_id`` records the copy (a copy of another
        message with the same remote id in that room is forgotten: networks reuse ids);
        a ``delete`` forgets it. With ``next_limit``, also return the room's next pending
        rows (as ``next_batch``), saving the dispatcher a trip.
        """
        ...

    def complete_soon(
        self, item: OutboxItem, remote_id: str | None
    ) -> asyncio.Future[list[OutboxItem]]:
        """As :meth:`complete`, but queued at once and not awaited: the returned future
        settles at the commit. Writes queued after it commit after it."""
        ...

    async def postpone(self, item_id: int, attempts: int, not_before: float) -> None:
        """Record a failed attempt: the row stays at the head, retried after ``not_before``."""
        ...

    async def dead_letter(self, item: OutboxItem, reason: str) -> None:
        """Move a delivery from the outbox to the dead letters (no-op if already settled)."""
        ...

    async def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        """The most recent dead letters, newest first."""
        ...

    async def retry_dead_letters(self, ids: Sequence[int] | None = None) -> int:
        """Put dead letters back at the tail of their rooms' queues; None means all.

        Attempts restart at zero and the deadline window restarts now. Unknown ids are
        ignored; returns how many were moved.
        """
        ...

    async def queue_depths(self) -> dict[str, int]:
        """Pending deliveries per destination room."""
        ...

    async def outbox_size(self) -> int:
        """Pending deliveries in all rooms."""
        ...

    # -- announcements ------------------------------------------------------------------

    async def add_announcement(
        self,
        *,
        author_ref: str,
        author_name: str,
        text: str,
        bridge: str | None,
        origin_room: str,
        origin_id: str | None = None,
        due_at: float | None = None,
    ) -> int:
        """Record an announcement, due at ``due_at`` (None: now); return its id.

        It stays ``scheduled`` until :meth:`queue_announcement` puts it in the outbox."""
        ...

    async def queue_announcement(
        self, announcement_id: int, message_id: int, deliveries: Sequence[NewDelivery]
    ) -> bool:
        """Put a scheduled announcement's deliveries in the outbox and mark it queued, in
        one transaction; False (writing nothing) if it was not scheduled any more."""
        ...

    async def announcement_reported(self, announcement_id: int) -> None:
        """The chat summary of the announcement is queued; do not report it again."""
        ...

    async def cancel_announcement(self, announcement_id: int) -> bool:
        """Cancel a scheduled announcement; False if it is not (or no longer) scheduled."""
        ...

    async def announcement(self, announcement_id: int) -> Announcement | None:
        """One announcement by id."""
        ...

    async def announcements(
        self, states: Sequence[str] = ("scheduled", "queued", "reported"), limit: int = 50
    ) -> list[Announcement]:
        """The latest announcements in ``states``, newest first."""
        ...

    async def due_announcements(self, now: float) -> list[Announcement]:
        """Scheduled announcements whose time has come, oldest due first."""
        ...

    async def unreported_announcements(self, exclude_origin: str) -> list[Announcement]:
        """Queued announcements from chat rooms (not ``exclude_origin``) not yet summarised."""
        ...

    async def delivery_state(self, message_id: int) -> DeliveryState:
        """Rooms where ``message_id`` landed, and where it failed (with the reason)."""
        ...

    # -- links ----------------------------------------------------------------------------

    async def set_link(self, bridge: str, room: str, linked: bool, actor: str) -> None:
        """Record that ``room`` is linked into (or unlinked from) ``bridge``."""
        ...

    async def delete_link(self, bridge: str, room: str) -> None:
        """Forget a chat-made link or unlink: bot.toml decides again."""
        ...

    async def links(self) -> list[Link]:
        """Every chat-made link and unlink, by bridge and room."""
        ...

    # -- consent and held messages ------------------------------------------------------

    async def get_consent(self, author_ref: str) -> bool | None:
        """The author's recorded consent, or None if they never answered."""
        ...

    async def set_consent(self, author_ref: str, consented: bool) -> None:
        """Record (or change) the author's consent."""
        ...

    async def hold(
        self, author_ref: str, message_id: int, event: str, dests: Sequence[str]
    ) -> None:
        """Keep a message back until its author answers the consent question."""
        ...

    async def held(self, author_ref: str) -> list[HeldMessage]:
        """The author's held messages, oldest first."""
        ...

    async def release_held(self, author_ref: str) -> int:
        """Forget the author's held messages (sent or refused); return how many."""
        ...

    async def consent_asked(self, author_ref: str, room: str) -> bool:
        """Record that the author was told how consent works; False if they already were."""
        ...

    # -- audit, overrides, cursors ------------------------------------------------------

    async def audit(self, actor: str, action: str, detail: str, room: str | None = None) -> None:
        """Append an entry to the audit log."""
        ...

    async def audit_log(self, limit: int = 100) -> list[AuditEntry]:
        """The latest audit entries, newest first."""
        ...

    async def set_override(self, room: str, key: str, value: str, actor: str) -> None:
        """Set a room setting made by chat command; ``value`` is JSON text."""
        ...

    async def delete_override(self, room: str, key: str) -> None:
        """Remove a room setting override (no-op if absent)."""
        ...

    async def overrides(self) -> list[tuple[str, str, str, str, float]]:
        """Every override as (room, key, value, actor, ts), by room and key."""
        ...

    async def get_cursor(self, key: str) -> str | None:
        """A value stored by :meth:`set_cursor`, or None."""
        ...

    async def set_cursor(self, key: str, value: str) -> None:
        """Persist a small value (sync token, update offset, status snapshot)."""
        ...

    # -- retention ----------------------------------------------------------------------

    async def prune(self, keep_days: float, held_days: float, batch: int = 500) -> Pruned:
        """Forget messages accepted more than ``keep_days`` ago (their copies and
        follow-ups too, unless a queued delivery, a dead letter, a hold or an announcement
        still needs them), and drop holds older than ``held_days``. 0 keeps for ever.

        Runs as batches of ``batch`` messages, each one transaction (one commit).
        """
        ...
