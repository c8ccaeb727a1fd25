"""The durable store: the id map, the outbox, dead letters, audit, consent, overrides,
announcements, links and cursors.

Holds: the interface (:class:`Store`, a Protocol, in :mod:`.interface`) and the records
that cross it (:mod:`.records`); :func:`open_store`, the one place that picks a back end;
the SQLite back end (:class:`SQLiteStore` in :mod:`.sqlite`, with its plumbing
:mod:`.sqlite_engine` and :mod:`.sqlite_tx`, its SQL :mod:`.sqlite_relay`,
:mod:`.sqlite_ops`, :mod:`.sqlite_admin` and :mod:`.sqlite_prune`, and its numbered
:mod:`.migrations`).

May import: :mod:`bridgebot.errors` only. The store knows rows, not rules, rooms' policies
or adapters; the running core and the admin tools import it, never the other way round.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from bridgebot.store.interface import Store
from bridgebot.store.records import (
    DAY,
    DELIVERY_KINDS,
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
from bridgebot.store.sqlite import SQLiteStore

__all__ = [
    "DAY",
    "DELIVERY_KINDS",
    "Announcement",
    "AuditEntry",
    "DeadLetter",
    "DeliveryState",
    "HeldMessage",
    "Link",
    "NewDelivery",
    "OutboxItem",
    "Pruned",
    "SQLiteStore",
    "Store",
    "open_store",
]

if TYPE_CHECKING:
    # mypy checks here that every back end has every method of the interface, with its
    # parameters and types (and tests/store/test_interface.py checks it at run time).
    _sqlite_is_a_store: type[Store] = SQLiteStore


async def open_store(
    target: str | os.PathLike[str], *, clock: Callable[[], float] = time.time
) -> Store:
    """Open the store ``target`` names, creating and migrating it as needed.

    ``target`` is ``[store] path``: an SQLite file (or ``":memory:"`` for tests). This is
    the one place that picks a back end from it. Raises StoreError saying what to do if it
    cannot open.
    """
    return await SQLiteStore.open(target, clock=clock)
