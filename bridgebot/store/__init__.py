"""The durable store: the id map, the outbox, dead letters, audit, consent, overrides,
announcements, links and cursors.

Holds: the SQLite implementation (:mod:`.sqlite`), its statements and transactions
(:mod:`.ops`, :mod:`.admin`, :mod:`.prune`) and its numbered migrations
(:mod:`.migrations`).

May import: :mod:`bridgebot.errors` only. The store knows rows, not rules, rooms' policies
or adapters; the running core and the admin tools import it, never the other way round.
"""

from __future__ import annotations

from bridgebot.store.sqlite import (
    DELIVERY_KINDS,
    Announcement,
    AuditEntry,
    DeadLetter,
    DeliveryState,
    HeldMessage,
    Link,
    NewDelivery,
    OutboxItem,
    Store,
)

__all__ = [
    "DELIVERY_KINDS",
    "Announcement",
    "AuditEntry",
    "DeadLetter",
    "DeliveryState",
    "HeldMessage",
    "Link",
    "NewDelivery",
    "OutboxItem",
    "Store",
]
