"""The SQLite store's SQL for the relay's hot path: the id map and the outbox.

Each hot-path write is one statement (a :class:`~.sqlite_tx.Plan`), so that it is one
round trip to aiosqlite's worker thread and atomic by itself, with no transaction or
savepoint of its own. Where a write touches several tables, the statement is an INSERT
into an empty TEMP view whose INSTEAD OF trigger does the work (:data:`CONNECTION_SETUP`,
created on every connection: nothing of it is stored in the database file, so the schema
and its version are untouched). A trigger refuses a duplicate with ``RAISE(ABORT, …)``,
which undoes that statement only. Deliveries travel as one JSON parameter
(:func:`deliveries_json`) that the statement unpacks with ``json_each``.

The rarer writes of several statements (dead letters, retries) are async functions that
wrap them in :func:`~.sqlite_tx.atomic`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import aiosqlite

from bridgebot.errors import StoreError
from bridgebot.store.records import NewDelivery, OutboxItem
from bridgebot.store.sqlite_tx import Outcome, Plan, Step, atomic

# -- per-connection SQL: views whose INSTEAD OF triggers are the multi-table writes --------

#: The refusal of an event accepted before (or of our own copy coming back).
ALREADY = "bridgebot: already accepted"

# Outbox rows from the JSON array [[dest_room, kind, payload, deadline], ...], in order;
# {message_id} and {now} are SQL expressions.
_OUTBOX_FROM_JSON = """
    INSERT INTO outbox (message_id, dest_room, kind, payload, attempts, not_before,
                        deadline, created_at)
    SELECT {message_id}, json_extract(value, '$[0]'), json_extract(value, '$[1]'),
           json_extract(value, '$[2]'), 0, 0, json_extract(value, '$[3]'), {now}
    FROM json_each({deliveries}) ORDER BY key
"""

_ACCEPT_TRIGGER = """
    CREATE TEMP TRIGGER accept_message INSTEAD OF INSERT ON accepting
    BEGIN
        SELECT RAISE(ABORT, '{already}')
        WHERE EXISTS (SELECT 1 FROM messages WHERE room = NEW.room AND remote_id = NEW.remote_id)
           OR EXISTS (SELECT 1 FROM copies WHERE room = NEW.room AND remote_id = NEW.remote_id);
        INSERT INTO messages (room, remote_id, author_ref, bridge, ts, accepted_at)
        VALUES (NEW.room, NEW.remote_id, NEW.author_ref, NEW.bridge, NEW.ts, NEW.accepted_at);
        {outbox};
    END
""".format(
    already=ALREADY,
    outbox=_OUTBOX_FROM_JSON.format(
        message_id="(SELECT id FROM messages WHERE room = NEW.room AND remote_id = NEW.remote_id)",
        now="NEW.accepted_at",
        deliveries="NEW.deliveries",
    ),
)
_FOLLOWUP_TRIGGER = """
    CREATE TEMP TRIGGER accept_followup INSTEAD OF INSERT ON following
    BEGIN
        SELECT RAISE(ABORT, '{already}')
        WHERE EXISTS (SELECT 1 FROM followups
                      WHERE kind = NEW.kind AND room = NEW.room AND remote_id = NEW.remote_id);
        INSERT INTO followups (kind, room, remote_id, message_id, accepted_at)
        VALUES (NEW.kind, NEW.room, NEW.remote_id, NEW.message_id, NEW.accepted_at);
        {outbox};
    END
""".format(
    already=ALREADY,
    outbox=_OUTBOX_FROM_JSON.format(
        message_id="NEW.message_id", now="NEW.accepted_at", deliveries="NEW.deliveries"
    ),
)

CONNECTION_SETUP = (
    # accept_message: dedupe, refuse echoes of our own copies, insert the message and its
    # deliveries.
    """
    CREATE TEMP VIEW accepting (room, remote_id, author_ref, bridge, ts, accepted_at,
                                deliveries)
    AS SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL WHERE 0
    """,
    _ACCEPT_TRIGGER,
    # accept_followup: dedupe on (kind, room, remote_id), insert it and its deliveries.
    """
    CREATE TEMP VIEW following (kind, room, remote_id, message_id, accepted_at, deliveries)
    AS SELECT NULL, NULL, NULL, NULL, NULL, NULL WHERE 0
    """,
    _FOLLOWUP_TRIGGER,
    # complete: drop the settled row; record the copy of a sent message, forget the copy a
    # delete removed. INSERT OR REPLACE also drops another message's copy holding the same
    # remote id in that room: a network may reuse an id (a number freed by a delete), the
    # newest copy wins, and otherwise the unique (room, remote_id) index would refuse the
    # insert and stall that room's queue. A re-sent copy keeps its first created_at.
    """
    CREATE TEMP VIEW settled (item_id, message_id, room, remote_id, kind, at)
    AS SELECT NULL, NULL, NULL, NULL, NULL, NULL WHERE 0
    """,
    """
    CREATE TEMP TRIGGER settle_delivery INSTEAD OF INSERT ON settled
    BEGIN
        DELETE FROM outbox WHERE id = NEW.item_id;
        INSERT OR REPLACE INTO copies (message_id, room, remote_id, created_at)
        SELECT NEW.message_id, NEW.room, NEW.remote_id, coalesce(
            (SELECT created_at FROM copies WHERE message_id = NEW.message_id AND room = NEW.room),
            NEW.at)
        WHERE NEW.kind = 'message' AND NEW.remote_id IS NOT NULL;
        DELETE FROM copies
        WHERE NEW.kind = 'delete' AND message_id = NEW.message_id AND room = NEW.room;
    END
    """,
)

# -- SQL, kept as constants so sqlite3's statement cache reuses the prepared statements ----

_ACCEPT = """
    INSERT INTO accepting (room, remote_id, author_ref, bridge, ts, accepted_at, deliveries)
    VALUES (?, ?, ?, ?, ?, ?, ?)
"""
_MESSAGE_ID = "SELECT id FROM messages WHERE room = ? AND remote_id = ?"
_FOLLOWUP = """
    INSERT INTO following (kind, room, remote_id, message_id, accepted_at, deliveries)
    VALUES (?, ?, ?, ?, ?, ?)
"""
_ADD_DELIVERIES = _OUTBOX_FROM_JSON.format(message_id="?1", now="?2", deliveries="?3")
_SETTLE = """
    INSERT INTO settled (item_id, message_id, room, remote_id, kind, at)
    VALUES (?, ?, ?, ?, ?, ?)
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
    """The TEMP views and triggers of :data:`CONNECTION_SETUP`, on this connection."""
    for statement in CONNECTION_SETUP:
        await db.execute(statement)


# -- writes of the hot path -----------------------------------------------------------------


def deliveries_json(deliveries: Sequence[NewDelivery]) -> str:
    """Deliveries as the one JSON parameter the outbox inserts unpack."""
    rows = [(d.dest_room, d.kind, d.payload, d.deadline) for d in deliveries]
    try:
        return json.dumps(rows, ensure_ascii=False, allow_nan=False)
    except ValueError as exc:
        raise StoreError(f"deliveries {rows!r}: deadlines must be finite numbers") from exc


def _already(error: BaseException) -> bool:
    return isinstance(error, sqlite3.IntegrityError) and str(error) == ALREADY


def _accepted(outcomes: list[Outcome]) -> int | None:
    (inserted, error), (found, rows) = outcomes
    if not inserted:
        if _already(error):
            return None
        raise error
    if not found:
        raise rows
    return int(rows[0][0])


def accept_message(
    row: tuple[str, str, str, str | None, float, float], deliveries: str
) -> Plan[int | None]:
    """Insert an origin message and its deliveries (JSON); None if it is a duplicate or
    one of our own copies coming back (an echo; checked here to save the Hub a trip)."""
    room, remote_id = row[0], row[1]
    return Plan(
        (Step(_ACCEPT, (*row, deliveries)), Step(_MESSAGE_ID, (room, remote_id), rows=True)),
        _accepted,
    )


def _followed(outcomes: list[Outcome]) -> bool:
    ok, value = outcomes[0]
    if ok:
        return True
    if _already(value):
        return False
    raise value


def accept_followup(row: tuple[str, str, str, int, float], deliveries: str) -> Plan[bool]:
    """Insert an edit/delete/reaction and its deliveries (JSON); False if a duplicate."""
    return Plan((Step(_FOLLOWUP, (*row, deliveries)),), _followed)


def add_deliveries(message_id: int, deliveries: str, now: float) -> Plan[int]:
    """Append deliveries (JSON) for an existing message."""
    return change(_ADD_DELIVERIES, (message_id, now, deliveries))


def _items(outcomes: list[Outcome]) -> list[OutboxItem]:
    for ok, value in outcomes:
        if not ok:
            raise value
    return [OutboxItem(*row) for row in outcomes[1][1]] if len(outcomes) > 1 else []


def complete(
    item: OutboxItem, remote_id: str | None, now: float, next_limit: int = 0
) -> Plan[list[OutboxItem]]:
    """Drop a settled row and record (message) or forget (delete) the copy; then, if
    ``next_limit``, read the room's next rows in the same round trip (the dispatcher's hot
    path)."""
    settle = Step(_SETTLE, (item.id, item.message_id, item.dest_room, remote_id, item.kind, now))
    if not next_limit:
        return Plan((settle,), _items)
    return Plan((settle, Step(_NEXT_BATCH, (item.dest_room, next_limit), rows=True)), _items)


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
    rows = await db.execute_fetchall(_NEXT_BATCH, (dest_room, limit))
    return [OutboxItem(*row) for row in rows]


@lru_cache(maxsize=ROOMS_PER_READ)
def _next_batches_sql(rooms: int) -> str:
    # A compound SELECT of one index search per room; the first column says which room
    # asked (a room may ask twice in one group).
    one = (
        f"SELECT * FROM (SELECT ? AS asker, {_ITEM_COLUMNS} FROM outbox "
        "WHERE dest_room = ? ORDER BY id LIMIT ?)"
    )
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
