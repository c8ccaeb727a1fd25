"""The store's records, its SQL, and the transactions that run in aiosqlite's worker thread.

Each function here takes the raw ``sqlite3.Connection`` and is called by :class:`Store`
through one worker-thread hop; a function that writes several statements wraps them in
:func:`atomic` (``BEGIN IMMEDIATE … COMMIT``). Kept apart from ``store.py`` so the async
interface reads on its own; nothing outside the store imports this module except for the
record types, which ``bridgebot.store`` re-exports.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from bridgebot.errors import StoreError

__all__ = [
    "DELIVERY_KINDS",
    "FOLLOWUP_KINDS",
    "AuditEntry",
    "DeadLetter",
    "NewDelivery",
    "OutboxItem",
]

log = logging.getLogger("bridgebot.store")

#: The kinds of delivery the dispatcher knows; anything else is refused at the door.
DELIVERY_KINDS = frozenset({"message", "edit", "delete", "reaction"})
FOLLOWUP_KINDS = DELIVERY_KINDS - {"message"}


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


# -- SQL, kept as constants so sqlite3's statement cache reuses the prepared statements ----

_IS_COPY = "SELECT 1 FROM copies WHERE room = ? AND remote_id = ?"
_INSERT_MESSAGE = """
    INSERT INTO messages (room, remote_id, author_ref, bridge, ts, accepted_at)
    VALUES (?, ?, ?, ?, ?, ?)
    ON CONFLICT (room, remote_id) DO NOTHING
    RETURNING id
"""
_INSERT_FOLLOWUP = """
    INSERT INTO followups (kind, room, remote_id, message_id, accepted_at)
    VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (kind, room, remote_id) DO NOTHING
"""
_INSERT_OUTBOX = """
    INSERT INTO outbox (message_id, dest_room, kind, payload, attempts, not_before, deadline,
                        created_at)
    VALUES (?, ?, ?, ?, 0, 0, ?, ?)
"""
_ITEM_COLUMNS = (
    "id, message_id, dest_room, kind, payload, attempts, not_before, deadline, created_at"
)
_NEXT_BATCH = f"SELECT {_ITEM_COLUMNS} FROM outbox WHERE dest_room = ? ORDER BY id LIMIT ?"
_DELETE_ITEM = "DELETE FROM outbox WHERE id = ?"
# A network may reuse an id (a number freed by a delete): the newest copy wins, otherwise
# the unique (room, remote_id) index would refuse the insert and stall that room's queue.
_DROP_STALE_COPY = "DELETE FROM copies WHERE room = ? AND remote_id = ? AND message_id <> ?"
_UPSERT_COPY = """
    INSERT INTO copies (message_id, room, remote_id, created_at) VALUES (?, ?, ?, ?)
    ON CONFLICT (message_id, room) DO UPDATE SET remote_id = excluded.remote_id
"""
_FORGET_COPY = "DELETE FROM copies WHERE message_id = ? AND room = ?"
FIND_MESSAGE = """
    SELECT id FROM messages WHERE room = ?1 AND remote_id = ?2
    UNION ALL
    SELECT message_id FROM copies WHERE room = ?1 AND remote_id = ?2
    LIMIT 1
"""
REMOTE_ID_IN = """
    SELECT remote_id FROM messages WHERE id = ?1 AND room = ?2
    UNION ALL
    SELECT remote_id FROM copies WHERE message_id = ?1 AND room = ?2
    LIMIT 1
"""
_INSERT_DEAD = """
    INSERT INTO dead_letters (message_id, dest_room, kind, payload, attempts, reason, failed_at,
                              deadline, created_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
"""
_DEAD_COLUMNS = "id, message_id, dest_room, kind, payload, deadline, created_at"


# -- functions that run in aiosqlite's worker thread ---------------------------------------


@contextmanager
def atomic(conn: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE … COMMIT, or a savepoint inside a group commit; undone on error."""
    if conn.in_transaction:
        # Inside run_group: undo only this operation, not the others sharing the commit.
        conn.execute("SAVEPOINT op")
        try:
            yield
            conn.execute("RELEASE op")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK TO op")
                conn.execute("RELEASE op")
            raise
        return
    # IMMEDIATE takes the write lock at BEGIN, where busy_timeout applies, rather than
    # failing half-way with SQLITE_BUSY when a reader in another process upgrades.
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        _rollback(conn)
        raise


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            log.exception("rollback failed; the original error follows")


#: A write queued for a group commit, and what became of it: (True, result) or (False, error).
Call = tuple[Callable[..., Any], tuple[Any, ...]]
Outcome = tuple[bool, Any]


def run_group(conn: sqlite3.Connection, calls: Sequence[Call]) -> list[Outcome]:
    """Run several queued writes under one COMMIT (group commit), each in its own savepoint.

    The commit, not the statements, is what costs on this hot path, so writes that arrive
    while the previous group is committing share the next one. One failing write is undone
    alone; if SQLite itself aborts the transaction, or the commit fails, every write in
    the group reports that error, so no caller hears "done" for something not committed.
    """
    if len(calls) == 1:
        fn, args = calls[0]
        try:
            return [(True, fn(conn, *args))]
        except Exception as exc:
            return [(False, exc)]
    outcomes: list[Outcome] = []
    try:
        conn.execute("BEGIN IMMEDIATE")
        for fn, args in calls:
            try:
                outcomes.append((True, fn(conn, *args)))
            except Exception as exc:
                if not conn.in_transaction:
                    raise  # the whole transaction is gone: nobody in the group committed
                outcomes.append((False, exc))
        conn.execute("COMMIT")
    except Exception as exc:
        _rollback(conn)
        return [(False, exc)] * len(calls)
    return outcomes


def fetch_one(conn: sqlite3.Connection, sql: str, params: Sequence[Any]) -> Any:
    """The first column of the first row, or None."""
    row = conn.execute(sql, params).fetchone()
    return None if row is None else row[0]


def fetch_all(conn: sqlite3.Connection, sql: str, params: Sequence[Any]) -> list[Any]:
    """Every row."""
    return conn.execute(sql, params).fetchall()


def write(conn: sqlite3.Connection, sql: str, params: Sequence[Any]) -> int:
    """Run one write statement; return the rows it changed."""
    # One statement is atomic by itself: alone it is its own transaction, and in a group a
    # failing statement is undone by SQLite without aborting the others.
    return conn.execute(sql, params).rowcount


def insert_deliveries(
    conn: sqlite3.Connection, message_id: int, deliveries: Sequence[NewDelivery], now: float
) -> None:
    """Append outbox rows for ``message_id`` (inside the caller's transaction)."""
    if deliveries:
        conn.executemany(
            _INSERT_OUTBOX,
            [(message_id, d.dest_room, d.kind, d.payload, d.deadline, now) for d in deliveries],
        )


def accept_message(
    conn: sqlite3.Connection,
    row: tuple[str, str, str, str | None, float, float],
    deliveries: Sequence[NewDelivery],
) -> int | None:
    """Insert an origin message and its deliveries; None if it is a duplicate, or if it is
    one of our own copies coming back (an echo; checked here to save the Hub a trip)."""
    if conn.execute(_IS_COPY, (row[0], row[1])).fetchone() is not None:
        return None
    with atomic(conn):
        # fetchall, not fetchone: the RETURNING statement must finish before COMMIT.
        ids = conn.execute(_INSERT_MESSAGE, row).fetchall()
        if not ids:
            return None
        message_id = int(ids[0][0])
        insert_deliveries(conn, message_id, deliveries, row[-1])
        return message_id


def accept_followup(
    conn: sqlite3.Connection,
    row: tuple[str, str, str, int, float],
    deliveries: Sequence[NewDelivery],
) -> bool:
    """Insert an edit/delete/reaction and its deliveries; False if a duplicate."""
    with atomic(conn):
        if conn.execute(_INSERT_FOLLOWUP, row).rowcount == 0:
            return False
        insert_deliveries(conn, row[3], deliveries, row[4])
        return True


def add_deliveries(
    conn: sqlite3.Connection, message_id: int, deliveries: Sequence[NewDelivery], now: float
) -> None:
    """Append deliveries for an existing message."""
    with atomic(conn):
        insert_deliveries(conn, message_id, deliveries, now)


def next_batch(conn: sqlite3.Connection, dest_room: str, limit: int) -> list[OutboxItem]:
    """The oldest ``limit`` rows of one room's queue."""
    return [OutboxItem(*row) for row in conn.execute(_NEXT_BATCH, (dest_room, limit))]


def next_batches(
    conn: sqlite3.Connection, wanted: list[tuple[str, int]]
) -> list[list[OutboxItem]]:
    """:func:`next_batch` for each ``(room, limit)``, in one trip."""
    return [next_batch(conn, room, limit) for room, limit in wanted]


def complete(
    conn: sqlite3.Connection,
    item: OutboxItem,
    remote_id: str | None,
    now: float,
    next_limit: int = 0,
) -> list[OutboxItem]:
    """Drop a settled row and record (message) or forget (delete) the copy; then, if
    ``next_limit``, read the room's next rows in the same trip (the dispatcher's hot path)."""
    _complete(conn, item, remote_id, now)
    return next_batch(conn, item.dest_room, next_limit) if next_limit else []


def _complete(
    conn: sqlite3.Connection, item: OutboxItem, remote_id: str | None, now: float
) -> None:
    with atomic(conn):
        conn.execute(_DELETE_ITEM, (item.id,))
        if item.kind == "message" and remote_id is not None:
            conn.execute(_DROP_STALE_COPY, (item.dest_room, remote_id, item.message_id))
            conn.execute(_UPSERT_COPY, (item.message_id, item.dest_room, remote_id, now))
        elif item.kind == "delete":
            conn.execute(_FORGET_COPY, (item.message_id, item.dest_room))


def dead_letter(conn: sqlite3.Connection, item: OutboxItem, reason: str, now: float) -> bool:
    """Move a row to the dead letters; False if it was already settled."""
    with atomic(conn):
        if conn.execute(_DELETE_ITEM, (item.id,)).rowcount == 0:
            return False  # already settled: never record one delivery twice
        conn.execute(
            _INSERT_DEAD,
            (item.message_id, item.dest_room, item.kind, item.payload, item.attempts, reason,
             now, item.deadline, item.created_at),
        )  # fmt: skip
        return True


def retry_dead(conn: sqlite3.Connection, ids: Sequence[int] | None, now: float) -> int:
    """Move dead letters back to the queues' tails; return how many."""
    with atomic(conn):
        if ids is None:
            rows = conn.execute(f"SELECT {_DEAD_COLUMNS} FROM dead_letters ORDER BY id").fetchall()
        else:
            one = f"SELECT {_DEAD_COLUMNS} FROM dead_letters WHERE id = ?"
            found = (conn.execute(one, (i,)).fetchone() for i in sorted(set(ids)))
            rows = [row for row in found if row is not None]
        fresh = []
        for _id, message_id, dest_room, kind, payload, deadline, created_at in rows:
            # The retried delivery gets the same grace it had the first time, counted from
            # now; keeping the old deadline would dead-letter it again at once.
            if deadline is not None:
                deadline = now + max(0.0, deadline - created_at)
            fresh.append((message_id, dest_room, kind, payload, deadline, now))
        conn.executemany(_INSERT_OUTBOX, fresh)
        conn.executemany("DELETE FROM dead_letters WHERE id = ?", [(row[0],) for row in rows])
        return len(rows)


def configure(conn: sqlite3.Connection) -> str:
    """Set the connection's pragmas; return the journal mode in effect."""
    # busy_timeout first, so that switching to WAL waits for another process's lock.
    conn.execute("PRAGMA busy_timeout = 5000")
    conn.execute("PRAGMA foreign_keys = ON")
    mode = str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
    conn.execute("PRAGMA synchronous = NORMAL")
    return mode


def check_deliveries(deliveries: Sequence[NewDelivery]) -> None:
    """Refuse deliveries the dispatcher could not handle (StoreError)."""
    for d in deliveries:
        if d.kind not in DELIVERY_KINDS:
            raise StoreError(f"delivery to {d.dest_room}: unknown kind {d.kind!r}")
        if not isinstance(d.payload, str):
            raise StoreError(f"delivery to {d.dest_room}: payload must be JSON text")
