"""SQLite plumbing behind :class:`bridgebot.store.SQLiteStore`: one aiosqlite connection,
and the ways to use it: reads, the group commit, the group read, explicit transactions.

Only aiosqlite's public API is used (``connect``, ``execute``, ``execute_fetchall``,
``executemany``, ``in_transaction``, ``close``): each statement is one call to its worker
thread. Writes are queued and committed in groups by :func:`.sqlite_tx.run_group`; queue
reads of rooms that ask together are one statement. One :class:`asyncio.Lock` gives the
connection to one user at a time (a read, a group, a migration), so a read never sees a
group's uncommitted rows and the statements of two units never interleave.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import Any, Concatenate, ParamSpec, TypeVar, cast

import aiosqlite

from bridgebot.errors import StoreError
from bridgebot.store import sqlite_ops as ops
from bridgebot.store.records import OutboxItem
from bridgebot.store.sqlite_tx import Call, Plan, rollback, run_group

__all__ = ["SQLiteEngine"]

log = logging.getLogger("bridgebot.store")

_P = ParamSpec("_P")
_T = TypeVar("_T")


class SQLiteEngine:
    """The connection and the ways to use it: reads, queued writes, group reads of the
    outbox, explicit transactions. :class:`bridgebot.store.SQLiteStore` builds on it."""

    def __init__(self, db: aiosqlite.Connection, path: str, clock: Callable[[], float]) -> None:
        self._db = db
        self._path = path
        self._clock = clock
        self._lock = asyncio.Lock()
        self._queue: list[tuple[str, Call, asyncio.Future[Any]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._reads: list[tuple[str, int, asyncio.Future[list[OutboxItem]]]] = []
        self._reader: asyncio.Task[None] | None = None
        self._closed = False
        #: Writes committed and the group commits that carried them (for metrics), and the
        #: trips to the worker thread that carried queue reads.
        self.writes = 0
        self.commits = 0
        self.read_trips = 0

    async def close(self) -> None:
        """Finish queued writes and reads, and close the connection. Idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._reader is not None:
                await asyncio.shield(self._reader)
            if self._flusher is not None:
                await asyncio.shield(self._flusher)
            async with self._lock:
                await self._db.execute("PRAGMA optimize")
        except sqlite3.Error:
            log.debug("store %s: PRAGMA optimize failed at close", self._path, exc_info=True)
        finally:
            await self._db.close()

    # -- errors -------------------------------------------------------------------------

    def _error(self, op: str, exc: BaseException) -> BaseException:
        if isinstance(exc, sqlite3.Error):
            wrapped = StoreError(f"store {self._path}: {op} failed: {exc}")
            wrapped.__cause__ = exc
            return wrapped
        return exc

    def _refuse_if_closed(self, op: str) -> None:
        if self._closed:
            raise StoreError(f"store {self._path}: {op} called after close")

    # -- reads --------------------------------------------------------------------------

    async def _call(
        self,
        op: str,
        fn: Callable[Concatenate[aiosqlite.Connection, _P], Awaitable[_T]],
        *args: _P.args,
        **kwargs: _P.kwargs,
    ) -> _T:
        """Run ``fn(db, ...)`` now (a read); sqlite errors become StoreError."""
        self._refuse_if_closed(op)
        return await self._run(op, fn, *args, **kwargs)

    async def _run(
        self, op: str, fn: Callable[..., Awaitable[_T]], *args: Any, **kwargs: Any
    ) -> _T:
        try:
            async with self._lock:
                return await fn(self._db, *args, **kwargs)
        except sqlite3.Error as exc:
            raise self._error(op, exc) from exc

    # -- writes: the group commit -------------------------------------------------------

    async def _write(
        self,
        op: str,
        fn: Callable[Concatenate[aiosqlite.Connection, _P], Awaitable[_T]],
        *args: _P.args,
        **kwargs: _P.kwargs,
    ) -> _T:
        """Queue a write of several statements for the next group commit; return once it
        is committed. ``fn`` wraps its statements in :func:`.sqlite_tx.atomic`."""
        call = (partial(fn, **kwargs) if kwargs else fn, args)
        return cast(_T, await self._enqueue(op, call))

    async def _apply(self, op: str, plan: Plan[_T]) -> _T:
        """Queue a write of one statement (and reads after it) for the next group commit;
        return its result once it is committed."""
        return cast(_T, await self._enqueue(op, plan))

    def _enqueue(self, op: str, call: Call) -> asyncio.Future[Any]:
        """Queue a write now (synchronously, so queue order is call order)."""
        self._refuse_if_closed(op)
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.append((op, call, done))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush(), name="store group commit")
        return done

    async def _flush(self) -> None:
        # Writes queued while one group is committing form the next group.
        batch: list[tuple[str, Call, asyncio.Future[Any]]] = []
        try:
            while self._queue:
                # One loop turn first: the callers just told "committed" often write again
                # at once (a room worker completes its next item), and join this group.
                await asyncio.sleep(0)
                async with self._lock:
                    batch, self._queue = self._queue, []
                    try:
                        outcomes = await run_group(self._db, [c for _, c, _ in batch])
                    except Exception as exc:  # the connection itself failed: all of them did
                        outcomes = [(False, exc)] * len(batch)
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

    # -- reads of the outbox: the group read --------------------------------------------

    async def _next_batch(self, dest_room: str, limit: int) -> list[OutboxItem]:
        """Queue a read of one room's queue; rooms that ask together share one trip."""
        self._refuse_if_closed("next_batch")
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
                self.read_trips += ops.trips_for(len(wanted))
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

    # -- explicit transactions ----------------------------------------------------------

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """An explicit BEGIN IMMEDIATE … COMMIT/ROLLBACK holding the connection.

        For rare multi-step work such as migrations; writes go through the group commit.
        """
        async with self._lock:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                await self._db.execute("COMMIT")
            except BaseException:
                await rollback(self._db)
                raise
