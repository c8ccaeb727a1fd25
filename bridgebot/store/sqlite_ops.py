"""The SQLite store's SQL for the id map and the outbox, apart from the relay's hot-path
writes (:mod:`.sqlite_relay`): plain statements, the rarer writes of several statements
(dead letters, retries: async functions in :func:`~.sqlite_tx.atomic`), and the outbox
reads, those of rooms that ask together in one statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import aiosqlite

from bridgebot.store.records import OutboxItem
from bridgebot.store.sqlite_relay import CONNECTION_SETUP, NEXT_BATCH, OUTBOX_FROM_JSON
from bridgebot.store.sqlite_tx import Plan, Step, atomic

# -- SQL, kept as constants so sqlite3's statement cache reuses the prepared statements ----

_ADD_DELIVERIES = OUTBOX_FROM_JSON.format(message_id="?1", now="?2", deliveries="?3")
_INSERT_OUTBOX = """
    INSERT INTO outbox (message_id, dest_room, kind, payload, attempts, not_before, deadline,
                        created_at)
    VALUES (?, ?, ?, ?, 0, 0, ?, ?)
"""
_DELETE_ITEM = "DELETE FROM outbox WHERE id = ?"
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

#: Rooms read by one statement of a group read (SQLite allows 500 terms in a compound
#: SELECT); a bigger group takes more trips.
ROOMS_PER_READ = 100


# -- plain statements -----------------------------------------------------------------------


async def fetch_one(db: aiosqlite.Connection, sql: str, params: Sequence[Any]) -> Any:
    """The first column of the first row, or None."""
    for row in await db.execute_fetchall(sql, params):
        return row[0]
    return None


async def fetch_all(db: aiosqlite.Connection, sql: str, params: Sequence[Any]) -> list[Any]:
    """Every row."""
    return list(await db.execute_fetchall(sql, params))


def change(sql: str, params: Sequence[Any]) -> Plan[int]:
    """A write of one statement; its result is the rows it changed."""
    # One statement is atomic by itself: alone it is its own transaction, and in a group a
    # failing statement is undone by SQLite without aborting the others.
    return Plan((Step(sql, params),))


def returning(sql: str, params: Sequence[Any]) -> Plan[list[Any]]:
    """A write of one statement with RETURNING; its result is the rows returned."""
    return Plan((Step(sql, params, rows=True),))


async def configure(db: aiosqlite.Connection) -> str:
    """Set the connection's pragmas; return the journal mode in effect."""
    # busy_timeout first, so that switching to WAL waits for another process's lock.
    await db.execute("PRAGMA busy_timeout = 5000")
    await db.execute("PRAGMA foreign_keys = ON")
    mode = str(await fetch_one(db, "PRAGMA journal_mode = WAL", ()))
    await db.execute("PRAGMA synchronous = NORMAL")
    return mode


async def create_connection_objects(db: aiosqlite.Connection) -> None:
    """The TEMP table, views and triggers of :data:`.sqlite_relay.CONNECTION_SETUP`."""
    for statement in CONNECTION_SETUP:
        await db.execute(statement)


def add_deliveries(message_id: int, deliveries: str, now: float) -> Plan[int]:
    """Append deliveries (JSON, :func:`.sqlite_relay.deliveries_json`) for an existing
    message, in one statement."""
    return change(_ADD_DELIVERIES, (message_id, now, deliveries))


# -- writes of several statements, off the hot path -----------------------------------------


async def insert_deliveries(
    db: aiosqlite.Connection, message_id: int, deliveries: str, now: float
) -> None:
    """Append deliveries (JSON) for ``message_id``, in one statement."""
    await db.execute(_ADD_DELIVERIES, (message_id, now, deliveries))


async def dead_letter(db: aiosqlite.Connection, item: OutboxItem, reason: str, now: float) -> bool:
    """Move a row to the dead letters; False if it was already settled."""
    async with atomic(db):
        cursor = await db.execute(_DELETE_ITEM, (item.id,))
        if cursor.rowcount == 0:
            return False  # already settled: never record one delivery twice
        await db.execute(
            _INSERT_DEAD,
            (item.message_id, item.dest_room, item.kind, item.payload, item.attempts, reason,
             now, item.deadline, item.created_at),
        )  # fmt: skip
        return True


async def retry_dead(db: aiosqlite.Connection, ids: Sequence[int] | None, now: float) -> int:
    """Move dead letters back to the queues' tails; return how many."""
    async with atomic(db):
        if ids is None:
            sql = f"SELECT {_DEAD_COLUMNS} FROM dead_letters ORDER BY id"
            rows = await fetch_all(db, sql, ())
        else:
            wanted = sorted(set(ids))
            rows = []
            for start in range(0, len(wanted), 500):  # stay below SQLite's parameter limit
                chunk = wanted[start : start + 500]
                marks = ", ".join("?" for _ in chunk)
                sql = f"SELECT {_DEAD_COLUMNS} FROM dead_letters WHERE id IN ({marks}) ORDER BY id"
                rows += await fetch_all(db, sql, chunk)
        fresh = []
        for _id, message_id, dest_room, kind, payload, deadline, created_at in rows:
            # The retried delivery gets the same grace it had the first time, counted from
            # now; keeping the old deadline would dead-letter it again at once.
            if deadline is not None:
                deadline = now + max(0.0, deadline - created_at)
            fresh.append((message_id, dest_room, kind, payload, deadline, now))
        if rows:
            await db.executemany(_INSERT_OUTBOX, fresh)
            await db.executemany(
                "DELETE FROM dead_letters WHERE id = ?", [(row[0],) for row in rows]
            )
        return len(rows)


# -- reads of the outbox ----------------------------------------------------------------------


async def next_batch(db: aiosqlite.Connection, dest_room: str, limit: int) -> list[OutboxItem]:
    """The oldest ``limit`` rows of one room's queue."""
    rows = await db.execute_fetchall(NEXT_BATCH, (dest_room, limit))
    return [OutboxItem(*row) for row in rows]


@lru_cache(maxsize=ROOMS_PER_READ)
def _next_batches_sql(rooms: int) -> str:
    # A compound SELECT of one index search per room; the first column says which room
    # asked (a room may ask twice in one group).
    one = "SELECT * FROM (SELECT ? AS asker, " + NEXT_BATCH.removeprefix("SELECT ") + ")"
    return "\nUNION ALL\n".join([one] * rooms)


def trips_for(rooms: int) -> int:
    """The trips :func:`next_batches` takes for ``rooms`` rooms."""
    return -(-rooms // ROOMS_PER_READ)


async def next_batches(
    db: aiosqlite.Connection, wanted: list[tuple[str, int]]
) -> list[list[OutboxItem]]:
    """:func:`next_batch` for each ``(room, limit)``, in one statement per
    :data:`ROOMS_PER_READ` rooms."""
    if len(wanted) == 1:
        return [await next_batch(db, *wanted[0])]
    found: list[list[OutboxItem]] = [[] for _ in wanted]
    for start in range(0, len(wanted), ROOMS_PER_READ):
        chunk = wanted[start : start + ROOMS_PER_READ]
        params = [p for i, (room, limit) in enumerate(chunk, start) for p in (i, room, limit)]
        for asker, *row in await db.execute_fetchall(_next_batches_sql(len(chunk)), params):
            found[asker].append(OutboxItem(*row))
    for rows in found:
        rows.sort(key=lambda item: item.id)  # SQL does not promise a compound's order
    return found
