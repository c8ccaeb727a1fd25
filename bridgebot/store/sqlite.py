"""The SQLite back end of :class:`bridgebot.store.Store`: one file, one aiosqlite connection
in WAL mode, through aiosqlite's public API only.

The outbox is on the hot path of every relayed message, and every statement is a hand-off
to aiosqlite's worker thread, so the statements are few: writes queued while one group
commits form the next, under one commit (:mod:`.sqlite_tx`); the relay's writes (accept,
follow-up, settle) of a group are one multi-row statement whose triggers do the work
(:mod:`.sqlite_relay`); any other write is one statement, or runs in a savepoint, so a
failing write fails alone; and the queue reads of rooms woken together are one statement
(:mod:`.sqlite_engine`, :mod:`.sqlite_ops`). The other tables are :mod:`.sqlite_admin`,
the schema :mod:`.migrations`.

Durability: a method that returned has committed. With ``synchronous=NORMAL`` in WAL mode a
commit survives the process being killed (it is in the OS page cache); only a power loss
can take the last few commits, which is the documented trade for throughput.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import aiosqlite

from bridgebot.errors import StoreError
from bridgebot.store import migrations as schema
from bridgebot.store import sqlite_ops as ops
from bridgebot.store import sqlite_relay as relay
from bridgebot.store.records import (
    DeadLetter,
    NewDelivery,
    OutboxItem,
    check_deliveries,
    check_followup_kind,
)
from bridgebot.store.sqlite_admin import SQLiteAdmin

__all__ = ["SQLiteStore"]

log = logging.getLogger("bridgebot.store")


class SQLiteStore(SQLiteAdmin):
    """The bridge's durable state in one SQLite file; build with :meth:`open`."""

    @classmethod
    async def open(
        cls,
        path: str | os.PathLike[str],
        *,
        clock: Callable[[], float] = time.time,
        migrations: Sequence[schema.Migration] = schema.MIGRATIONS,
    ) -> SQLiteStore:
        """Open (creating directories and schema as needed) and migrate the database.

        ``":memory:"`` gives a private in-memory store for tests. ``migrations`` exists for
        tests of the upgrade path. Raises StoreError saying what to do if it cannot.
        """
        where = os.fspath(path)
        if where != ":memory:":
            try:
                Path(where).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"store {where}: cannot create its directory: {exc}") from exc
        try:
            db = await aiosqlite.connect(where, isolation_level=None, cached_statements=256)
        except sqlite3.Error as exc:
            raise StoreError(f"store {where}: cannot open: {exc}") from exc
        store = cls(db, where, clock)
        try:
            mode = await store._call("open", ops.configure)
            if mode.lower() != "wal" and where != ":memory:":
                log.warning("store %s: journal mode is %s, not WAL; writes will be slower",
                            where, mode)  # fmt: skip
            await schema.migrate(db, where, store._transaction, migrations)
            await store._call("open", ops.create_connection_objects)
        except BaseException:
            await store.close()
            raise
        return store

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
        check_deliveries(deliveries)
        row = (room, remote_id, author_ref, bridge, ts, self._clock())
        plan = relay.accept_message(row, relay.deliveries_json(deliveries))
        return await self._apply("accept_message", plan)

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
        """
        check_followup_kind(kind, room)
        check_deliveries(deliveries)
        row = (kind, room, remote_id, message_id, self._clock())
        plan = relay.accept_followup(row, relay.deliveries_json(deliveries))
        return await self._apply("accept_followup", plan)

    async def add_deliveries(self, message_id: int, deliveries: Sequence[NewDelivery]) -> None:
        """Append deliveries for an existing message (announcements, re-sends)."""
        check_deliveries(deliveries)
        plan = ops.add_deliveries(message_id, relay.deliveries_json(deliveries), self._clock())
        await self._apply("add_deliveries", plan)

    # -- the id map -----------------------------------------------------------------------

    async def find_message(self, room: str, remote_id: str) -> int | None:
        """The message whose origin or whose copy is ``remote_id`` in ``room``."""
        found = await self._call(
            "find_message", ops.fetch_one, ops.FIND_MESSAGE, (room, remote_id)
        )
        return None if found is None else int(found)

    async def remote_id_in(self, message_id: int, room: str) -> str | None:
        """The message's remote id in ``room``: its origin id there, else its copy's."""
        found = await self._call(
            "remote_id_in", ops.fetch_one, ops.REMOTE_ID_IN, (message_id, room)
        )
        return None if found is None else str(found)

    async def copies_of(self, message_id: int) -> list[tuple[str, str]]:
        """(room, remote_id) of every copy of the message, by room."""
        sql = "SELECT room, remote_id FROM copies WHERE message_id = ? ORDER BY room"
        rows = await self._call("copies_of", ops.fetch_all, sql, (message_id,))
        return [(str(r[0]), str(r[1])) for r in rows]

    async def is_copy(self, room: str, remote_id: str) -> bool:
        """True if ``remote_id`` in ``room`` is a copy this bridge posted (an echo)."""
        sql = "SELECT 1 FROM copies WHERE room = ? AND remote_id = ?"
        return await self._call("is_copy", ops.fetch_one, sql, (room, remote_id)) is not None

    async def message_origin(self, message_id: int) -> tuple[str, str, str] | None:
        """(room, remote_id, author_ref) of the message's origin event."""
        sql = "SELECT room, remote_id, author_ref FROM messages WHERE id = ?"
        rows = await self._call("message_origin", ops.fetch_all, sql, (message_id,))
        return (str(rows[0][0]), str(rows[0][1]), str(rows[0][2])) if rows else None

    # -- the outbox -----------------------------------------------------------------------

    async def pending_rooms(self) -> list[str]:
        """Every destination room with at least one pending delivery."""
        sql = "SELECT DISTINCT dest_room FROM outbox ORDER BY dest_room"
        return [str(r[0]) for r in await self._call("pending_rooms", ops.fetch_all, sql, ())]

    async def next_batch(self, dest_room: str, limit: int = 32) -> list[OutboxItem]:
        """The oldest ``limit`` pending deliveries to ``dest_room``, oldest first.

        Rows waiting for ``not_before`` are included: order per room is strict FIFO, and
        the dispatcher waits for the head.
        """
        # Rooms woken together (one message fanned out to fifty rooms) ask together: their
        # reads share one trip to the worker thread, so the last room's first send does not
        # wait behind the others' trips and sends.
        return await self._next_batch(dest_room, limit)

    async def complete(
        self, item: OutboxItem, remote_id: str | None, next_limit: int = 0
    ) -> list[OutboxItem]:
        """Settle a delivery: drop its row and update the id map, in one transaction.

        A sent ``message`` with a ``remote_id`` records the copy; a ``delete`` forgets it.
        With ``next_limit``, also return the room's next pending rows (as ``next_batch``),
        saving the dispatcher a trip to the database thread.
        """
        plan = relay.complete(item, remote_id, self._clock(), next_limit)
        return await self._apply("complete", plan)

    def complete_soon(
        self, item: OutboxItem, remote_id: str | None
    ) -> asyncio.Future[list[OutboxItem]]:
        """As :meth:`complete`, but queued at once and not awaited: the returned future
        settles at the commit. Writes queued after it commit after it."""
        return self._enqueue("complete", relay.complete(item, remote_id, self._clock()))

    async def postpone(self, item_id: int, attempts: int, not_before: float) -> None:
        """Record a failed attempt: the row stays at the head, retried after ``not_before``."""
        sql = "UPDATE outbox SET attempts = ?, not_before = ? WHERE id = ?"
        await self._apply("postpone", ops.change(sql, (attempts, not_before, item_id)))

    async def dead_letter(self, item: OutboxItem, reason: str) -> None:
        """Move a delivery from the outbox to the dead letters (no-op if already settled)."""
        if not await self._write("dead_letter", ops.dead_letter, item, reason, self._clock()):
            log.debug("store: delivery %d was already settled; not dead-lettered", item.id)

    async def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        """The most recent dead letters, newest first."""
        sql = (
            "SELECT id, message_id, dest_room, kind, payload, attempts, reason, failed_at "
            "FROM dead_letters ORDER BY id DESC LIMIT ?"
        )
        rows = await self._call("dead_letters", ops.fetch_all, sql, (max(0, limit),))
        return [DeadLetter(*r) for r in rows]

    async def retry_dead_letters(self, ids: Sequence[int] | None = None) -> int:
        """Put dead letters back at the tail of their rooms' queues; None means all.

        Attempts restart at zero and the deadline window restarts now. Unknown ids are
        ignored; returns how many were moved.
        """
        return await self._write("retry_dead_letters", ops.retry_dead, ids, self._clock())

    async def queue_depths(self) -> dict[str, int]:
        """Pending deliveries per destination room."""
        sql = "SELECT dest_room, count(*) FROM outbox GROUP BY dest_room"
        return {
            str(r[0]): int(r[1]) for r in await self._call("queue_depths", ops.fetch_all, sql, ())
        }

    async def outbox_size(self) -> int:
        """Pending deliveries in all rooms."""
        return int(
            await self._call("outbox_size", ops.fetch_one, "SELECT count(*) FROM outbox", ())
        )
