"""The SQLite store's schema as numbered, append-only migrations.

Each migration runs in its own transaction and sets ``PRAGMA user_version`` to its number
in that same transaction, so a crash mid-upgrade leaves the database at the last complete
version. Never edit or reorder a released migration: append a new one. A database whose
version is above :data:`LATEST` was written by a newer bridgebot and is refused, because
this code cannot know what the newer schema means.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

import aiosqlite

from bridgebot.errors import StoreError

__all__ = ["LATEST", "MIGRATIONS", "Migration", "migrate", "newer_database_message"]

log = logging.getLogger("bridgebot.store")


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema step: ``statements`` bring a database from ``version - 1`` to ``version``."""

    version: int
    name: str
    statements: tuple[str, ...]


# Why these indexes: every lookup the Hub and the dispatcher make per message is served by
# an index, because the outbox is on the hot path. Comments on each say which call uses it.
_V1 = (
    # The origin event of every accepted message; (room, remote_id) dedupes redelivered
    # events and serves find_message/remote_id_in for origins.
    """
    CREATE TABLE messages (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        room        TEXT NOT NULL,
        remote_id   TEXT NOT NULL,
        author_ref  TEXT NOT NULL,
        bridge      TEXT,
        ts          REAL NOT NULL,
        accepted_at REAL NOT NULL,
        UNIQUE (room, remote_id)
    )
    """,
    # One copy per message per destination room: the primary key serves remote_id_in and
    # copies_of; the unique (room, remote_id) index serves is_copy and find_message.
    """
    CREATE TABLE copies (
        message_id INTEGER NOT NULL REFERENCES messages (id),
        room       TEXT NOT NULL,
        remote_id  TEXT NOT NULL,
        created_at REAL NOT NULL,
        PRIMARY KEY (message_id, room)
    ) WITHOUT ROWID
    """,
    "CREATE UNIQUE INDEX copies_by_remote ON copies (room, remote_id)",
    # Edits, deletes and reactions already accepted, so a redelivered one is not relayed twice.
    """
    CREATE TABLE followups (
        kind        TEXT NOT NULL,
        room        TEXT NOT NULL,
        remote_id   TEXT NOT NULL,
        message_id  INTEGER NOT NULL REFERENCES messages (id),
        accepted_at REAL NOT NULL,
        PRIMARY KEY (kind, room, remote_id)
    ) WITHOUT ROWID
    """,
    # AUTOINCREMENT so an id is never reused: the dispatcher holds OutboxItems across
    # awaits, and a stale id must never address a newer row.
    """
    CREATE TABLE outbox (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        message_id INTEGER NOT NULL REFERENCES messages (id),
        dest_room  TEXT NOT NULL,
        kind       TEXT NOT NULL,
        payload    TEXT NOT NULL,
        attempts   INTEGER NOT NULL DEFAULT 0,
        not_before REAL NOT NULL DEFAULT 0,
        deadline   REAL,
        created_at REAL NOT NULL
    )
    """,
    # next_batch (one FIFO per room, by id), pending_rooms and queue_depths.
    "CREATE INDEX outbox_by_room ON outbox (dest_room, id)",
    """
    CREATE TABLE dead_letters (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        message_id INTEGER NOT NULL REFERENCES messages (id),
        dest_room  TEXT NOT NULL,
        kind       TEXT NOT NULL,
        payload    TEXT NOT NULL,
        attempts   INTEGER NOT NULL,
        reason     TEXT NOT NULL,
        failed_at  REAL NOT NULL,
        deadline   REAL,
        created_at REAL NOT NULL
    )
    """,
    """
    CREATE TABLE audit (
        id     INTEGER PRIMARY KEY AUTOINCREMENT,
        ts     REAL NOT NULL,
        actor  TEXT NOT NULL,
        room   TEXT,
        action TEXT NOT NULL,
        detail TEXT NOT NULL
    )
    """,
    """
    CREATE TABLE consent (
        author_ref TEXT PRIMARY KEY,
        consented  INTEGER NOT NULL CHECK (consented IN (0, 1)),
        updated_at REAL NOT NULL
    )
    """,
    """
    CREATE TABLE overrides (
        room  TEXT NOT NULL,
        key   TEXT NOT NULL,
        value TEXT NOT NULL,
        actor TEXT NOT NULL,
        ts    REAL NOT NULL,
        PRIMARY KEY (room, key)
    )
    """,
    """
    CREATE TABLE cursors (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )
    """,
)

# Version 2: what facilitators and admins do in chat and on the command line.
_V2 = (
    # One row per announcement, from `!announce` or `bridgebot announce`. A scheduled one
    # waits here (state "scheduled") until due_at; then the running bridge queues it
    # (state "queued", message_id and rooms set); a chat announcement's settled summary
    # moves it to "reported". The id is what `bridgebot announce --status ID` takes.
    """
    CREATE TABLE announcements (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        created_at  REAL NOT NULL,
        author_ref  TEXT NOT NULL,
        author_name TEXT NOT NULL,
        text        TEXT NOT NULL,
        bridge      TEXT,
        origin_room TEXT NOT NULL,
        origin_id   TEXT,
        due_at      REAL,
        state       TEXT NOT NULL
                    CHECK (state IN ('scheduled', 'queued', 'reported', 'cancelled')),
        message_id  INTEGER REFERENCES messages (id),
        rooms       TEXT NOT NULL DEFAULT '[]'
    )
    """,
    # due_announcements and unreported_announcements.
    "CREATE INDEX announcements_by_state ON announcements (state, due_at)",
    # Rooms linked into (linked = 1) or unlinked from (linked = 0) a bridge by chat command,
    # on top of bot.toml's [[bridges.rooms]].
    """
    CREATE TABLE links (
        bridge TEXT NOT NULL,
        room   TEXT NOT NULL,
        linked INTEGER NOT NULL CHECK (linked IN (0, 1)),
        actor  TEXT NOT NULL,
        ts     REAL NOT NULL,
        PRIMARY KEY (bridge, room)
    )
    """,
    # Messages held for consent (opt-in rooms): the event, and the rooms it would reach.
    """
    CREATE TABLE held (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        author_ref TEXT NOT NULL,
        message_id INTEGER NOT NULL REFERENCES messages (id),
        event      TEXT NOT NULL,
        dests      TEXT NOT NULL,
        created_at REAL NOT NULL
    )
    """,
    "CREATE INDEX held_by_author ON held (author_ref, id)",
    # Authors already told how consent works (told once, whichever room they wrote in).
    """
    CREATE TABLE consent_asked (
        author_ref TEXT PRIMARY KEY,
        room       TEXT NOT NULL,
        asked_at   REAL NOT NULL
    )
    """,
    # Messages by one author, for deleting their copies on `!bridge consent no`.
    "CREATE INDEX messages_by_author ON messages (author_ref, id)",
    # An announcement's report: which of its deliveries failed.
    "CREATE INDEX dead_letters_by_message ON dead_letters (message_id)",
)

# Version 3: pruning the id map ([store] keep_days, bridgebot/store/sqlite_prune.py) finds old
# messages by age, checks the outbox for each, and deletes their follow-ups.
_V3 = (
    "CREATE INDEX messages_by_age ON messages (accepted_at)",
    "CREATE INDEX outbox_by_message ON outbox (message_id)",
    "CREATE INDEX followups_by_message ON followups (message_id)",
)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "messages, copies, followups, outbox, dead letters, audit, consent", _V1),
    Migration(2, "announcements, links, held messages, consent explanations", _V2),
    Migration(3, "indexes for pruning the id map", _V3),
)

#: The schema version this code writes; a database above it is refused.
LATEST = MIGRATIONS[-1].version


def newer_database_message(path: str, found: int, latest: int = LATEST) -> str:
    """The refusal an admin sees when the database was written by a newer bridgebot."""
    return (
        f"store {path}: the database is at schema version {found}, but this bridgebot "
        f"only knows versions up to {latest}; it was written by a newer bridgebot. "
        "Run that newer version again, or point [store] path at a backup made by this "
        "version. Do not lower user_version by hand: the newer schema would be misread."
    )


async def _user_version(db: aiosqlite.Connection) -> int:
    for row in await db.execute_fetchall("PRAGMA user_version"):
        return int(row[0])
    return 0


async def migrate(
    db: aiosqlite.Connection,
    path: str,
    transaction: Callable[[], AbstractAsyncContextManager[aiosqlite.Connection]],
    migrations: Sequence[Migration] = MIGRATIONS,
) -> None:
    """Bring the database at ``path`` up to the last of ``migrations``, one transaction each.

    ``db`` is read before any write lock is taken; ``transaction`` opens ``BEGIN IMMEDIATE
    … COMMIT`` (rolled back on error) and gives the connection to write through. Raises
    StoreError for a database newer than ``migrations`` or one that cannot be read or
    upgraded.
    """
    latest = migrations[-1].version if migrations else 0
    try:
        found = await _user_version(db)
        if found > latest:
            raise StoreError(newer_database_message(path, found, latest))
        if found == latest:
            return  # the common start: no write lock taken
        for step in migrations:
            async with transaction() as tx:
                # Re-read under the write lock: another process may have upgraded meanwhile.
                current = await _user_version(tx)
                if current > latest:
                    raise StoreError(newer_database_message(path, current, latest))
                if current >= step.version:
                    continue
                for statement in step.statements:
                    await tx.execute(statement)
                # An int from our own table, never input: PRAGMA takes no parameters.
                await tx.execute(f"PRAGMA user_version = {int(step.version)}")
            log.info("store %s: migrated to schema version %d (%s)", path, step.version, step.name)
    except sqlite3.Error as exc:
        raise StoreError(
            f"store {path}: cannot open or migrate the database: {exc}. Check that [store] "
            "path names a bridgebot SQLite database that is readable and writable."
        ) from exc
