"""The durable store: id map, outbox, dead letters, audit, consent, overrides, cursors.

One SQLite connection through aiosqlite, in WAL mode. Every public method is one hop to
aiosqlite's worker thread: a method that writes several statements runs them there as one
function inside ``BEGIN IMMEDIATE … COMMIT`` (see :mod:`bridgebot.store_ops`), instead of
paying one thread round trip per statement, because the outbox is on the hot path of every
relayed message. Only plain dataclasses and builtins cross this interface, so a PostgreSQL
implementation can stand behind the same methods.

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
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar, cast

import aiosqlite

from bridgebot.errors import StoreError
from bridgebot.store import migrations as schema
from bridgebot.store import ops
from bridgebot.store.admin import AdminStore, Announcement, DeliveryState, HeldMessage, Link
from bridgebot.store.ops import (
    DELIVERY_KINDS,
    FOLLOWUP_KINDS,
    AuditEntry,
    DeadLetter,
    NewDelivery,
    OutboxItem,
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

log = logging.getLogger("bridgebot.store")

_P = ParamSpec("_P")
_T = TypeVar("_T")


class Store(AdminStore):
    """The bridge's durable state behind a small async interface; build with :meth:`open`."""

    def __init__(self, db: aiosqlite.Connection, path: str, clock: Callable[[], float]) -> None:
        self._db = db
        self._path = path
        self._clock = clock
        # aiosqlite offers no public "run this function in your thread"; _execute is that
        # primitive, and it is what lets one method be one trip instead of one per statement.
        self._submit = cast("Callable[..., Awaitable[Any]]", db._execute)
        self._raw: sqlite3.Connection = db._conn
        self._tx_lock = asyncio.Lock()
        self._queue: list[tuple[str, ops.Call, asyncio.Future[Any]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._reads: list[tuple[str, int, asyncio.Future[list[OutboxItem]]]] = []
        self._reader: asyncio.Task[None] | None = None
        self._closed = False
        #: Writes committed and the group commits that carried them (for metrics), and the
        #: trips to the worker thread that carried queue reads.
        self.writes = 0
        self.commits = 0
        self.read_trips = 0

    @classmethod
    async def open(
        cls,
        path: str | os.PathLike[str],
        *,
        clock: Callable[[], float] = time.time,
        migrations: Sequence[schema.Migration] = schema.MIGRATIONS,
    ) -> Store:
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
        except BaseException:
            await store.close()
            raise
        return store

    async def close(self) -> None:
        """Finish queued writes and close the connection. Idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._reader is not None:
                await asyncio.shield(self._reader)
            if self._flusher is not None:
                await asyncio.shield(self._flusher)
            await self._db.execute("PRAGMA optimize")
        except sqlite3.Error:
            log.debug("store %s: PRAGMA optimize failed at close", self._path, exc_info=True)
        finally:
            await self._db.close()

    # -- plumbing -----------------------------------------------------------------------

    def _error(self, op: str, exc: BaseException) -> BaseException:
        if isinstance(exc, sqlite3.Error):
            wrapped = StoreError(f"store {self._path}: {op} failed: {exc}")
            wrapped.__cause__ = exc
            return wrapped
        return exc

    async def _call(
        self,
        op: str,
        fn: Callable[Concatenate[sqlite3.Connection, _P], _T],
        *args: _P.args,
        **kwargs: _P.kwargs,
    ) -> _T:
        """Run ``fn(conn, ...)`` in the worker thread now; sqlite errors become StoreError."""
        if self._closed:
            raise StoreError(f"store {self._path}: {op} called after close")
        return await self._run(op, fn, *args, **kwargs)

    async def _run(self, op: str, fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        try:
            if self._tx_lock.locked():
                # An async transaction spans several trips; do not interleave with it.
                async with self._tx_lock:
                    return cast(_T, await self._submit(fn, self._raw, *args, **kwargs))
            return cast(_T, await self._submit(fn, self._raw, *args, **kwargs))
        except sqlite3.Error as exc:
            raise self._error(op, exc) from exc

    async def _write(
        self,
        op: str,
        fn: Callable[Concatenate[sqlite3.Connection, _P], _T],
        *args: _P.args,
        **kwargs: _P.kwargs,
    ) -> _T:
        """Queue a write for the next group commit; return once it is committed."""
        return cast(_T, await self._enqueue(op, fn, *args, **kwargs))

    def _enqueue(
        self,
        op: str,
        fn: Callable[Concatenate[sqlite3.Connection, _P], _T],
        *args: _P.args,
        **kwargs: _P.kwargs,
    ) -> asyncio.Future[Any]:
        """Queue a write now (synchronously, so queue order is call order)."""
        if self._closed:
            raise StoreError(f"store {self._path}: {op} called after close")
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.append((op, (partial(fn, **kwargs) if kwargs else fn, args), done))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush(), name="store group commit")
        return done

    async def _flush(self) -> None:
        # Writes queued while one group is committing form the next group.
        batch: list[tuple[str, ops.Call, asyncio.Future[Any]]] = []
        try:
            while self._queue:
                # One loop turn first: the callers just told "committed" often write again
                # at once (a room worker completes its next item), and join this group.
                await asyncio.sleep(0)
                batch, self._queue = self._queue, []
                try:
                    outcomes = await self._run("write", ops.run_group, [c for _, c, _ in batch])
                except Exception as exc:  # the connection itself failed: all of them did
                    error: Exception = exc
                    if not isinstance(exc, StoreError):
                        error = StoreError(f"store {self._path}: write failed: {exc}")
                        error.__cause__ = exc
                    outcomes = [(False, error)] * len(batch)
                self.commits += 1
                self.writes += len(batch)
                for (op, _, done), (ok, value) in zip(batch, outcomes, strict=True):
                    if done.done():
                        continue  # the caller was cancelled; the write still happened
                    if ok:
                        done.set_result(value)
                    else:
                        done.set_exception(self._error(op, value))
                batch = []
        finally:
            # Only reached with work left if this task was cancelled (loop shutdown).
            for _, _, done in batch + self._queue:
                if not done.done():
                    done.set_exception(StoreError(f"store {self._path}: closed before commit"))
            self._queue = []
            self._flusher = None

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """An explicit BEGIN IMMEDIATE … COMMIT/ROLLBACK spanning several awaits.

        For rare multi-step work such as migrations; hot-path methods use :func:`ops.atomic`
        inside one worker-thread call instead.
        """
        async with self._tx_lock:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                await self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    await self._db.execute("ROLLBACK")
                raise

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
        ops.check_deliveries(deliveries)
        row = (room, remote_id, author_ref, bridge, ts, self._clock())
        return await self._write("accept_message", ops.accept_message, row, deliveries)

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
        if kind not in FOLLOWUP_KINDS:
            raise StoreError(f"follow-up in {room}: unknown kind {kind!r}")
        ops.check_deliveries(deliveries)
        row = (kind, room, remote_id, message_id, self._clock())
        return await self._write("accept_followup", ops.accept_followup, row, deliveries)

    async def add_deliveries(self, message_id: int, deliveries: Sequence[NewDelivery]) -> None:
        """Append deliveries for an existing message (announcements, re-sends)."""
        ops.check_deliveries(deliveries)
        await self._write(
            "add_deliveries", ops.add_deliveries, message_id, deliveries, self._clock()
        )

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
        if self._closed:
            raise StoreError(f"store {self._path}: next_batch called after close")
        # Rooms woken together (one message fanned out to fifty rooms) ask together: their
        # reads share one trip to the worker thread, so the last room's first send does not
        # wait behind the others' trips and sends.
        done: asyncio.Future[list[OutboxItem]] = asyncio.get_running_loop().create_future()
        self._reads.append((dest_room, max(0, limit), done))
        if self._reader is None:
            self._reader = asyncio.create_task(self._read_group(), name="store group read")
        return await done

    async def _read_group(self) -> None:
        batch: list[tuple[str, int, asyncio.Future[list[OutboxItem]]]] = []
        try:
            while self._reads:
                await asyncio.sleep(0)  # one loop turn: let the rooms woken with it ask too
                batch, self._reads = self._reads, []
                wanted = [(room, limit) for room, limit, _ in batch]
                self.read_trips += 1
                try:
                    results = await self._run("next_batch", ops.next_batches, wanted)
                except Exception as exc:
                    for _, _, done in batch:
                        if not done.done():
                            done.set_exception(exc)
                else:
                    for (_, _, done), rows in zip(batch, results, strict=True):
                        if not done.done():
                            done.set_result(rows)
                batch = []
        finally:
            for _, _, done in batch + self._reads:
                if not done.done():
                    done.set_exception(StoreError(f"store {self._path}: closed before read"))
            self._reads = []
            self._reader = None

    async def complete(
        self, item: OutboxItem, remote_id: str | None, next_limit: int = 0
    ) -> list[OutboxItem]:
        """Settle a delivery: drop its row and update the id map, in one transaction.

        A sent ``message`` with a ``remote_id`` records the copy; a ``delete`` forgets it.
        With ``next_limit``, also return the room's next pending rows (as ``next_batch``),
        saving the dispatcher a trip to the database thread.
        """
        return await self._write(
            "complete", ops.complete, item, remote_id, self._clock(), next_limit
        )

    def complete_soon(
        self, item: OutboxItem, remote_id: str | None
    ) -> asyncio.Future[list[OutboxItem]]:
        """As :meth:`complete`, but queued at once and not awaited: the returned future
        settles at the commit. Writes queued after it commit after it."""
        return self._enqueue("complete", ops.complete, item, remote_id, self._clock(), 0)

    async def postpone(self, item_id: int, attempts: int, not_before: float) -> None:
        """Record a failed attempt: the row stays at the head, retried after ``not_before``."""
        sql = "UPDATE outbox SET attempts = ?, not_before = ? WHERE id = ?"
        await self._write("postpone", ops.write, sql, (attempts, not_before, item_id))

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
